"""Confidence-weighted linear (DLT) triangulation from any number of calibrated views.

Inputs are distorted pixels as detectors give them; they are undistorted with each camera's lens
model first. Output points are in the calibration world frame (Z up, metres).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model_store.geometry.cameras import Camera


def dlt_points(undistorted: np.ndarray, weights: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """The linear (DLT) solution for ``N`` points seen in ``V`` views: ``undistorted`` [V, N, 2] ideal
    pinhole px, ``weights`` [V, N] (each view's two rows are scaled by its weight; 0 leaves the view
    out), ``projections`` [V, 3, 4] (``Camera.projection_matrix``). Returns world points [N, 3] (m;
    not finite where the views do not determine the point)."""
    und = np.asarray(undistorted, np.float64)
    w = np.asarray(weights, np.float64)
    proj = np.asarray(projections, np.float64)
    a = np.empty((und.shape[1], 2 * und.shape[0], 4))
    for i in range(und.shape[0]):
        a[:, 2 * i] = w[i, :, None] * (und[i, :, 0:1] * proj[i, 2] - proj[i, 0])
        a[:, 2 * i + 1] = w[i, :, None] * (und[i, :, 1:2] * proj[i, 2] - proj[i, 1])
    _, _, vt = np.linalg.svd(a)
    hom = vt[:, -1]
    with np.errstate(all="ignore"):
        return hom[:, :3] / hom[:, 3:4]


def triangulate(px: np.ndarray, confidence: np.ndarray, cameras: Sequence[Camera],
                min_confidence: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Points seen in ``V`` views → world points.

    ``px`` [V, ..., 2] distorted pixels, ``confidence`` [V, ...] in 0–1. A view counts for a point
    when its confidence is at least ``min_confidence``; its two DLT rows are weighted by it. Returns
    points [..., 3] (m; NaN where fewer than two views count) and the mean reprojection error of the
    counted views [...] (px, NaN likewise).
    """
    px = np.asarray(px, np.float64)
    conf = np.asarray(confidence, np.float64)
    v = px.shape[0]
    shape = px.shape[1:-1]
    flat = px.reshape(v, -1, 2)
    w = np.where(conf.reshape(v, -1) >= min_confidence, conf.reshape(v, -1), 0.0)
    w[~np.isfinite(flat).all(-1)] = 0.0
    und = np.stack([c.undistort_points(np.nan_to_num(flat[i])) for i, c in enumerate(cameras)])
    pts = dlt_points(und, w, np.stack([c.projection_matrix for c in cameras]))
    counted = (w > 0).sum(0)
    pts[counted < 2] = np.nan
    err = np.full(flat.shape[1], np.nan)
    ok = counted >= 2
    if ok.any():
        errs = np.stack([np.linalg.norm(c.project(pts[ok]) - flat[i, ok], axis=-1) for i, c in enumerate(cameras)])
        used = w[:, ok] > 0
        err[ok] = (errs * used).sum(0) / used.sum(0)
    return pts.reshape(*shape, 3), err.reshape(shape)
