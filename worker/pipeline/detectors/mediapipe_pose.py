"""The embedded detector: MediaPipe 0.10.21 Pose with segmentation (models inside the wheel, offline).

One image in, the person MediaPipe picks out: a mask (float [h, w] in [0, 1]) and 33 BlazePose
keypoints [33, 3] (x, y in image px, visibility). Used by :mod:`worker.pipeline.stages.detect` and, for
keypoints, by the optional YOLO detector (:mod:`worker.pipeline.detectors.yolo`).
"""

from __future__ import annotations

import numpy as np


class MediaPipeDetector:
    """MediaPipe Pose (+ segmentation) on one image; returns (mask float [h, w], keypoints [33, 3]) or None."""

    def __init__(self, model_complexity: int = 1) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=model_complexity, enable_segmentation=True,
            min_detection_confidence=0.5,
        )

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        res = self._pose.process(rgb)
        if res.pose_landmarks is None or res.segmentation_mask is None:
            return None
        h, w = rgb.shape[:2]
        kp = np.array([[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark], np.float32)
        return res.segmentation_mask.astype(np.float32), kp

    def close(self) -> None:
        self._pose.close()
