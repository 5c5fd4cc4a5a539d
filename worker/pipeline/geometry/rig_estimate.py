"""Stage ``synchronise``, without a calibration: estimate the two cameras from the person.

The default rig (:func:`worker.pipeline.geometry.rig.default_rig`) is only a guess; real rigs put the side
camera on either side, at other angles, distances and focal lengths. After the motion-based sync,
the sync is chosen again as the time offset at which a quick rig explains the paired keypoints best
(the motion estimate can be a stride off on periodic motion; a user's offset is kept), then
:func:`model_store.geometry.self_calibration.estimate_rig` finds the rig that explains both views' keypoints at
that offset; the lags near it are tried once more with that rig, and where one fits better the rig is
estimated again there. When the keypoints do not determine a rig the default rig stays, with a warning saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_store.geometry.cameras import Camera
from model_store.geometry.self_calibration import RigEstimate, SelfCalibrationError, estimate_rig, pairing_error
from model_store.keypoints.detections import ViewTrack
from worker.pipeline.stages.synchronise import MIN_OVERLAP, SyncResult, estimate_offset_geometric, paired_frames

#: The sync search's first pass tries every this many lags (frames at 60 fps).
COARSE_STEP = 3


@dataclass(frozen=True)
class EstimatedCameras:
    """The cameras to use (estimated, or the ``fallback`` ones), the sync to use, the rig estimate
    (None when it failed) and warnings for the summary."""

    cameras: tuple[Camera, Camera]
    sync: SyncResult
    estimate: RigEstimate | None
    warnings: list[str]


def _paired(front: ViewTrack, side: ViewTrack, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints [T, 33, 3] of the frames both views share at offset ``k`` (front f ↔ side f + k)."""
    f, s = paired_frames(front.n_frames, side.n_frames, k)
    return front.keypoints[f], side.keypoints[s]


def offset_from_person(front: ViewTrack, side: ViewTrack, max_lag: int = 30) -> SyncResult | None:
    """The lag (front f ↔ side f + k, |k| ≤ ``max_lag``) at which one quick rig explains the paired
    keypoints best (:func:`~model_store.geometry.self_calibration.pairing_error`): every third lag first, then
    every lag near the three best. Lags that pair fewer than half the shorter view's frames are not
    tried (a short overlap is too easy to explain). Confidence as the calibrated geometric estimate's:
    1 − best / median error. None when no lag gives a rig."""
    shortest = min(front.n_frames, side.n_frames)
    errors: dict[int, float] = {}

    def score(k: int) -> None:
        if k in errors or abs(k) > max_lag:
            return
        a, b = _paired(front, side, k)
        if len(a) >= max(MIN_OVERLAP, shortest // 2):
            errors[k] = pairing_error(a, b, (front.image_size, side.image_size))

    for k in range(-max_lag, max_lag + 1, COARSE_STEP):
        score(k)
    coarse = sorted((e, k) for k, e in errors.items() if np.isfinite(e))[:3]
    for _, k in coarse:
        for d in range(-COARSE_STEP + 1, COARSE_STEP):
            score(k + d)
    found = {k: e for k, e in errors.items() if np.isfinite(e)}
    if not found:
        return None
    best = min(found, key=found.__getitem__)
    confidence = float(np.clip(1.0 - found[best] / np.median(list(found.values())), 0.0, 1.0))
    return SyncResult(best, round(confidence, 3), True)


def _estimate(front: ViewTrack, side: ViewTrack, k: int, height_m: float | None) -> RigEstimate:
    a, b = _paired(front, side, k)
    return estimate_rig(a, b, (front.image_size, side.image_size), height_m)


def cameras_from_person(
    front: ViewTrack, side: ViewTrack, sync: SyncResult, fallback: tuple[Camera, Camera], height_m: float | None,
) -> EstimatedCameras:
    """Whole (not yet trimmed) tracks of both views at the pipeline rate, the sync found so far (given
    by the user when ``sync.estimated`` is false: then it is kept), the default rig as ``fallback`` and
    the person's stature (m) when known."""
    try:
        if sync.estimated and (by_rig := offset_from_person(front, side)) is not None:
            sync = by_rig
        est = _estimate(front, side, sync.offset_frames, height_m)
        if sync.estimated:  # the refined rig settles the last frames of the sync, then is refined there
            near = range(sync.offset_frames - 2 * COARSE_STEP, sync.offset_frames + 2 * COARSE_STEP + 1)
            k = estimate_offset_geometric(front, side, (est.front, est.side), lags=near).offset_frames
            if k != sync.offset_frames:
                sync = SyncResult(k, sync.confidence, True)
                est = _estimate(front, side, k, height_m)
    except SelfCalibrationError as exc:
        return EstimatedCameras(fallback, sync, None, [f"the cameras could not be estimated from the person ({exc}); "
                                                       "the default rig was assumed"])
    stature = (f"the stature given ({est.stature_m:.2f} m)" if est.stature_given else
               f"a stature of {est.stature_m:.2f} m (pass height_m for the person's own)")
    note = (f"no calibration given: the cameras were estimated from the person (views "
            f"{est.angle_between_deg:.0f}° apart, median reprojection error {est.relative_error:.1%} of the "
            f"person's size); absolute sizes and positions follow {stature}")
    return EstimatedCameras((est.front, est.side), sync, est, [note])
