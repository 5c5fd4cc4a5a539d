"""Without a calibration the pipeline estimates the cameras from the person, and the sync with them."""

from __future__ import annotations

import numpy as np

from model_store.keypoints.detections import ViewTrack
from tests.model_store.test_self_calibration import _camera, _keypoints, _motion
from worker.pipeline.geometry.rig import default_rig
from worker.pipeline.geometry.rig_estimate import cameras_from_person
from worker.pipeline.stages.synchronise import SyncResult

SIZE = (1920, 1080)


def _track(kp: np.ndarray) -> ViewTrack:
    t = kp.shape[0]
    return ViewTrack(kp.astype(np.float32), np.ones(t, bool), np.zeros((t, 3)), np.zeros((t, 8, 8), np.float32),
                     60.0, SIZE)


def _views(lag: int) -> tuple[ViewTrack, ViewTrack]:
    """Front and side tracks of one motion, the side video starting ``lag`` frames later (front f ↔ side f − lag)."""
    pts, _ = _motion()
    cams = (_camera("a", 0.0, 1500.0, 4.5, SIZE), _camera("b", -1.3, 1700.0, 4.0, SIZE))
    front, side = (_keypoints(c, pts, 1.0, i) for i, c in enumerate(cams))
    return _track(front[lag:]), _track(side[:-lag] if lag else side)


def test_a_wrong_motion_sync_is_put_right_by_the_estimated_cameras():
    front, side = _views(9)  # front f shows what side f + 9 shows
    fallback = default_rig(SIZE, SIZE)
    wrong = SyncResult(3, 0.4, True)
    found = cameras_from_person(front, side, wrong, (fallback.front, fallback.side), 1.7)
    assert found.estimate is not None and found.sync.offset_frames == 9 and found.sync.estimated
    assert "estimated from the person" in found.warnings[0] and "1.70 m" in found.warnings[0]
    assert found.cameras == (found.estimate.front, found.estimate.side)


def test_a_given_offset_is_kept():
    front, side = _views(9)
    fallback = default_rig(SIZE, SIZE)
    given = SyncResult(9, 1.0, False)
    found = cameras_from_person(front, side, given, (fallback.front, fallback.side), None)
    assert found.sync == given and found.estimate is not None and "pass height_m" in found.warnings[0]


def test_when_the_keypoints_cannot_tell_the_default_rig_stays_with_a_reason():
    front, side = _views(0)
    blind = ViewTrack(np.zeros_like(side.keypoints), side.person_found, side.boxes, side.crop_masks, 60.0, SIZE)
    fallback = default_rig(SIZE, SIZE)
    found = cameras_from_person(front, blind, SyncResult(0, 0.5, True), (fallback.front, fallback.side), None)
    assert found.estimate is None and found.cameras == (fallback.front, fallback.side)
    assert "could not be estimated" in found.warnings[0] and "default rig" in found.warnings[0]
