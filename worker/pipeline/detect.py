"""Stage 3 — person detection: a full-frame mask and 33 keypoints per frame for the subject.

Default detector: MediaPipe 0.10.21 Pose with segmentation (models inside the wheel, offline).
Subject choice: on the first frame where anyone is found, MediaPipe's pick is kept if it is the
most central-and-large candidate it offers (it tracks one person); afterwards the subject is
*tracked* by running the detector on a region around the previous box, so a bystander elsewhere
in the frame is never picked up. Frames without the subject are marked ``person_found = False``.
Ultralytics YOLOv8-seg is used instead when a weights file is configured (optional extra).
All pixel coordinates are full-resolution frame pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from model_store.detections import N_LANDMARKS, ViewDetections
from worker.pipeline.contract import PipelineError
from worker.pipeline.decode import DecodedVideo

ROI_MARGIN = 1.6  # tracked region = previous box enlarged by this factor
YOLO_WEIGHTS_ENV = "KINEMATICS_YOLO_WEIGHTS"


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


def _box(mask: np.ndarray, thresh: float = 0.5) -> np.ndarray | None:
    ys, xs = np.nonzero(mask > thresh)
    if ys.size < 20:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def _roi(box: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1]) * ROI_MARGIN / 2
    return (int(max(cx - half, 0)), int(max(cy - half, 0)), int(min(cx + half, w)), int(min(cy + half, h)))


def detect_view(
    video: DecodedVideo, detector: Callable | None = None, progress: Callable[[float], None] | None = None
) -> ViewDetections:
    """Run the detector over every frame with subject tracking; returns full-resolution detections."""
    own = detector is None
    detector = detector or make_detector()
    t, h, w = video.frames.shape[:3]
    full_w, full_h = video.info.width, video.info.height
    masks = np.zeros((t, full_h, full_w), np.uint8)
    kps = np.zeros((t, N_LANDMARKS, 3), np.float32)
    found = np.zeros(t, bool)
    prev: np.ndarray | None = None
    try:
        for i in range(t):
            x0, y0, x1, y1 = _roi(prev, w, h) if prev is not None else (0, 0, w, h)
            res = detector(np.ascontiguousarray(video.frames[i, y0:y1, x0:x1]))
            if res is None and prev is not None:  # lost: look at the whole frame again
                x0, y0, x1, y1 = 0, 0, w, h
                res = detector(video.frames[i])
            if res is not None:
                m, kp = res
                full = np.zeros((h, w), np.float32)
                full[y0:y1, x0:x1] = m
                box = _box(full)
                if box is not None:
                    found[i] = True
                    prev = box
                    masks[i] = cv2.resize((full * 255).astype(np.uint8), (full_w, full_h))
                    kp = kp.copy()
                    kp[:, 0] += x0
                    kp[:, 1] += y0
                    kp[:, :2] *= video.scale
                    kps[i] = kp
            if progress is not None:
                progress((i + 1) / t)
    finally:
        if own and hasattr(detector, "close"):
            detector.close()
    fps = 1.0 / float(video.times_s[1] - video.times_s[0]) if t > 1 else 60.0
    return ViewDetections(masks=masks, keypoints=kps, person_found=found, fps=fps, image_size=(full_w, full_h))


def make_detector() -> Callable:
    """YOLOv8-seg when ``KINEMATICS_YOLO_WEIGHTS`` names an existing file (and ultralytics is
    installed); otherwise the embedded MediaPipe detector. Nothing is ever downloaded."""
    weights = os.environ.get(YOLO_WEIGHTS_ENV)
    if weights:
        if not Path(weights).is_file():
            raise PipelineError("internal", f"{YOLO_WEIGHTS_ENV}={weights} does not exist")
        from worker.pipeline.yolo import YoloDetector

        return YoloDetector(Path(weights))
    return MediaPipeDetector()
