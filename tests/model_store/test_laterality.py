"""Finding the frames where one view's detector swapped the person's left and right."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.geometry.cameras import Camera, look_at
from model_store.geometry.laterality import exchange_sides, handedness, mirror_order, swapped_sides
from model_store.keypoints.landmarks import load_landmarks

T = 60


def _camera(name: str, angle: float) -> Camera:
    k = np.array([[1000.0, 0.0, 540.0], [0.0, 1000.0, 960.0], [0.0, 0.0, 1.0]])
    r, t = look_at(np.array([4.5 * np.sin(angle), 1.1, 4.5 * np.cos(angle)]), np.array([0.0, 0.9, 0.0]))
    return Camera(name, k, np.zeros(5), r, t, (1080, 1920))


def _motion(arms_level: bool = False) -> np.ndarray:
    """Model landmarks [T, 33, 3] (m, Y up) of marching in place with high knees and, unless
    ``arms_level``, the arms swinging up and down in turn."""
    fk, lm = load_fullbody_model(), load_landmarks()
    names = fk.coordinate_names
    q = fk.default_coordinates[None].repeat(T, 1).clone()
    phase = torch.linspace(0, 4 * np.pi, T, dtype=q.dtype)
    q[:, names.index("pelvis_ty")] = 0.95
    for side, sign in (("r", 1.0), ("l", -1.0)):
        lift = torch.clamp(sign * torch.sin(phase), min=0.0)
        q[:, names.index(f"hip_flexion_{side}")] = 1.2 * lift
        q[:, names.index(f"knee_angle_{side}")] = 1.6 * lift
        if not arms_level:
            q[:, names.index(f"arm_flex_{side}")] = -sign * 0.9 * torch.sin(phase)
    s = torch.ones(T, len(fk.body_names), 3, dtype=q.dtype)
    with torch.no_grad():
        return lm.positions(fk(q, s), s).numpy()


@pytest.fixture(scope="module")
def walk() -> tuple[np.ndarray, list[Camera]]:
    """Exact keypoints [2, T, 33, 2] (px) of :func:`_motion` in two cameras 70° apart."""
    pts = _motion()
    cams = [_camera("front", 0.0), _camera("side", np.radians(70))]
    return np.stack([c.project(pts) for c in cams]), cams


def _noisy(kp: np.ndarray, seed: int, px: float = 4.0) -> np.ndarray:
    return kp + np.random.default_rng(seed).normal(0.0, px, kp.shape)


@pytest.mark.parametrize("view", [0, 1])
def test_a_run_of_swapped_frames_in_one_view_is_found_in_that_view(walk, view):
    kp, cams = walk
    frames = np.zeros(T, bool)
    frames[20:38] = True
    bad = _noisy(kp, view)
    bad[view] = exchange_sides(bad[view], frames)
    found = swapped_sides(bad, np.ones(kp.shape[:3]), cams)
    assert np.array_equal(found[view], frames), np.flatnonzero(found[view])
    assert not found[1 - view].any()


def test_detections_that_agree_are_left_alone(walk):
    kp, cams = walk
    assert not swapped_sides(_noisy(kp, 3), np.ones(kp.shape[:3]), cams).any()


@pytest.mark.parametrize("view", [0, 1])
def test_a_swap_over_the_whole_clip_is_told_by_the_bodys_handedness(walk, view):
    # no jump anywhere, and exchanging either view fits the geometry; only one choice gives a body whose
    # labelled left lies on its left (the other is a mirror image)
    kp, cams = walk
    bad = _noisy(kp, 4)
    bad[view] = exchange_sides(bad[view], np.ones(T, bool))
    found = swapped_sides(bad, np.ones(kp.shape[:3]), cams)
    assert found[view].all() and not found[1 - view].any()


def test_handedness_tells_a_body_from_its_mirror_image():
    pts = _motion()
    assert (handedness(pts) > 0.8).all()
    assert (handedness(pts[:, mirror_order()]) < -0.8).all()
    rotated = pts @ np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]).T  # any proper rotation
    np.testing.assert_allclose(handedness(rotated), handedness(pts), atol=1e-9)
    hidden = pts.copy()
    hidden[:, :, :] = np.nan
    assert (handedness(hidden) == 0).all()  # nothing seen, nothing said


def test_unseen_frames_are_left_alone(walk):
    kp, cams = walk
    conf = np.ones(kp.shape[:3])
    conf[1, 10:20] = 0.0
    bad = _noisy(kp, 5)
    bad[1, 10:20] = exchange_sides(bad[1, 10:20], np.ones(10, bool))
    assert not swapped_sides(bad, conf, cams)[:, 10:20].any()


def test_a_swap_the_geometry_cannot_see_is_found_by_the_jumps_it_makes():
    # orthogonal views compare only the points' heights; with the limbs level a swap fits as well as not,
    # but where it starts and ends the swapped view's left and right keypoints jump into each other's places
    pts = _motion(arms_level=True)
    pts[:, :, 1] = pts[:, :, 1].mean(0, keepdims=True)  # no limb rises: legs and arms move level
    cams = [_camera("front", 0.0), _camera("side", np.pi / 2)]
    kp = np.stack([c.project(pts) for c in cams])
    bad = _noisy(kp, 6)
    frames = np.arange(20, 38)
    bad[1] = exchange_sides(bad[1], frames)
    found = swapped_sides(bad, np.ones(kp.shape[:3]), cams)
    np.testing.assert_array_equal(np.flatnonzero(found[1]), frames)
    assert not found[0].any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_swap_neither_the_geometry_nor_the_jumps_show_is_left_as_detected(seed):
    # standing still with the limbs level, seen along the left-right axis by the first camera: its left and
    # right keypoints lie on top of each other, so exchanging them changes nothing anything can measure
    pts = np.repeat(_motion(arms_level=True)[:1], T, 0)
    cams = [_camera("front", 0.0), _camera("side", np.pi / 2)]
    kp = np.stack([c.project(pts) for c in cams])
    bad = _noisy(kp, seed)
    bad[0] = exchange_sides(bad[0], np.arange(20, 38))
    assert not swapped_sides(bad, np.ones(kp.shape[:3]), cams).any()


def test_a_swap_in_both_views_at_once_is_found_by_its_jumps(walk):
    # a mirror image fits the geometry as well as the truth; the jumps at its ends still give it away
    kp, cams = walk
    frames = np.arange(25, 40)
    bad = _noisy(kp, 7)
    for v in range(2):
        bad[v] = exchange_sides(bad[v], frames)
    found = swapped_sides(bad, np.ones(kp.shape[:3]), cams)
    for v in range(2):
        np.testing.assert_array_equal(np.flatnonzero(found[v]), frames)
