"""Optional Ultralytics YOLOv8-seg person masks (the seed's detector), keypoints from MediaPipe.

Only used when a weights file is configured (``KINEMATICS_YOLO_WEIGHTS``) and the ``yolo`` extra
is installed; never downloads anything. Among detected people the subject is the one with the
largest area weighted by closeness to the image centre.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from worker.pipeline.contract import PipelineError
from worker.pipeline.detectors.mediapipe_pose import MediaPipeDetector


class YoloDetector:
    def __init__(self, weights: Path) -> None:
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise PipelineError(
                "internal", "YOLO weights are configured but ultralytics is not installed (pip install '.[yolo]')"
            ) from exc
        self._model = YOLO(str(weights))
        self._keypoints = MediaPipeDetector()

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        h, w = rgb.shape[:2]
        res = self._model.predict(rgb[..., ::-1], classes=[0], verbose=False)[0]
        if res.masks is None or len(res.masks) == 0:
            return None
        masks = res.masks.data.cpu().numpy()
        centre = np.array([w / 2, h / 2])
        best, best_score = None, -1.0
        for m in masks:
            m = cv2.resize(m, (w, h))
            ys, xs = np.nonzero(m > 0.5)
            if ys.size == 0:
                continue
            dist = np.linalg.norm(np.array([xs.mean(), ys.mean()]) - centre) / max(w, h)
            score = float(ys.size * (1.0 - dist))
            if score > best_score:
                best, best_score = m, score
        if best is None:
            return None
        ys, xs = np.nonzero(best > 0.5)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        pad = int(0.1 * max(x1 - x0, y1 - y0))
        x0, y0, x1, y1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
        kp_res = self._keypoints(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        if kp_res is None:
            return None
        kp = kp_res[1].copy()
        kp[:, 0] += x0
        kp[:, 1] += y0
        return best.astype(np.float32), kp

    def close(self) -> None:
        self._keypoints.close()
