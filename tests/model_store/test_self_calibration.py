"""Estimating two uncalibrated cameras from the person they film."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.geometry.cameras import Camera, look_at
from model_store.geometry.self_calibration import SelfCalibrationError, estimate_rig
from model_store.keypoints.landmarks import load_landmarks, standing_height_m

T = 150


def _camera(name: str, angle: float, f: float, dist: float, size: tuple[int, int]) -> Camera:
    """A camera in OpenSim ground (Y up) ``dist`` m from the subject at azimuth ``angle`` (rad), 1.2 m high."""
    w, h = size
    k = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
    r, t = look_at(np.array([dist * np.sin(angle), 1.2, dist * np.cos(angle)]), np.array([0.0, 0.9, 0.0]))
    return Camera(name, k, np.zeros(5), r, t, size)


def _motion() -> tuple[np.ndarray, float]:
    """Model landmarks [T, 33, 3] (m, Y up) of marching across 1.2 m while turning a little and swinging the
    arms, and the model's stature (m)."""
    fk, lm = load_fullbody_model(), load_landmarks()
    names = fk.coordinate_names
    q = fk.default_coordinates[None].repeat(T, 1).clone()
    phase = torch.linspace(0, 6 * np.pi, T, dtype=q.dtype)
    q[:, names.index("pelvis_ty")] = 0.95
    q[:, names.index("pelvis_tx")] = torch.linspace(-0.6, 0.6, T, dtype=q.dtype)
    q[:, names.index("pelvis_rotation")] = 0.4 * torch.sin(phase / 3)
    for side, sign in (("r", 1.0), ("l", -1.0)):
        lift = torch.clamp(sign * torch.sin(phase), min=0.0)
        q[:, names.index(f"hip_flexion_{side}")] = 1.0 * lift
        q[:, names.index(f"knee_angle_{side}")] = 1.4 * lift
        q[:, names.index(f"arm_flex_{side}")] = -sign * 0.9 * torch.sin(phase)
        q[:, names.index(f"elbow_flex_{side}")] = 0.8 + 0.5 * torch.sin(phase)
    s = torch.ones(T, len(fk.body_names), 3, dtype=q.dtype)
    with torch.no_grad():
        return lm.positions(fk(q, s), s).numpy(), float(standing_height_m(fk, s[:1])[0])


@pytest.fixture(scope="module")
def body() -> tuple[np.ndarray, float]:
    return _motion()


def _keypoints(cam: Camera, pts: np.ndarray, noise_px: float = 0.0, seed: int = 0) -> np.ndarray:
    px = cam.project(pts) + np.random.default_rng(seed).normal(0.0, noise_px, (*pts.shape[:2], 2))
    return np.concatenate([px, np.full((*pts.shape[:2], 1), 0.9)], -1)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0))))


def _rotation_error_deg(r1: np.ndarray, r2: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(r1.T @ r2) - 1) / 2, -1.0, 1.0))))


RIGS = {  # side camera on the subject's left or right, other focal lengths and image shapes than assumed
    "right-90": (np.radians(90), 1500.0, 1250.0, (1920, 1080), (1080, 1920)),
    "left-70": (np.radians(-70), 1300.0, 2100.0, (1920, 1080), (1920, 1080)),
    "right-120": (np.radians(120), 1900.0, 1500.0, (1080, 1920), (1920, 1080)),
}


@pytest.mark.parametrize("rig", RIGS)
def test_the_rig_comes_back_from_the_keypoints_alone(body, rig):
    pts, stature = body
    angle, f_front, f_side, size_front, size_side = RIGS[rig]
    cams = (_camera("a", 0.2, f_front, 4.5, size_front), _camera("b", 0.2 + angle, f_side, 3.5, size_side))
    kp = [_keypoints(c, pts, 1.0, i) for i, c in enumerate(cams)]
    est = estimate_rig(kp[0], kp[1], (size_front, size_side), stature)
    # the side camera's orientation and direction relative to the front camera
    assert _rotation_error_deg(cams[1].R @ cams[0].R.T, est.side.R @ est.front.R.T) < 4.0
    true_dir = cams[0].R @ (cams[1].center - cams[0].center)
    assert _angle_deg(true_dir, est.front.R @ (est.side.center - est.front.center)) < 6.0
    # focal lengths, though each was guessed as 0.9 × the long side
    for c, e in zip(cams, (est.front, est.side), strict=True):
        assert abs(e.K[0, 0] / c.K[0, 0] - 1) < 0.15
    # scale from the stature: the cameras' distance apart (its error follows the focal lengths')
    assert abs(np.linalg.norm(est.side.center - est.front.center) / np.linalg.norm(true_dir) - 1) < 0.15
    # the vertical (world Z up; the test's world is Y up), and the floor near z = 0 under the person
    assert _angle_deg(cams[0].R @ np.array([0.0, 1.0, 0.0]), est.front.R @ np.array([0.0, 0.0, 1.0])) < 3.0
    assert 0.8 < est.front.center[2] / 1.2 < 1.25 and est.front.center[0] > 0  # front camera on +X, ~1.2 m high
    assert est.relative_error < 0.01 and est.stature_given


@pytest.mark.slow
def test_a_given_stature_sets_the_scale(body):
    pts, stature = body
    cams = (_camera("a", 0.0, 1500.0, 4.5, (1920, 1080)), _camera("b", 1.4, 1500.0, 4.0, (1920, 1080)))
    kp = [_keypoints(c, pts) for c in cams]
    small = estimate_rig(kp[0], kp[1], (cams[0].image_size, cams[1].image_size), 1.5)
    tall = estimate_rig(kp[0], kp[1], (cams[0].image_size, cams[1].image_size), 1.5 * 1.2)
    baseline = [np.linalg.norm(e.side.center - e.front.center) for e in (small, tall)]
    assert baseline[1] / baseline[0] == pytest.approx(1.2, rel=1e-3)
    unknown = estimate_rig(kp[0], kp[1], (cams[0].image_size, cams[1].image_size))
    assert not unknown.stature_given and unknown.stature_m == pytest.approx(stature, abs=0.01)


def test_too_few_shared_keypoints_are_refused(body):
    pts, _ = body
    cams = (_camera("a", 0.0, 1500.0, 4.5, (1920, 1080)), _camera("b", 1.4, 1500.0, 4.0, (1920, 1080)))
    kp = [_keypoints(c, pts[:3]) for c in cams]
    with pytest.raises(SelfCalibrationError, match="at least"):
        estimate_rig(kp[0], kp[1], (cams[0].image_size, cams[1].image_size))
