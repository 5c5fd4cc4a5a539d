"""Left/right labels made to agree across cameras before the real recording's 4-camera reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.geometry.cameras import Camera, look_at
from model_store.keypoints.detections import ViewDetections
from model_store.keypoints.landmarks import load_landmarks
from model_store.keypoints.skeleton import mirror_permutation
from training.eval.recording.pose2sim_demo import Aligned
from training.eval.recording.reference import consistent_laterality, segment_length_errors

SIZE = (320, 240)
T = 20


def _cameras() -> dict[str, Camera]:
    # a 1080p camera's focal length (the person ~600 px tall); the images themselves are kept small
    k = np.array([[1500.0, 0.0, 160.0], [0.0, 1500.0, 120.0], [0.0, 0.0, 1.0]])
    out = {}
    for i, angle in enumerate((0.0, 1.2, 2.5, 4.0)):
        r, t = look_at(np.array([4.0 * np.sin(angle), 1.0, 4.0 * np.cos(angle)]), np.array([0.0, 0.9, 0.0]))
        out[f"cam{i + 1:02d}"] = Camera(f"cam{i + 1:02d}", k, np.zeros(5), r, t, SIZE)
    return out


@pytest.fixture(scope="module")
def scene() -> Aligned:
    """Exact detections of the model's landmarks stepping forward (world Y up, m) in four cameras."""
    fk, lm = load_fullbody_model(), load_landmarks()
    q = fk.default_coordinates[None].repeat(T, 1).clone()
    names = fk.coordinate_names
    phase = torch.linspace(0, 2 * np.pi, T, dtype=q.dtype)
    q[:, names.index("pelvis_ty")] = 0.95
    q[:, names.index("pelvis_tx")] = torch.linspace(-0.3, 0.3, T, dtype=q.dtype)
    q[:, names.index("hip_flexion_r")] = 0.4 * torch.sin(phase)
    q[:, names.index("hip_flexion_l")] = -0.4 * torch.sin(phase)
    q[:, names.index("knee_angle_r")] = 0.5 * (1 + torch.sin(phase))
    s = torch.ones(T, len(fk.body_names), 3, dtype=q.dtype)
    with torch.no_grad():
        pts = lm.positions(fk(q, s), s).numpy()  # [T, 33, 3]
    cams = _cameras()
    views = {}
    for name, cam in cams.items():
        kp = np.concatenate([cam.project(pts), np.ones((T, 33, 1))], axis=-1).astype(np.float32)
        views[name] = ViewDetections(np.zeros((T, SIZE[1], SIZE[0]), np.uint8), kp, np.ones(T, bool), 60.0, SIZE)
    return Aligned(views, cams, 0, dict.fromkeys(cams, 0))


def _swap(data: Aligned, swaps: dict[str, list[int]]) -> Aligned:
    flip = mirror_permutation(load_landmarks().names)
    views = dict(data.views)
    for cam, frames in swaps.items():
        kp = views[cam].keypoints.copy()
        kp[frames] = kp[frames][:, flip]
        views[cam] = ViewDetections(views[cam].masks, kp, views[cam].person_found, 60.0, SIZE)
    return Aligned(views, data.cameras, data.start, data.offsets)


def test_a_view_with_swapped_sides_is_put_back(scene):
    frames = list(range(5, 13))
    fixed, swapped = consistent_laterality(_swap(scene, {"cam03": frames, "cam02": [16, 17, 18]}))
    for cam in scene.views:
        np.testing.assert_array_equal(fixed.views[cam].keypoints, scene.views[cam].keypoints)
    assert {c: np.flatnonzero(s).tolist() for c, s in swapped.items()} == {
        "cam01": [], "cam02": [16, 17, 18], "cam03": frames, "cam04": []}


def test_detections_that_agree_are_left_as_they_are(scene):
    fixed, swapped = consistent_laterality(scene)
    assert not any(s.any() for s in swapped.values())
    for cam in scene.views:
        np.testing.assert_array_equal(fixed.views[cam].keypoints, scene.views[cam].keypoints)


def test_when_most_views_are_swapped_the_jumps_tell_which(scene):
    # a labelling and its complete swap are mirror images that fit equally well; where the run starts and
    # ends the swapped views' keypoints jump, so those are put back rather than the one view that agrees
    frames = [3, 4, 5, 6]
    fixed, swapped = consistent_laterality(_swap(scene, {"cam01": frames, "cam02": frames, "cam03": frames}))
    assert {c: np.flatnonzero(s).tolist() for c, s in swapped.items()} == {
        "cam01": frames, "cam02": frames, "cam03": frames, "cam04": []}
    for cam in scene.views:
        np.testing.assert_array_equal(fixed.views[cam].keypoints, scene.views[cam].keypoints)


def test_segment_length_errors_and_their_intervals():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(50, 33, 3))
    same = segment_length_errors(ref, ref)
    assert all(e.pct == e.lo == e.hi == 0.0 for e in same.values())
    longer = segment_length_errors(ref * 1.1, ref)
    assert all(abs(e.pct - 10.0) < 1e-6 and e.lo <= e.pct <= e.hi for e in longer.values())
    noisy = segment_length_errors(ref + rng.normal(scale=0.2, size=ref.shape), ref)
    assert all(e.lo < e.pct < e.hi for e in noisy.values())
