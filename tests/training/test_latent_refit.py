"""The frozen-encoder CPU leg (:mod:`training.latent_refit`), run with the tiny streamed recipe on a
checkpoint our own streamed training produced."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from model_store.network import load_network
from training.configs import get_train_config
from training.latent_refit import Latents, RefitSettings, main, run
from training.train_stream import train_streaming

CFG = get_train_config("stream-tiny")


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint from :func:`train_streaming` (the refit's starting point)."""
    root = tmp_path_factory.mktemp("refit")
    train_streaming(CFG, root / "start", root / "cache", device="cpu", progress=False)
    return root / "start" / "model.json"


def _groups(state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    heads = {k: v for k, v in state.items() if k.startswith(("angle_head.", "scale_head."))}
    temporal = {k: v for k, v in state.items() if k.startswith(("temporal.", "temporal_out.")) or k == "pos"}
    frame = {k: v for k, v in state.items() if k.startswith(("point_mlp.", "frame_mlp."))}
    rest = {k: v for k, v in state.items() if k not in heads and k not in temporal and k not in frame}
    return {"heads": heads, "temporal": temporal, "frame": frame, "rest": rest}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_refit_trains_only_its_part_and_writes_a_training_record(start: Path, tmp_path: Path):
    lines: list[str] = []
    latents = tmp_path / "latents.pt"
    settings = RefitSettings(part="heads", epochs=3, lr=3e-3, batch=2)
    m = run(CFG, start, tmp_path / "run", settings, sequences=6, seed=5, workers=1, cache=tmp_path / "cache",
            latents=latents, log=lines.append)
    before, _ = load_network(start)
    after, record = load_network(tmp_path / "run" / "model.json")
    b, a = _groups(before.state_dict()), _groups(after.state_dict())
    assert b["heads"] and b["temporal"] and b["rest"]
    assert b["frame"] and _same(b["frame"], a["frame"])
    assert _same(b["rest"], a["rest"]) and _same(b["temporal"], a["temporal"])  # encoder and temporal frozen
    assert not _same(b["heads"], a["heads"])
    # training lowered the loss on the sequences it never trained on
    assert m["training"]["best_epoch"] >= 0 and m["validation_loss"]["result"] < m["validation_loss"]["start"]
    windows = m["training"]["windows"]
    assert windows["train"] + windows["validation"] == 6 * (CFG.stream.frames // after.config.window)
    assert windows["validation"] == 2  # one of six sequences held out, both of its windows
    assert m["steps"] == 3 * math.ceil(windows["train"] / 2)
    assert record.manifest["initialised_from"]["sha256"] == load_network(start)[1].sha256
    assert record.manifest["training"]["part"] == "heads" and record.manifest["data_recipe"]["stream_seed"] == 5
    assert record.manifest["hardware"].startswith("CPU")
    for key in ("metrics", "metrics_start"):
        assert math.isfinite(record.manifest[key]["ll_mae_deg"])
    assert record.manifest["metrics"]["ll_mae_deg"] != record.manifest["metrics_start"]["ll_mae_deg"]
    assert record.manifest["baseline_mean_pose"]["metrics"]["ll_mae_deg"] > 0
    assert latents.is_file() and Latents.load(latents).sequences == 6


@pytest.mark.slow
def test_part_frame_trains_the_frame_mlps_on_cached_features_and_keeps_the_encoder(start: Path, tmp_path: Path):
    features = tmp_path / "features.pt"
    m = run(CFG, start, tmp_path / "run", RefitSettings(part="frame", epochs=3, lr=3e-3, batch=2), sequences=6,
            seed=5, workers=1, cache=tmp_path / "cache", latents=features, log=lambda s: None)
    b, a = _groups(load_network(start)[0].state_dict()), _groups(load_network(tmp_path / "run" / "model.json")[0]
                                                                 .state_dict())
    assert _same(b["rest"], a["rest"])  # the convolutional encoder, bit for bit
    assert not _same(b["frame"], a["frame"]) and not _same(b["temporal"], a["temporal"])
    assert m["validation_loss"]["result"] < m["validation_loss"]["start"]
    assert m["training"]["frozen"].startswith("convolutional encoder")
    cached = Latents.load(features)
    assert cached.level == "features" and cached.inputs[0].dtype == torch.float16
    # a feature cache cannot serve a latent-level part
    with pytest.raises(ValueError, match="needs the latent level"):
        run(CFG, start, tmp_path / "other", RefitSettings(part="temporal", epochs=1), sequences=6, seed=5,
            workers=1, cache=tmp_path / "cache", latents=features, log=lambda s: None)


@pytest.mark.slow
def test_cached_latents_are_reused_and_blend_zero_keeps_the_start(start: Path, tmp_path: Path):
    latents = tmp_path / "latents.pt"
    run(CFG, start, tmp_path / "a", RefitSettings(epochs=1, lr=3e-3, batch=2), sequences=4, seed=7, workers=1,
        cache=tmp_path / "cache", latents=latents, log=lambda s: None)
    lines: list[str] = []
    m = run(CFG, start, tmp_path / "b", RefitSettings(part="temporal", epochs=2, lr=3e-3, batch=2, anchor_scales=1.0,
                                                       blend=0.0),
            sequences=4, seed=7, workers=1, cache=tmp_path / "cache", latents=latents, log=lines.append)
    assert any("read from" in s for s in lines)
    assert m["training"]["blend"] == 0.0 and m["training"]["anchor_scales"] == 1.0
    before, _ = load_network(start)
    after, _ = load_network(tmp_path / "b" / "model.json")
    assert _same(before.state_dict(), after.state_dict())  # blend 0: the starting weights, bit for bit
    assert m["validation_loss"]["result"] == pytest.approx(m["validation_loss"]["start"], abs=1e-5)


def test_bad_arguments_are_refused_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = ["--run-dir", str(tmp_path / "run")]
    assert main(["--blend", "1.5", *out]) == 2
    assert "blend must be in [0, 1]" in capsys.readouterr().err
    assert main(["--sequences", "1", *out]) == 2
    assert "--sequences must be >= 2" in capsys.readouterr().err
    assert main(["--config", "small", *out]) == 2
    assert "no stream recipe" in capsys.readouterr().err
    assert main(["--config", "nope", *out]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["--init", str(tmp_path / "missing.json"), *out]) == 2
    assert "no checkpoint manifest" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_checkpoint_of_another_network_is_refused(start: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--config", "gpu-widen", "--init", str(start), "--run-dir", str(tmp_path / "run")]) == 2
    assert "trained with config 'tiny'" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    torch.save({"z": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not a latent cache"):
        Latents.load(bad)
