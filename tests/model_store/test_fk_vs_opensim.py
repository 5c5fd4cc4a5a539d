"""Our batched FK reproduces OpenSim 4.6 body positions on scaled models (≤ 0.5 mm)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from tests.model_store.opensim_helpers import body_origins, random_poses, scale_set, unlocked_state

TOLERANCE_M = 0.5e-3
N_SCALE_SETS = 8
POSES_PER_SET = 30  # 240 poses in all


@pytest.fixture(scope="module")
def fk():
    return load_fullbody_model()


def test_fk_matches_opensim_on_scaled_models(fk, opensim_module, rajagopal_osim):
    osim = opensim_module
    rng = np.random.default_rng(2024)
    ranges = fk.coordinate_ranges.numpy()
    worst = 0.0
    for _ in range(N_SCALE_SETS):
        scales = rng.uniform(0.8, 1.2, size=(len(fk.body_names), 3))
        model = osim.Model(str(rajagopal_osim))
        state = model.initSystem()
        assert model.scale(state, scale_set(osim, fk.body_names, scales), True, -1.0)
        state = unlocked_state(model)
        poses = random_poses(rng, ranges, POSES_PER_SET)
        out = fk(torch.tensor(poses), torch.tensor(scales).expand(POSES_PER_SET, -1, -1))
        for k in range(POSES_PER_SET):
            ref = body_origins(model, state, out.coords[k].numpy())
            worst = max(worst, float(np.abs(ref - out.body_origins[k].numpy()).max()))
    print(f"max FK error vs OpenSim over {N_SCALE_SETS * POSES_PER_SET} poses: {worst * 1e3:.2e} mm")
    assert worst <= TOLERANCE_M


def test_coupled_beta_follows_knee(fk):
    q = fk.default_coordinates.clone()[None].repeat(2, 1)
    k_r, b_r = fk.coordinate_names.index("knee_angle_r"), fk.coordinate_names.index("knee_angle_r_beta")
    q[:, k_r] = torch.tensor([0.3, 1.2], dtype=q.dtype)
    q[:, b_r] = 99.0
    out = fk(q)
    torch.testing.assert_close(out.coords[:, b_r], q[:, k_r])


def test_float32_close_to_float64_and_differentiable(fk):
    rng = np.random.default_rng(7)
    poses = torch.tensor(random_poses(rng, fk.coordinate_ranges.numpy(), 16))
    scales = torch.tensor(rng.uniform(0.8, 1.2, (16, 22, 3)))
    ref = fk(poses, scales).body_origins
    q32 = poses.float().requires_grad_(True)
    out = fk(q32, scales.float())
    assert out.body_origins.dtype == torch.float32
    assert float((out.body_origins.detach().double() - ref).abs().max()) < 1e-4
    out.joint_centers.sum().backward()
    assert q32.grad is not None and torch.isfinite(q32.grad).all()
    knee = fk.coordinate_names.index("knee_angle_r")
    assert float(q32.grad[:, knee].abs().sum()) > 0


def test_joint_centers_and_rotations_are_consistent(fk):
    out = fk(fk.default_coordinates[None].clone())
    rot = out.body_rotations[0]
    eye = torch.eye(3, dtype=rot.dtype).expand_as(rot)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye)
    # pelvis joint centre = pelvis origin (child frame offset is zero); knee centre lies below the hip
    torch.testing.assert_close(out.joint_centers[0, 0], out.body_origins[0, 0])
    femur, tibia = fk.body_names.index("femur_r"), fk.body_names.index("tibia_r")
    assert out.joint_centers[0, tibia, 1] < out.joint_centers[0, femur, 1] - 0.3


def test_points_in_ground_scales_local_points(fk):
    out_scaled = fk(fk.default_coordinates[None].clone(), torch.full((1, 22, 3), 1.1, dtype=torch.float64))
    idx = torch.tensor([0])
    pt = torch.tensor([[0.0, 0.1, 0.0]], dtype=torch.float64)
    g = out_scaled.points_in_ground(idx, pt, torch.full((1, 22, 3), 1.1, dtype=torch.float64))
    dist = (g[0, 0] - out_scaled.body_origins[0, 0]).norm()
    assert abs(float(dist) - 0.11) < 1e-12


def test_rejects_wrong_shapes(fk):
    with pytest.raises(ValueError, match="coords"):
        fk(torch.zeros(2, 38, dtype=torch.float64))
    with pytest.raises(ValueError, match="scales"):
        fk(torch.zeros(2, 39, dtype=torch.float64), torch.ones(2, 21, 3, dtype=torch.float64))
