"""The pipeline puts back left/right labels one view's detector swapped, and says so."""

from __future__ import annotations

import numpy as np

from model_store.geometry.laterality import exchange_sides
from model_store.keypoints.detections import ViewTrack
from tests.model_store.test_laterality import T, _camera, _motion
from worker.pipeline.geometry.sides import agree_sides


def _track(px: np.ndarray) -> ViewTrack:
    kp = np.concatenate([px, np.full((T, 33, 1), 0.9)], -1).astype(np.float32)
    return ViewTrack(kp, np.ones(T, bool), np.zeros((T, 3)), np.zeros((T, 8, 8), np.float32), 60.0, (1080, 1920))


def test_a_swapped_stretch_of_the_side_view_is_put_back_and_reported():
    cams = (_camera("front", 0.0), _camera("side", np.radians(70)))
    pts = _motion()
    rng = np.random.default_rng(0)
    front, side = (_track(c.project(pts) + rng.normal(0, 3.0, (T, 33, 2))) for c in cams)
    frames = np.arange(25, 45)
    bad_side = ViewTrack(exchange_sides(side.keypoints, frames), side.person_found, side.boxes, side.crop_masks,
                         side.fps, side.image_size)
    f2, s2, report = agree_sides(front, bad_side, cams)
    assert (report.front_frames, report.side_frames) == (0, len(frames))
    np.testing.assert_array_equal(np.flatnonzero(report.side), frames)
    assert f2 is front
    np.testing.assert_array_equal(s2.keypoints, side.keypoints)
    assert "20 side-view frames" in str(report.warning())


def test_views_that_agree_come_back_unchanged():
    cams = (_camera("front", 0.0), _camera("side", np.radians(70)))
    front, side = (_track(c.project(_motion())) for c in cams)
    f2, s2, report = agree_sides(front, side, cams)
    assert f2 is front and s2 is side and report.warning() is None
