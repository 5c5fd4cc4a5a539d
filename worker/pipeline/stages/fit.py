"""Stage ``fit`` — fit the biomechanical model to the keypoints of both views, starting from the network.

``refine="fit"`` (default) runs :func:`model_store.fit.fit_clip`: every frame's 39 coordinates and
one scale set, against the detected keypoints of both calibrated views (lens distortion included),
with the network's angles as a prior where the images are ambiguous, OpenSim's ranges, smoothness
and the subject's height when given. ``refine="none"`` keeps the network's answer.

Either way the answer is checked against what the cameras saw: reprojection residuals per view
(median and 95th percentile px, per frame in ``fit_residuals.csv``), frames whose residual is far
above the clip's flagged, and a warning when the clip's residual is too large for a trustworthy
result (wrong calibration, wrong synchronisation, or two different people).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model_store import results
from model_store.biomech import write_mot
from model_store.conventions import VIEW_NAMES
from model_store.fit import ClipEvidence, FitError, FitSettings, NetworkPrior, fit_clip, measure_reprojection
from model_store.geometry.cameras import Camera
from model_store.keypoints.detections import PersonTrack
from model_store.network.outputs import ROTATIONAL_COORDINATES, rotational_indices
from worker.errors import ErrorCode
from worker.pipeline.contract import REFINE_MODES, PipelineError
from worker.pipeline.stages.assemble import InitialMotion

#: A frame is flagged when its residual exceeds this multiple of the clip's median …
FLAG_FACTOR = 3.0
#: … and this fraction of the person's height in the image.
FLAG_MIN_FRACTION = 0.015
#: A clip whose median residual (either view) exceeds this fraction of the person's height is untrustworthy.
WARN_FRACTION = 0.04
#: Keypoints with a lower confidence do not count towards the residual statistics.
STATS_MIN_CONFIDENCE = 0.5


@dataclass
class Refined:
    """The motion to write (``coords`` [T, 39] rad / m, ``scales`` [22, 3]), the per-frame standard
    deviations ``sigma`` [T, 39] (rad / m, NaN without a fit), and the summary's ``report``."""

    coords: np.ndarray
    scales: np.ndarray
    sigma: np.ndarray | None
    per_frame: np.ndarray  # [T, V, 2] median and p95 residual px (NaN where nothing was seen)
    flagged: np.ndarray  # bool [T]
    report: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _residual_stats(evidence: ClipEvidence, residual_px: np.ndarray,
                    height_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Residuals [V, T, 33] px and person heights [V, T] px → per-frame [T, V, 2] (median, p95 px),
    flagged frames [T] and the clip's per-view statistics."""
    used = evidence.confidence >= STATS_MIN_CONFIDENCE
    res = np.where(used, residual_px, np.nan)  # [V, T, 33]
    v, t = res.shape[:2]
    per_frame = np.full((t, v, 2), np.nan)
    seen = used.any(-1)  # [V, T]
    with np.errstate(all="ignore"):
        for i in range(v):
            rows = res[i, seen[i]]
            per_frame[seen[i], i, 0] = np.nanmedian(rows, axis=1)
            per_frame[seen[i], i, 1] = np.nanpercentile(rows, 95, axis=1)
        frac = per_frame[..., 0] / height_px.T  # [T, V] per-frame median / person height
        clip_median = np.nanmedian(frac, axis=0)  # [V]
        flagged = np.nan_to_num((frac > FLAG_FACTOR * clip_median) & (frac > FLAG_MIN_FRACTION)).any(1)
    stats = {}
    for i in range(v):
        name = VIEW_NAMES[i] if v == 2 else evidence.cameras[i].name
        vals = res[i][np.isfinite(res[i])]
        stats[name] = {
            "median_px": round(float(np.median(vals)), 2) if vals.size else None,
            "p95_px": round(float(np.percentile(vals, 95)), 2) if vals.size else None,
            "median_pct_of_height": round(float(clip_median[i]) * 100, 2) if np.isfinite(clip_median[i]) else None,
            "keypoints_used": int(vals.size),
        }
    return per_frame, flagged, stats


def _warnings(stats: dict) -> list[str]:
    out = []
    for view, st in stats.items():
        pct = st["median_pct_of_height"]
        if pct is not None and pct > WARN_FRACTION * 100:
            out.append(f"the model cannot explain the {view} view's keypoints well (median reprojection error "
                       f"{st['median_px']} px, {pct} % of the person's height): check the calibration, the "
                       "synchronisation, and that both videos show the same person")
    return out


def refine_motion(
    views: tuple[PersonTrack, PersonTrack],
    cams: tuple[Camera, Camera],
    network_angles: np.ndarray,
    initial: InitialMotion,
    fps: float,
    refine: str = "fit",
    height_m: float | None = None,
    settings: FitSettings | None = None,
    progress: Callable[[float], None] | None = None,
) -> Refined:
    """Refine (or keep) the network's motion and measure it against the keypoints.

    ``network_angles`` [T, 36] rad (NaN where the network saw nobody), ``initial`` the complete
    network motion. Raises :class:`PipelineError` (``fit_no_keypoints``, ``fit_diverged``,
    ``fit_invalid_input``) when a fit cannot give a trustworthy answer.
    """
    if refine not in REFINE_MODES:
        raise PipelineError(ErrorCode.INVALID_REQUEST,
                            f"refine must be one of {', '.join(REFINE_MODES)}, got {refine!r}")
    evidence = ClipEvidence.from_views(views, cams, fps)
    if refine == "none":
        per_frame, flagged, stats = _residual_stats(
            evidence, *measure_reprojection(evidence, initial.coords, initial.scales))
        report = {"refine": "none", "residuals": stats, "flagged_frames": np.flatnonzero(flagged).tolist()}
        return Refined(initial.coords, initial.scales, None, per_frame, flagged, report, _warnings(stats))
    prior = NetworkPrior(angles=network_angles, scales=initial.scales, height_m=height_m)
    try:
        result = fit_clip(evidence, prior, initial.coords, settings, progress=progress)
    except FitError as exc:
        raise PipelineError(exc.code, exc.message) from exc
    per_frame, flagged, stats = _residual_stats(evidence, result.residual_px, result.height_px)
    rot = rotational_indices()
    fitted = np.isfinite(result.sigma[:, rot]).any(0)  # locked and coupled coordinates are not fitted
    with np.errstate(all="ignore"):
        sig_deg = np.degrees(np.nanmedian(np.where(fitted, result.sigma[:, rot], 0.0), axis=0))
    delta = result.coords[:, rot] - initial.coords[:, rot]
    delta_deg = np.degrees(np.abs(np.arctan2(np.sin(delta), np.cos(delta))).mean(0))
    report = {
        "refine": "fit",
        "residuals": stats,
        "flagged_frames": np.flatnonzero(flagged).tolist(),
        "solver": {"iterations": result.iterations, "evaluations": result.evaluations,
                   "seconds": round(result.seconds, 3),
                   "keypoint_noise_pct_of_height": round(result.keypoint_sigma * 100, 2),
                   "objective_per_frame": {k: round(v, 4) for k, v in result.objective.items()},
                   "initial_objective_per_frame": {k: round(v, 4) for k, v in result.initial_objective.items()}},
        "uncertainty_deg": {
            name: {"sd_median": round(float(s), 2), "fit_minus_network_mean_abs": round(float(d), 2)}
            for name, s, d, ok in zip(ROTATIONAL_COORDINATES, sig_deg, delta_deg, fitted, strict=True) if ok
        },
    }
    return Refined(result.coords, result.scales, result.sigma, per_frame, flagged, report, _warnings(stats))


def write_fit_files(refined: Refined, out_dir: Path, fps: float) -> list[str]:
    """``fit_residuals.csv`` (per frame and view: median / p95 px, flagged) and, after a fit,
    ``kinematics_sd.sto`` (per-frame standard deviations, degrees / metres; 0 for the coordinates the
    fit does not estimate: locked ones, held at their defaults, and coupled ones). Returns the names."""
    names = []
    path = out_dir / results.FIT_RESIDUALS
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time_s", "front_median_px", "front_p95_px", "side_median_px", "side_p95_px",
                    "flagged"])
        for i, row in enumerate(refined.per_frame):
            vals = ["" if not np.isfinite(x) else f"{x:.2f}" for x in row.reshape(-1)]
            w.writerow([i, f"{i / fps:.4f}", *vals, int(refined.flagged[i])])
    names.append(path.name)
    if refined.sigma is not None:
        sd = np.nan_to_num(refined.sigma, nan=0.0)
        write_mot(out_dir / results.KINEMATICS_SD, np.arange(sd.shape[0]) / fps, sd, name="kinematics_sd")
        names.append(results.KINEMATICS_SD)
    return names
