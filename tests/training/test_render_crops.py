"""The renderer places its crops where the pipeline does (one crop geometry: model_store.keypoints.crops)."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.keypoints.crops import to_crop
from model_store.keypoints.detections import ViewDetections
from training.synth.render import draw_mask, project_capsules, render_crops
from training.synth.sequence import build_sequence
from worker.pipeline.stages.detect import track_from_detections


@pytest.mark.parametrize("seed", [3, 4])
def test_renderer_crops_agree_with_the_pipelines_to_a_hundredth_of_a_pixel(seed):
    seq = build_sequence(np.random.default_rng(seed), 12)
    for cam in seq.cameras:
        _, kps, boxes = render_crops(cam, seq.capsules, seq.radii, seq.landmarks, 64)
        # what the pipeline gets for the same frames: full-frame masks (as the clip writer draws them)
        px, r_px, _ = project_capsules(cam, seq.capsules, seq.radii)
        masks = np.stack([draw_mask(px[i], r_px[i], np.zeros(2), 1.0, cam.image_size) for i in range(len(px))])
        kp_px, _ = cam.project_pinhole(seq.landmarks)
        det = ViewDetections(masks, np.concatenate([kp_px, kps[..., 2:]], -1).astype(np.float32),
                             np.ones(len(px), bool), 60.0, cam.image_size)
        pipeline = track_from_detections(det, 64).boxes
        scale = pipeline[:, 2:3]
        assert np.abs(boxes[:, :2] - pipeline[:, :2]).max() * scale.max() <= 0.01  # crop px
        assert np.abs(boxes[:, 2:3] / scale - 1.0).max() * 256 <= 0.01  # crop px across the crop
        pipe_kps = np.stack([to_crop(kp_px[i], pipeline[i]) for i in range(len(px))])
        assert np.abs(kps[..., :2] - pipe_kps).max() <= 0.01
