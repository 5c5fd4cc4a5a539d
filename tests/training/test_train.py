"""Training loop: losses decrease, resumption is exact, evaluation prints the documented metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.network import KinematicsNet, get_config, load_network
from tests.training.toy_data import toy_sequences
from training.configs import get_train_config
from training.data.sequences import sample_windows
from training.eval.network import evaluate_constant, evaluate_network, mean_pose
from training.losses import kinematics_loss
from training.train import train


@pytest.fixture(scope="module")
def toy():
    cfg = get_config("tiny")
    return toy_sequences(6, 16, cfg.input_size, seed=0), toy_sequences(3, 16, cfg.input_size, seed=1)


def test_loss_terms_are_zero_for_perfect_predictions(toy):
    from model_store.network import NetworkOutputs
    from model_store.network.outputs import rotational_indices

    data, _ = toy
    wb = sample_windows(data, np.random.default_rng(0), 2, 8)
    a = wb.coords[..., rotational_indices()]
    out = NetworkOutputs(torch.stack([a.sin(), a.cos()], -1), wb.scales, wb.scales[:, None].expand(-1, 8, -1, -1))
    _, terms = kinematics_loss(out, wb.coords, wb.scales, load_fullbody_model())
    assert terms["angle"] < 1e-10 and terms["scale"] < 1e-10 and terms["fk"] < 1e-5
    wrong = NetworkOutputs(torch.stack([(a + 0.3).sin(), (a + 0.3).cos()], -1), wb.scales * 1.1,
                           wb.scales[:, None].expand(-1, 8, -1, -1) * 1.1)
    _, bad = kinematics_loss(wrong, wb.coords, wb.scales, load_fullbody_model())
    assert bad["angle"] > 0.05 and bad["fk"] > 0.01 and bad["scale"] > 0.05


def test_out_of_range_penalty_is_positive_only_outside_ranges(toy):
    from model_store.network import NetworkOutputs

    data, _ = toy
    wb = sample_windows(data, np.random.default_rng(0), 1, 4)
    from model_store.network import ROTATIONAL_COORDINATES

    knee = torch.full((1, 4, 36), 0.0)
    _, inside = kinematics_loss(
        NetworkOutputs(torch.stack([knee.sin(), knee.cos()], -1), wb.scales, wb.scales[:, None].expand(-1, 4, -1, -1)),
        wb.coords, wb.scales, load_fullbody_model(),
    )
    assert inside["range"] == 0.0
    knee[..., ROTATIONAL_COORDINATES.index("knee_angle_r")] = -1.0  # below its 0 rad minimum
    out = NetworkOutputs(torch.stack([knee.sin(), knee.cos()], -1), wb.scales, wb.scales[:, None].expand(-1, 4, -1, -1))
    _, terms = kinematics_loss(out, wb.coords, wb.scales, load_fullbody_model())
    assert terms["range"] > 0.02


@pytest.mark.slow
def test_few_steps_reduce_loss_and_resume_is_exact(toy, tmp_path):
    data, test = toy
    cfg = get_train_config("tiny", stage1_steps=30, stage2_steps=6)
    full = train(cfg, tmp_path / "a", data, test, progress=False)
    first, last = np.mean(full["losses"][:5]), np.mean(full["losses"][25:30])
    assert last < first * 0.8, (first, last)
    assert full["steps"] == 36 and "metrics" in full
    # interrupted run, then resumed: identical final weights
    part = train(cfg, tmp_path / "b", data, test, progress=False, stop_after=20)
    assert part["steps"] == 20 and "metrics" not in part
    train(cfg, tmp_path / "b", data, test, resume=True, progress=False)
    a, _ = load_network(tmp_path / "a" / "model.json")
    b, _ = load_network(tmp_path / "b" / "model.json")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb, msg=name)
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 36 and json.loads(lines[-1])["stage"] == 2


def test_evaluation_metrics_and_mean_pose_floor(toy):
    data, test = toy
    net = KinematicsNet(get_config("tiny"))
    m = evaluate_network(net, test)
    for key in ("ll_mae_deg", "mae_deg", "mae_deg_by_group", "scale_err_pct", "mpjpe_mm"):
        assert key in m
    groups = {"pelvis", "hips", "knees", "ankles", "lumbar", "shoulders", "elbows", "wrists"}
    assert set(m["mae_deg_by_group"]) == groups
    angles, scales = mean_pose(data)
    base = evaluate_constant(angles, scales, test)
    assert base["mae_deg"] > 0 and base["mpjpe_mm"] > 0
    # the truth itself scores zero
    from model_store.network.outputs import rotational_indices

    exact = test.coords[..., rotational_indices()]
    from training.eval.network import _metrics

    zero = _metrics(exact, np.broadcast_to(test.scales[:, None], (*exact.shape[:2], 22, 3)), test)
    assert zero["mae_deg"] < 1e-3 and zero["mpjpe_mm"] < 1e-2 and zero["scale_err_pct"] < 1e-4


@pytest.mark.slow
def test_evaluate_cli_prints_one_json_line(tmp_path, capsys):
    from training.eval.checkpoint import main as evaluate_main
    from training.synth.dataset import write_dataset

    data_dir = tmp_path / "ds"
    write_dataset(data_dir, 2, frames=8, seed=3, mask_size=32, progress=False)
    cfg = get_train_config("tiny", stage1_steps=2, stage2_steps=1)
    from training.data.cached import load_sequences

    seqs = load_sequences(data_dir, get_config("tiny").input_size)
    summary = train(cfg, tmp_path / "run", seqs, seqs, progress=False)
    assert evaluate_main(["--checkpoint", summary["checkpoint"], "--data", str(data_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    for key in ("ll_mae_deg", "mae_deg", "mae_deg_by_group", "scale_err_pct", "mpjpe_mm", "baseline_mean_pose"):
        assert key in result
    assert evaluate_main(["--checkpoint", str(tmp_path / "none.json"), "--data", str(data_dir)]) == 2


def test_angle_loss_does_not_penalise_the_pelvis_alias():
    """Two network outputs that differ only by the pelvis Euler alias get the same loss."""
    import math

    import torch

    from model_store.biomech import load_fullbody_model
    from model_store.network.model import NetworkOutputs
    from model_store.network.outputs import rotational_indices
    from training.losses import kinematics_loss

    coords = torch.zeros(1, 2, 39)
    coords[..., rotational_indices()[:3]] = torch.tensor([0.2, 0.3, 1.0])
    scales = torch.ones(1, 22, 3)
    base = coords[..., rotational_indices()].clone()
    alias = base.clone()
    alias[..., 0] += math.pi
    alias[..., 1] = math.pi - alias[..., 1]
    alias[..., 2] += math.pi

    def outputs(angles):
        return NetworkOutputs(sincos=torch.stack([angles.sin(), angles.cos()], -1), scales=scales.clone(),
                              frame_scales=scales[:, None].expand(1, 2, 22, 3).clone())

    fk = load_fullbody_model()
    l1, t1 = kinematics_loss(outputs(base), coords, scales, fk)
    l2, t2 = kinematics_loss(outputs(alias), coords, scales, fk)
    assert t1["angle"] < 1e-6 and abs(t2["angle"] - t1["angle"]) < 1e-5
    assert abs(float(l1) - float(l2)) < 1e-4
