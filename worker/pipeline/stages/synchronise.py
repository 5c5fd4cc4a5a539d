"""Stage ``synchronise`` — align the two views in time.

Convention: offset K means frame f of the front video shows the same instant as frame f + K of
the side video (frames at the pipeline rate, 60 fps). Without a given offset it is estimated:

- with calibrated cameras, by geometry: for each candidate lag the keypoints seen in both views are
  triangulated and reprojected; the lag with the smallest median reprojection error (relative to
  the person's size in the image) wins, confidence = 1 − best / median error over all lags;
- otherwise from motion: each view's keypoint speed (mean displacement of confidently seen keypoints between
frames, divided by the person's size, so camera distance and resolution cancel) is standardised and
cross-correlated over lags ±``max_lag``; the lag with the highest Pearson correlation wins. The
confidence (0–1) is that correlation times its prominence over the median correlation of all lags.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model_store.geometry.cameras import Camera
from model_store.geometry.triangulation import dlt_points
from model_store.keypoints.detections import PersonTrack

MIN_OVERLAP = 20  # frames
LAG_PENALTY = 0.003  # correlation units per frame of shift


@dataclass(frozen=True)
class SyncResult:
    offset_frames: int
    confidence: float
    estimated: bool


def speed_signal(det: PersonTrack, min_visibility: float = 0.5) -> np.ndarray:
    """Normalised keypoint speed per frame [T] (NaN where the person is missing)."""
    kp = det.keypoints
    vis = (kp[..., 2] >= min_visibility) & det.person_found[:, None]
    xy = kp[..., :2]
    seen = np.where(vis[..., None], xy, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        size = np.nanmax(np.nanmax(seen, axis=1) - np.nanmin(seen, axis=1), axis=1)
    speed = np.full(kp.shape[0], np.nan)
    both = vis[1:] & vis[:-1]
    d = np.linalg.norm(xy[1:] - xy[:-1], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(both, d, 0.0).sum(1) / both.sum(1) / size[1:]
    speed[1:] = np.where(both.sum(1) >= 5, s, np.nan)
    return speed


def correlation(a: np.ndarray, b: np.ndarray, min_samples: int = MIN_OVERLAP) -> float:
    """Pearson correlation of two equally long series over the samples finite in both; NaN when fewer
    than ``min_samples`` are, or when either is constant there."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < min_samples:
        return np.nan
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else np.nan


def estimate_offset(front: PersonTrack, side: PersonTrack, max_lag: int = 30) -> SyncResult:
    a, b = speed_signal(front), speed_signal(side)
    lags = np.arange(-max_lag, max_lag + 1)
    scores = np.full(lags.size, np.nan)
    for i, k in enumerate(lags):  # pair front[f] with side[f + k] (none for a lag past a clip's end)
        f, s = paired_frames(len(a), len(b), int(k))
        scores[i] = correlation(a[f], b[s])
    if not np.isfinite(scores).any():
        return SyncResult(0, 0.0, True)
    # gait is periodic: among near-equal peaks prefer the smallest shift
    best = int(np.nanargmax(scores - LAG_PENALTY * np.abs(lags)))
    peak = float(scores[best])
    typical = float(np.nanmedian(scores))
    prominence = (peak - typical) / max(1.0 - typical, 1e-6)
    confidence = float(np.clip(peak, 0.0, 1.0) * np.clip(prominence, 0.0, 1.0))
    return SyncResult(int(lags[best]), round(confidence, 3), True)


def paired_frames(n_front: int, n_side: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the front and side frames that show the same instants at offset ``k`` (front f ↔ side f + k)."""
    f = np.arange(max(0, -k), min(n_front, n_side - k))
    return f, f + k


def estimate_offset_geometric(
    front: PersonTrack, side: PersonTrack, cams: tuple[Camera, Camera], max_lag: int = 30,
    min_visibility: float = 0.5, lags: Sequence[int] | None = None,
) -> SyncResult:
    """Lag minimising the two-view reprojection error of triangulated keypoints (calibrated cameras), among
    ``lags`` (default: −``max_lag`` … ``max_lag``)."""
    proj = [c.projection_matrix for c in cams]
    und = [c.undistort_points(d.keypoints[..., :2]) for c, d in zip(cams, (front, side), strict=True)]
    vis = [(d.keypoints[..., 2] >= min_visibility) & d.person_found[:, None] for d in (front, side)]
    tried = np.arange(-max_lag, max_lag + 1) if lags is None else np.asarray(lags)
    errors = np.full(tried.size, np.nan)
    for i, k in enumerate(tried):
        f, s = paired_frames(front.n_frames, side.n_frames, int(k))
        if f.size < MIN_OVERLAP:
            continue
        ok = vis[0][f] & vis[1][s]
        if ok.sum() < MIN_OVERLAP:
            continue
        a, b = und[0][f][ok], und[1][s][ok]
        x = dlt_points(np.stack([a, b]), np.ones((2, len(a))), np.stack(proj))
        err = []
        for p, uv in ((proj[0], a), (proj[1], b)):
            h = x @ p[:, :3].T + p[:, 3]
            err.append(np.linalg.norm(h[:, :2] / h[:, 2:3] - uv, axis=1))
        errors[i] = float(np.median(np.concatenate(err)))
    if not np.isfinite(errors).any():
        return estimate_offset(front, side, max_lag)
    best = int(np.nanargmin(errors))
    confidence = float(np.clip(1.0 - errors[best] / np.nanmedian(errors), 0.0, 1.0))
    return SyncResult(int(tried[best]), round(confidence, 3), True)


def synchronise(
    front: PersonTrack, side: PersonTrack, offset_frames: int | None = None,
    cams: tuple[Camera, Camera] | None = None,
) -> SyncResult:
    """Given offset, else geometric estimate with calibrated ``cams``, else the motion estimate."""
    if offset_frames is not None:
        return SyncResult(int(offset_frames), 1.0, False)
    if cams is not None:
        return estimate_offset_geometric(front, side, cams)
    return estimate_offset(front, side)
