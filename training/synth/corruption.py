"""Realistic detector errors on rendered views: mask edge noise, erosion/dilation, soft (blurred)
edges and holes, missed frames, keypoint jitter, dropouts and visibility noise. Units: keypoints
in 256-crop px; ``p_*`` are per-frame (masks) or per-keypoint (dropouts) probabilities."""

from __future__ import annotations

import cv2
import numpy as np


def corrupt_view(
    rng: np.random.Generator, masks: np.ndarray, kps: np.ndarray, vis: np.ndarray,
    p_missed: float = 0.02, p_hole: float = 0.1, p_dropout: float = 0.05, p_soft: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns corrupted (masks [F, S, S] uint8, keypoints [F, 33, 2], visibility [F, 33], found [F])."""
    masks = masks.copy()
    kps = kps.astype(np.float64).copy()
    f, s = masks.shape[:2]
    sigma = rng.uniform(1.0, 4.0)
    kps += rng.normal(0.0, sigma, kps.shape)
    vis = np.clip(vis * rng.uniform(0.6, 1.0, vis.shape), 0.0, 1.0)
    drop = rng.random(vis.shape) < p_dropout
    vis[drop] = np.minimum(vis[drop], rng.uniform(0.0, 0.3, drop.sum()))
    kps[drop] += rng.normal(0.0, 15.0, (drop.sum(), 2))
    kernel = np.ones((3, 3), np.uint8)
    for i in range(f):
        m = masks[i]
        op = rng.integers(3)
        if op == 1:
            m = cv2.erode(m, kernel)
        elif op == 2:
            m = cv2.dilate(m, kernel)
        if rng.random() < p_soft:  # segmentation networks give soft, blurred edges
            m = cv2.GaussianBlur(m, (0, 0), rng.uniform(0.5, 1.5) * s / 128)
        noise = rng.normal(0.0, 25.0, m.shape)
        m = np.clip(m.astype(np.float64) + cv2.GaussianBlur(noise, (0, 0), 1.5) * (m > 0) * (m < 255), 0, 255)
        m = m.astype(np.uint8)
        if rng.random() < p_hole:
            ys, xs = np.nonzero(m > 128)
            for _ in range(rng.integers(1, 4)):
                if ys.size:
                    j = rng.integers(ys.size)
                    axes = (int(rng.integers(1, max(s // 16, 2))), int(rng.integers(1, max(s // 16, 2))))
                    cv2.ellipse(m, (int(xs[j]), int(ys[j])), axes, float(rng.uniform(0, 180)), 0, 360, (0,), -1)
        masks[i] = m
    found = rng.random(f) >= p_missed
    masks[~found] = 0
    vis[~found] = 0.0
    return masks, kps, vis.astype(np.float32), found
