"""Crop boxes and the detections file format."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.keypoints.crops import crop_box, crop_image, from_crop, to_crop
from model_store.keypoints.detections import DetectionsError, ViewDetections, load_view_detections, save_view_detections


def test_crop_box_is_square_with_margin_and_round_trips():
    mask = np.zeros((400, 300), np.uint8)
    mask[100:300, 120:170] = 255  # 200 tall, 50 wide
    box = crop_box(mask)
    assert box is not None
    assert abs(256 / box[2] - 220.0) < 1e-9  # side = 1.1 × 200
    crop = crop_image(mask, box)
    assert crop.shape == (256, 256) and crop[128, 128] == 255 and crop[5, 5] == 0
    pts = np.array([[130.0, 150.0], [160.0, 290.0]])
    np.testing.assert_allclose(from_crop(to_crop(pts, box), box), pts)
    # the box centre maps to the crop centre
    np.testing.assert_allclose(to_crop(np.array([144.5, 199.5]), box), [127.5, 127.5], atol=1e-9)
    assert crop_box(np.zeros((10, 10), np.uint8)) is None


def test_detections_round_trip_and_errors(tmp_path):
    masks, kps = np.zeros((3, 8, 6), np.uint8), np.zeros((3, 33, 3), np.float32)
    det = ViewDetections(masks, kps, np.ones(3, bool), 60.0, (6, 8))
    path = save_view_detections(tmp_path / "d.npz", det)
    back = load_view_detections(path)
    assert back.image_size == (6, 8) and back.n_frames == 3 and back.fps == 60.0
    with pytest.raises(DetectionsError, match="masks must be"):
        ViewDetections(np.zeros((3, 8, 6), np.uint8), np.zeros((3, 33, 3)), np.ones(3, bool), 60.0, (8, 6))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DetectionsError, match="not a readable"):
        load_view_detections(tmp_path / "bad.npz")
    with pytest.raises(DetectionsError, match="not found"):
        load_view_detections(tmp_path / "none.npz")
