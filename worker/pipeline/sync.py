"""Stage 2 — synchronise the two views.

Convention: offset K means frame f of the front video shows the same instant as frame f + K of
the side video (frames at the pipeline rate, 60 fps). Without a given offset it is estimated from
motion: each view's keypoint speed (mean displacement of confidently seen keypoints between
frames, divided by the person's size, so camera distance and resolution cancel) is standardised and
cross-correlated over lags ±``max_lag``; the lag with the highest Pearson correlation wins. The
confidence (0–1) is that correlation times its prominence over the median correlation of all lags.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from model_store.detections import ViewDetections

MIN_OVERLAP = 20  # frames


@dataclass(frozen=True)
class SyncResult:
    offset_frames: int
    confidence: float
    estimated: bool


def speed_signal(det: ViewDetections, min_visibility: float = 0.5) -> np.ndarray:
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


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < MIN_OVERLAP:
        return np.nan
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else np.nan


def estimate_offset(front: ViewDetections, side: ViewDetections, max_lag: int = 30) -> SyncResult:
    a, b = speed_signal(front), speed_signal(side)
    lags = np.arange(-max_lag, max_lag + 1)
    scores = np.full(lags.size, np.nan)
    for i, k in enumerate(lags):  # pair front[f] with side[f + k]
        if k >= 0:
            scores[i] = _corr(a[: max(len(a), len(b))][: len(b) - k], b[k : k + len(a)])
        else:
            scores[i] = _corr(a[-k : -k + len(b)], b[: len(a) + k])
    if not np.isfinite(scores).any():
        return SyncResult(0, 0.0, True)
    best = int(np.nanargmax(scores))
    peak = float(scores[best])
    typical = float(np.nanmedian(scores))
    prominence = (peak - typical) / max(1.0 - typical, 1e-6)
    confidence = float(np.clip(peak, 0.0, 1.0) * np.clip(prominence, 0.0, 1.0))
    return SyncResult(int(lags[best]), round(confidence, 3), True)


def synchronise(
    front: ViewDetections, side: ViewDetections, offset_frames: int | None = None
) -> SyncResult:
    if offset_frames is not None:
        return SyncResult(int(offset_frames), 1.0, False)
    return estimate_offset(front, side)
