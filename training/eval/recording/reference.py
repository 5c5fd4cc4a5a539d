"""A 4-camera reference for the real demo recording, and the figures the 2-view pipeline is judged by.

Two references, both from all four cameras:
- *triangulated*: each keypoint triangulated (confidence-weighted DLT, :mod:`model_store.geometry.triangulation`);
  model-free three-point angles from it (knee: hip–knee–ankle keypoints; elbow: shoulder–elbow–wrist)
  and segment lengths (hip–knee "thigh", knee–ankle "shank" keypoint distances);
- *fitted*: the same fit the product runs (:func:`model_store.fit.fit_clip`), but on four views,
  with the network prior weakened tenfold and without the anatomical prior, so the evidence decides
  the joint angles.

Both start from detections whose left/right labels agree across the cameras
(:func:`consistent_laterality`): the detector swaps a person's sides in one view at times, with full
confidence (cam02 of the demo, in a third of its frames), and one swapped view is enough to pull a
4-view DLT point off.

Beside them, :func:`triangulated` of the two cameras the product uses is a model-free baseline: it
shows what those two views' keypoints alone say (a segment the detector gets long in both views
comes out long there too, whatever the network or the fit does).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from model_store.conventions import MODEL_RATE_HZ
from model_store.fit import ClipEvidence, FitSettings, NetworkPrior, fit_clip
from model_store.fit.settings import PRIOR_SIGMA_RAD
from model_store.geometry.cameras import OPENSIM_FROM_WORLD
from model_store.geometry.laterality import exchange_sides, swapped_sides
from model_store.geometry.triangulation import triangulate
from model_store.keypoints.landmarks import load_landmarks
from training.eval.recording.pose2sim_demo import Aligned

SIDES = ("left", "right")
#: Three-point angles: (name, proximal, joint, distal keypoint) per side.
THREE_POINT = (("knee", "hip", "knee", "ankle"), ("elbow", "shoulder", "elbow", "wrist"))
SEGMENTS = (("thigh", "hip", "knee"), ("shank", "knee", "ankle"))


def three_point_angles(points: np.ndarray) -> dict[str, np.ndarray]:
    """Flexion (deg, 0 = straight) per frame from landmark positions [T, 33, 3] (any frame, m)."""
    lm = load_landmarks()
    out = {}
    for name, a, b, c in THREE_POINT:
        for side in SIDES:
            pa, pb, pc = (points[:, lm.index(f"{side}_{n}")] for n in (a, b, c))
            u, v = pa - pb, pc - pb
            cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
            out[f"{name}_{side}"] = 180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def segment_lengths(points: np.ndarray) -> dict[str, float]:
    """Median keypoint distances (m) over frames: thigh (hip–knee) and shank (knee–ankle) per side."""
    lm = load_landmarks()
    out = {}
    for name, a, b in SEGMENTS:
        for side in SIDES:
            d = np.linalg.norm(points[:, lm.index(f"{side}_{a}")] - points[:, lm.index(f"{side}_{b}")], axis=-1)
            out[f"{name}_{side}"] = float(np.nanmedian(d))
    return out


class SegmentError(NamedTuple):
    """A segment's length error in percent, with the bounds of its 95 % interval."""

    pct: float
    lo: float
    hi: float


def segment_length_errors(points: np.ndarray, ref_points: np.ndarray, resamples: int = 2000,
                          seed: int = 0) -> dict[str, SegmentError]:
    """Segment lengths of ``points`` against ``ref_points`` (both [T, 33, 3], same frames, m).

    Per segment (as :func:`segment_lengths`): ``pct``, the error of the median length in percent, and
    ``lo``/``hi``, its 95 % interval from resampling the frames both share (bootstrap, ``resamples`` draws
    with a fixed ``seed``), so a figure near a threshold can be told from the frames' scatter.
    """
    lm = load_landmarks()
    rng = np.random.default_rng(seed)
    out = {}
    for name, a, b in SEGMENTS:
        for side in SIDES:
            ia, ib = lm.index(f"{side}_{a}"), lm.index(f"{side}_{b}")
            d = np.linalg.norm(points[:, ia] - points[:, ib], axis=-1)
            d_ref = np.linalg.norm(ref_points[:, ia] - ref_points[:, ib], axis=-1)
            pct = (np.nanmedian(d) / np.nanmedian(d_ref) - 1) * 100
            both = np.isfinite(d) & np.isfinite(d_ref)
            draws = rng.integers(0, both.sum(), (resamples, both.sum()))
            boot = (np.median(d[both][draws], axis=1) / np.median(d_ref[both][draws], axis=1) - 1) * 100
            lo, hi = np.percentile(boot, [2.5, 97.5])
            out[f"{name}_{side}"] = SegmentError(round(float(pct), 2), round(float(lo), 2), round(float(hi), 2))
    return out


