"""A tiny, self-contained two-view data generator for training tests (not the synthetic engine).

Poses are random smooth motions through the real FK; "keypoints" are projected joint centres,
"masks" are discs drawn at them. Enough signal for a few optimisation steps to reduce the loss.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from model_store.biomech import load_fullbody_model
from training.data.sequences import SequenceArrays


def _camera(yaw: float, dist: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = np.array([[900.0, 0, 320], [0, 900.0, 320], [0, 0, 1]])
    c, s = np.cos(yaw), np.sin(yaw)
    ry = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    flip = np.diag([1.0, -1.0, -1.0])  # camera looks along -z of ground, image y down
    r = flip @ ry
    centre = ry.T @ np.array([0.0, 0.0, dist]) + np.array([0.0, 1.0, 0.0])
    return k, r, -r @ centre


def toy_sequences(n: int, frames: int, input_size: int, seed: int = 0) -> SequenceArrays:
    rng = np.random.default_rng(seed)
    fk = load_fullbody_model()
    ranges = fk.coordinate_ranges.numpy()
    mid = fk.default_coordinates.numpy()
    span = np.minimum(ranges[:, 1] - mid, mid - ranges[:, 0]).clip(0, 0.6)
    t = np.arange(frames) / 30.0
    coords = np.empty((n, frames, 39))
    for i in range(n):
        phase = rng.uniform(0, 2 * np.pi, 39)
        coords[i] = mid + 0.8 * span * np.sin(2 * np.pi * 0.7 * t[:, None] + phase)
    coords[..., 3:6] = 0.0
    coords[..., 4] = 0.95
    scales = rng.uniform(0.9, 1.1, (n, 22, 3))
    q = torch.tensor(coords.reshape(-1, 39))
    out = fk(q, torch.tensor(np.repeat(scales, frames, axis=0)))
    joints = out.joint_centers.numpy().reshape(n, frames, 22, 3)
    coords = out.coords.numpy().reshape(n, frames, 39)
    cams = [_camera(0.0, 4.0), _camera(np.pi / 2, 4.0)]
    k = np.stack([np.stack([c[0] for c in cams])] * n)
    r = np.stack([np.stack([c[1] for c in cams])] * n)
    tt = np.stack([np.stack([c[2] for c in cams])] * n)
    masks = np.zeros((n, frames, 2, input_size, input_size), np.uint8)
    kps = np.zeros((n, frames, 2, 33, 3), np.float32)
    crops = np.zeros((n, frames, 2, 3), np.float32)
    for v in range(2):
        cam = (joints @ r[0, v].T + tt[0, v]) @ k[0, v].T
        px = cam[..., :2] / cam[..., 2:3]  # [n, f, 22, 2]
        lo, hi = px.min(2), px.max(2)
        side = (hi - lo).max(-1) * 1.3 + 1e-3
        x0y0 = (lo + hi) / 2 - side[..., None] / 2
        scale = 256.0 / side
        crops[:, :, v] = np.concatenate([x0y0, scale[..., None]], -1)
        crop_px = (px - x0y0[:, :, None]) * scale[..., None, None]
        kps[:, :, v, :22, :2] = crop_px
        kps[:, :, v, :22, 2] = 1.0
        for i in range(n):
            for f in range(frames):
                img = np.zeros((input_size, input_size), np.uint8)
                for p in crop_px[i, f] * input_size / 256.0:
                    cv2.circle(img, (int(p[0]), int(p[1])), max(input_size // 12, 1), 255, -1)
                masks[i, f, v] = img
    return SequenceArrays(
        masks=masks, keypoints=kps, crops=crops, k=k.astype(np.float32), r=r.astype(np.float32),
        t=tt.astype(np.float32), coords=coords.astype(np.float32), scales=scales.astype(np.float32),
        valid=np.ones((n, frames), bool),
    )
