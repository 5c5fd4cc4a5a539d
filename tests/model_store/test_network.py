"""Network shapes, configs, checkpoint integrity and ONNX parity."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from model_store.network import (
    CONFIGS,
    CheckpointError,
    CheckpointNotFound,
    NetworkInputs,
    get_config,
    load_network,
    prepare_masks,
    save_checkpoint,
)
from model_store.network.geometry import project_full, triangulate
from model_store.network.onnx_export import GRAPH_VERSION, OnnxKinematicsNet, example_inputs, export_onnx
from tests.model_store.nets import tiny_net


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_output_shapes_and_ranges():
    net = tiny_net()
    inp = example_inputs(net, batch=2)
    out = net(inp)
    assert out.sincos.shape == (2, net.config.window, 36, 2)
    assert out.scales.shape == (2, 22, 3) and out.frame_scales.shape == (2, net.config.window, 22, 3)
    torch.testing.assert_close(out.sincos.norm(dim=-1), torch.ones(2, net.config.window, 36), atol=1e-3, rtol=0)
    assert out.angles.abs().max() <= torch.pi
    assert ((out.scales > 0.6) & (out.scales < 1.4)).all()


def test_frame_features_then_frame_latents_are_the_encoder():
    """The split the CPU refit caches at: features of shape [B, T, P, 3 + 2C + 2] and [B, T, 33·4],
    then the point/frame MLPs give exactly the per-frame latents."""
    net = tiny_net().eval()
    inp = example_inputs(net, batch=2)
    with torch.no_grad():
        points, extras = net.frame_features(inp)
        cfg = net.config
        assert points.shape == (2, cfg.window, cfg.n_points, 3 + 2 * cfg.hourglass_channels + 2)
        assert extras.shape == (2, cfg.window, cfg.n_landmarks * 4)
        torch.testing.assert_close(net.frame_latents(points, extras), net.encode_frames(inp), atol=0, rtol=0)


def test_paper_config_has_the_seed_sizes():
    p = CONFIGS["paper"]
    assert (p.hourglass_stacks, p.hourglass_channels, p.input_size, p.n_points, p.window) == (4, 256, 256, 500, 64)


def test_unknown_config_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown network config"):
        get_config("huge")


def test_triangulation_recovers_points():
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(1, 5, 3, generator=g) - 0.5 + torch.tensor([0.0, 1.0, 0.0])
    k = torch.tensor([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]]).expand(1, 2, 3, 3)
    c, s = torch.cos(torch.tensor(1.2)), torch.sin(torch.tensor(1.2))
    r = torch.stack([torch.eye(3), torch.tensor([[c, 0, -s], [0, 1, 0], [s, 0, c]])])[None]
    t = torch.tensor([[0.0, -1.0, 4.0], [0.0, -1.0, 4.5]])[None]
    px = project_full(pts[:, None], k, r, t)
    est = triangulate(px, torch.ones(1, 2, 5), k, r, t)
    torch.testing.assert_close(est, pts, atol=1e-3, rtol=0)


def test_prepare_masks_downsamples_uint8():
    m = torch.zeros(3, 256, 256, dtype=torch.uint8)
    m[:, 64:192, 64:192] = 255
    out = prepare_masks(m, 64)
    assert out.shape == (3, 64, 64) and out.dtype == torch.float32
    assert (out[:, 32, 32] == 1.0).all() and (out[:, 0, 0] == 0.0).all()


def test_heatmaps_hold_no_subnormal_floats(monkeypatch):
    """Subnormals slow x86 convolutions many times over; the floor removes them and nothing else."""
    from model_store.network import model as model_module

    kp = torch.rand(4, 33, 3) * torch.tensor([256.0, 256.0, 1.0])
    kp[0, 0, :2] = torch.tensor([-40.0, 300.0])  # far outside the crop: only tail values in the map
    heat = model_module.render_heatmaps(kp, 64, 256, sigma=1.5)
    tiny = torch.finfo(torch.float32).tiny
    assert not ((heat != 0) & (heat.abs() < tiny)).any()
    floor = model_module.HEATMAP_FLOOR
    monkeypatch.setattr(model_module, "HEATMAP_FLOOR", 0.0)  # the maps without the floor (all values ≥ 0)
    unfloored = model_module.render_heatmaps(kp, 64, 256, sigma=1.5)
    assert ((unfloored != 0) & (unfloored.abs() < tiny)).any()  # the case the floor exists for
    kept = unfloored > floor
    assert torch.equal(heat[kept], unfloored[kept]) and (heat[~kept] == 0).all()


def test_checkpoint_round_trip_and_integrity(tmp_path):
    net = tiny_net()
    rec = save_checkpoint(net, tmp_path / "ck.safetensors", {"metrics": {"mae_deg": 1.0}})
    manifest = json.loads((tmp_path / "ck.json").read_text())
    assert manifest["sha256"] == rec.sha256 and manifest["config"]["name"] == "tiny"
    loaded, record = load_network(tmp_path / "ck.json")
    inp = example_inputs(net)
    torch.testing.assert_close(loaded(inp).sincos, net(inp).sincos)
    assert record.metrics == {"mae_deg": 1.0}
    with pytest.raises(CheckpointError, match="trained with config 'tiny'"):
        load_network(tmp_path / "ck.json", expected_config="small")
    data = bytearray(rec.weights.read_bytes())
    data[-1] ^= 0xFF
    rec.weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_network(tmp_path / "ck.json")


def test_missing_checkpoint_names_the_training_command(tmp_path):
    with pytest.raises(CheckpointNotFound, match=r"training\.train --config small"):
        load_network(tmp_path / "none.json")


def test_onnx_matches_torch(tmp_path):
    net = tiny_net()
    path = export_onnx(net, tmp_path / "net.onnx")
    inp = example_inputs(net, batch=2)
    with torch.no_grad():
        ref = net(inp)
    got = OnnxKinematicsNet(path)(inp)
    assert float((got.angles - ref.angles).abs().max()) <= 1e-3
    assert float((got.scales - ref.scales).abs().max()) <= 1e-4


def test_predictor_torch_and_onnx_backends_agree(tmp_path):
    from model_store.network.predictor import Predictor

    net = tiny_net()
    save_checkpoint(net, tmp_path / "ck.safetensors", {})
    inp = example_inputs(net)
    masks256 = (torch.nn.functional.interpolate(inp.masks[0], size=(256, 256)) * 255).byte()[None]
    window = inp.with_masks(masks256)  # the 256² uint8 crops: the predictor prepares them
    p_torch = Predictor(tmp_path / "ck.json", backend="torch").predict(window)
    p_onnx = Predictor(tmp_path / "ck.json", backend="onnx").predict(window)
    assert p_torch.angles.shape == (net.config.window, 36) and p_torch.scales.shape == (22, 3)
    assert abs(p_torch.angles - p_onnx.angles).max() <= 1e-3
    with pytest.raises(ValueError, match="backend"):
        Predictor(tmp_path / "ck.json", backend="tensorrt")


def test_predictor_onnx_graph_is_exported_once_and_short_windows_run_on_torch(tmp_path):
    from model_store.network.predictor import Predictor

    net = tiny_net()
    save_checkpoint(net, tmp_path / "ck.safetensors", {})
    first = Predictor(tmp_path / "ck.json", backend="onnx")
    assert first.backend == "onnx"
    cached = first._onnx.path
    assert cached.name.endswith(f".g{GRAPH_VERSION}.onnx")  # graphs of an older export are not reused
    mtime = cached.stat().st_mtime_ns
    second = Predictor(tmp_path / "ck.json", backend="onnx")
    assert second.backend == "onnx" and second._onnx.path == cached
    assert cached.stat().st_mtime_ns == mtime  # exported once, then reused
    masks, kp, crops, k, r, t = (x[0].numpy() for x in example_inputs(net).graph_tensors())
    short = second.predict(NetworkInputs.from_arrays(masks[:3], kp[:3], crops[:3], k, r, t))  # shorter: torch
    assert short.angles.shape == (3, 36)
    window = NetworkInputs.from_arrays(masks, kp, crops, k, r, t)
    full_onnx = second.predict(window)
    full_torch = Predictor(tmp_path / "ck.json", backend="torch").predict(window)
    assert abs(full_onnx.angles - full_torch.angles).max() <= 1e-3


def test_predictor_auto_measures_once_and_keeps_the_faster_backend(tmp_path, monkeypatch):
    from model_store.network import predictor as predictor_module

    monkeypatch.setattr(predictor_module, "_AUTO_CHOICE", {})
    monkeypatch.setattr(predictor_module, "CACHE_DIR", tmp_path / "cache")
    net = tiny_net()
    save_checkpoint(net, tmp_path / "ck.safetensors", {})
    first = predictor_module.Predictor(tmp_path / "ck.json")
    times = first.backend_seconds
    assert set(times) == {"onnx", "torch"} and min(times.values()) > 0
    assert first.backend == min(times, key=times.get)
    again = predictor_module.Predictor(tmp_path / "ck.json")  # same process: the choice is remembered
    assert again.backend == first.backend and again.backend_seconds == {}
    monkeypatch.setattr(predictor_module, "_AUTO_CHOICE", {})  # a new process reads the stored choice
    stored = predictor_module.Predictor(tmp_path / "ck.json")
    assert stored.backend == first.backend and stored.backend_seconds == {}
    # a stored choice the other way round is followed; one from other library versions is measured again
    choice = next((tmp_path / "cache").glob("*.backend.json"))
    doc = json.loads(choice.read_text())
    other = "torch" if first.backend == "onnx" else "onnx"
    choice.write_text(json.dumps({**doc, "faster": other}))
    monkeypatch.setattr(predictor_module, "_AUTO_CHOICE", {})
    assert predictor_module.Predictor(tmp_path / "ck.json").backend == other
    choice.write_text(json.dumps({**doc, "versions": {"torch": "0.0"}}))
    monkeypatch.setattr(predictor_module, "_AUTO_CHOICE", {})
    assert set(predictor_module.Predictor(tmp_path / "ck.json").backend_seconds) == {"onnx", "torch"}


def test_pelvis_alias_is_canonicalised_without_changing_the_orientation():
    """(tilt + π, π − list, rotation + π) is the same pelvis orientation; outputs use |list| ≤ 90°."""
    import numpy as np
    from scipy.spatial.transform import Rotation

    from model_store.network.model import canonical_pelvis

    rng = np.random.default_rng(0)
    a = torch.tensor(rng.uniform(-np.pi, np.pi, (50, 36)), dtype=torch.float64)
    c = canonical_pelvis(a)
    assert (c[:, 1].abs() <= np.pi / 2 + 1e-12).all()
    assert torch.equal(c[:, 3:], a[:, 3:])
    r_in = Rotation.from_euler("ZXY", a[:, :3].numpy()).as_matrix()
    r_out = Rotation.from_euler("ZXY", c[:, :3].numpy()).as_matrix()
    assert np.abs(r_in - r_out).max() < 1e-9
    keep = a[:, 1].abs() <= np.pi / 2
    assert torch.equal(c[keep, :3], a[keep, :3])  # canonical triples are left alone


def test_a_network_trained_at_another_frame_rate_is_refused(tiny_checkpoint, tmp_path):
    """Checkpoints record the frame rate they were trained at; the pipeline feeds MODEL_RATE_HZ, so a
    network trained at another rate is refused instead of being fed the wrong motion speed."""

    from model_store.conventions import MODEL_RATE_HZ
    from model_store.network.checkpoint import CheckpointError, load_network

    manifest = json.loads(tiny_checkpoint.read_text())
    assert manifest["config"]["rate_hz"] == MODEL_RATE_HZ  # our training records it
    shutil.copy(tiny_checkpoint.with_name(manifest["weights"]), tmp_path / manifest["weights"])
    manifest["config"]["rate_hz"] = 30.0
    (tmp_path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="30 Hz"):
        load_network(tmp_path / "model.json")