@dataclass
class FourCameraReference:
    """``points`` [T, 33, 3] triangulated keypoints (OpenSim ground, m; NaN where < 2 views),
    ``reprojection_px`` [T, 33], and the 4-view fit's ``coords`` [T, 39] / ``scales`` [22, 3]."""

    points: np.ndarray
    reprojection_px: np.ndarray
    coords: np.ndarray
    scales: np.ndarray


def evidence_of(data: Aligned, cameras: tuple[str, ...], fps: float = MODEL_RATE_HZ) -> ClipEvidence:
    """The fit's evidence from aligned detections of the named cameras."""
    return ClipEvidence.from_views([data.views[c] for c in cameras], [data.cameras[c] for c in cameras], fps)


def triangulated(data: Aligned, cameras: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The named cameras' keypoints triangulated (confidence-weighted DLT): points [T, 33, 3] in OpenSim
    ground (m; NaN where fewer than two views count) and their reprojection error [T, 33] (px)."""
    ev = evidence_of(data, cameras)
    pts, err = triangulate(ev.keypoints, ev.confidence, ev.cameras)
    return pts @ OPENSIM_FROM_WORLD.T, err


def consistent_laterality(data: Aligned) -> tuple[Aligned, dict[str, np.ndarray]]:
    """``data`` with each view's left/right labels made to agree with the others, frame by frame
    (:func:`model_store.geometry.laterality.swapped_sides` over all its cameras; masks unchanged). Returns the
    corrected data and, per camera, which frames (bool [T]) had their sides exchanged."""
    cams = tuple(data.views)
    ev = evidence_of(data, cams)
    swapped = swapped_sides(ev.keypoints, ev.confidence, ev.cameras)
    views = {cam: replace(data.views[cam], keypoints=exchange_sides(data.views[cam].keypoints, swapped[v]))
             for v, cam in enumerate(cams)}
    return Aligned(views, data.cameras, data.start, data.offsets), {cam: swapped[v] for v, cam in enumerate(cams)}


def four_camera_reference(data: Aligned, init_coords: np.ndarray, network_angles: np.ndarray,
                          network_scales: np.ndarray) -> FourCameraReference:
    """Triangulate every keypoint with all cameras and fit the model to all views (``data`` as given:
    make its sides agree first, :func:`consistent_laterality`).

    ``init_coords`` [T, 39] starts the 4-view fit (the pipeline's 2-view answer on the same frames);
    the network's ``angles`` [T, 36] / ``scales`` [22, 3] are its (weakened) prior.
    """
    names = tuple(data.views)
    ev = evidence_of(data, names)
    pts, err = triangulated(data, names)
    weak = FitSettings(prior_sigma_rad={k: v * 10 for k, v in PRIOR_SIGMA_RAD.items()}, scale_sigma=0.3,
                       anatomical_prior=False)  # the reference rests on what four views show
    fit = fit_clip(ev, NetworkPrior(network_angles, network_scales), init_coords, weak)
    return FourCameraReference(pts, err, fit.coords, fit.scales)


def with_frames(data: Aligned, start: int, stop: int) -> Aligned:
    """``data`` restricted to its frames ``start:stop``."""
    views = {c: replace(v, masks=v.masks[start:stop], keypoints=v.keypoints[start:stop],
                        person_found=v.person_found[start:stop]) for c, v in data.views.items()}
    return Aligned(views, data.cameras, data.start + start, data.offsets)
