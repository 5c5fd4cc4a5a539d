"""Make exact synthetic detections look like a real detector's, for evaluating the whole pipeline.

Input and output are :class:`~model_store.keypoints.detections.ViewDetections` of one clip's two views:
masks uint8 [T, H, W] (0–255, full frame), keypoints float32 [T, 33, 3] (x, y in full-frame px,
y down, visibility 0–1), person_found bool [T]. All sizes below are in full-frame pixels of the view
they apply to, times in seconds, and the person's height ``h`` is in px in that view.

What :func:`perturb_clip_detections` applies, per view, only on frames where a person was found:

- **Keypoint noise**: zero-mean, std ``noise_frac``·h per axis. A share (``jitter_share`` of the
  variance) is white frame-to-frame jitter; the rest is Gaussian-filtered white noise (σ =
  ``corr_time_s``), rescaled analytically to its share of the variance, so the error wanders
  smoothly over ~0.1 s as a detector's does.
- **Per-landmark bias**: a fixed 2-D offset per landmark for the whole clip, std ``bias_frac``·h per
  axis, drawn independently per view (a detector's systematic error depends on how the body looks
  from that camera; its 3-D consistency across views is not modelled).
- **Dropouts**: about ``p_drop`` of the keypoints are lost, in runs (mean ``drop_run_s``) per
  landmark: visibility 0–0.2 and the position thrown off by a random offset of std
  ``drop_offset_frac``·h (constant within a run, as when a detector latches onto another limb).
  Other visibilities are scaled by a factor uniform in 1 − ``visibility_jitter`` … 1.
- **Masks**: grown (dilated, radius r > 0) or shrunk (eroded, r < 0) with an elliptical kernel; r is
  drawn per clip and view, uniformly from −``mask_px``…``mask_px``, then varies by up to
  ``mask_jitter_px`` per frame (clipped to the same bounds). A fraction ``p_soft`` of frames gets
  soft (Gaussian-blurred, σ 1–3 px) edges.
- **Swapped sides** (off by default, ``p_swap`` 0): in runs of frames (mean ``swap_run_s``), about
  ``p_swap`` of a view's frames get the person's left and right labels exchanged, all landmark pairs
  at once with their visibilities, as a detector does when it takes a person's back for their front
  (seen on the real demo recording: one camera in a third of its frames, at full confidence). Drawn
  after everything else, so the other errors of a clip do not change when it is turned on.
- **Sync error**: the side view is delayed by k frames, k uniform over the integers in
  ``sync_frames`` (inclusive): side frame f now shows what was at frame f − k (edge frames repeated,
  lengths unchanged). A synchroniser should then find ``front frame f = side frame f + k``.

The height h is ``height_px`` when given (front, side), else the 90th percentile over found frames
of the mask's vertical extent (rows with mask ≥ 128); if a view has no mask pixels, 1.1 × the same
percentile of the vertical extent of its visible keypoints (nose to heels, ~94 % of stature). One
value per view and clip (a high percentile, not a per-frame value) is used so that a crouching
person's errors do not shrink with their silhouette.
Inputs are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from model_store.conventions import VIEW_NAMES
from model_store.geometry.laterality import exchange_sides
from model_store.keypoints.detections import ViewDetections

_DROP_VISIBILITY_MAX = 0.2
_KEYPOINT_HEIGHT_FACTOR = 1.1  # stature ≈ 1.1 × nose-to-heel extent
_HEIGHT_PERCENTILE = 90.0  # of per-frame extents: near the standing height even if the person crouches


@dataclass(frozen=True)
class NoiseSettings:
    """Strengths of the simulated detector errors (see the module docstring; fractions of height h)."""

    noise_frac: float = 0.015
    bias_frac: float = 0.01
    p_drop: float = 0.05
    mask_px: int = 3
    sync_frames: tuple[int, int] = (-1, 1)
    corr_time_s: float = 0.1
    jitter_share: float = 0.25
    drop_run_s: float = 0.05
    drop_offset_frac: float = 0.15
    mask_jitter_px: int = 1
    p_soft: float = 0.1
    visibility_jitter: float = 0.15
    p_swap: float = 0.0
    swap_run_s: float = 0.5

    def __post_init__(self) -> None:
        lo, hi = self.sync_frames
        if lo > hi:
            raise ValueError(f"sync_frames must be (low, high) with low <= high, got {self.sync_frames}")
        if not 0.0 <= self.p_drop < 1.0 or not 0.0 <= self.p_swap < 1.0 or not all(0.0 <= x <= 1.0 for x in (
            self.p_soft, self.jitter_share, self.visibility_jitter
        )):
            raise ValueError("p_drop and p_swap must be in [0, 1); p_soft, jitter_share and visibility_jitter "
                             "in [0, 1]")
        if min(self.noise_frac, self.bias_frac, self.drop_offset_frac, self.corr_time_s, self.drop_run_s,
               self.swap_run_s) < 0:
            raise ValueError("noise fractions and times must be non-negative")
        if self.mask_px < 0 or self.mask_jitter_px < 0:
            raise ValueError("mask_px and mask_jitter_px must be non-negative")


def perturb_clip_detections(
    rng: np.random.Generator,
    front: ViewDetections,
    side: ViewDetections,
    height_px: tuple[float, float] | None = None,
    *,
    noise_frac: float = 0.015,
    bias_frac: float = 0.01,
    p_drop: float = 0.05,
    mask_px: int = 3,
    sync_frames: tuple[int, int] = (-1, 1),
    corr_time_s: float = 0.1,
    jitter_share: float = 0.25,
    drop_run_s: float = 0.05,
    drop_offset_frac: float = 0.15,
    mask_jitter_px: int = 1,
    p_soft: float = 0.1,
    visibility_jitter: float = 0.15,
    p_swap: float = 0.0,
    swap_run_s: float = 0.5,
) -> tuple[ViewDetections, ViewDetections, dict[str, Any]]:
    """Perturbed copies of a clip's (front, side) detections and a JSON-ready description of what was done.

    ``height_px``: the person's height (px) in the front and side views; estimated when None. The
    other arguments are the :class:`NoiseSettings` fields (see the module docstring). The returned
    dict has ``sync_shift_frames`` (k), ``sync_convention``, ``settings`` and, per view (``front``,
    ``side``): ``height_px``, ``noise_std_px``, ``bias_std_px``, ``dropped_fraction`` (of keypoints
    on frames with a person), ``mask_radius_px`` (the per-clip r), ``soft_edge_frames`` and
    ``swapped_frames`` (indices of the frames whose sides were swapped).
    """
    settings = NoiseSettings(
        noise_frac=noise_frac, bias_frac=bias_frac, p_drop=p_drop, mask_px=mask_px,
        sync_frames=(int(sync_frames[0]), int(sync_frames[1])), corr_time_s=corr_time_s,
        jitter_share=jitter_share, drop_run_s=drop_run_s, drop_offset_frac=drop_offset_frac,
        mask_jitter_px=mask_jitter_px, p_soft=p_soft, visibility_jitter=visibility_jitter,
        p_swap=p_swap, swap_run_s=swap_run_s,
    )
    if front.n_frames != side.n_frames:
        raise ValueError(f"views differ in length: front {front.n_frames}, side {side.n_frames} frames")
    heights = (None, None) if height_px is None else (float(height_px[0]), float(height_px[1]))
    shift = int(rng.integers(settings.sync_frames[0], settings.sync_frames[1] + 1))
    out: list[ViewDetections] = []
    info: dict[str, Any] = {
        "sync_shift_frames": shift,
        "sync_convention": "side view delayed by k frames: front frame f = side frame f + k",
        "settings": {**settings.__dict__, "sync_frames": list(settings.sync_frames)},
    }
    for name, det, h in (("front", front, heights[0]), ("side", side, heights[1])):
        if name == "side":
            det = shift_view(det, shift)
        perturbed, view_info = perturb_view(rng, det, settings, h)
        out.append(perturbed)
        info[name] = view_info
    for i, name in enumerate(VIEW_NAMES):  # last, so that the draws above do not depend on p_swap
        out[i], info[name]["swapped_frames"] = swap_sides(rng, out[i], settings)
    return out[0], out[1], info


def swap_sides(
    rng: np.random.Generator, det: ViewDetections, settings: NoiseSettings
) -> tuple[ViewDetections, list[int]]:
    """``det`` with left and right exchanged on runs of frames (``p_swap``, ``swap_run_s``; frames with a
    person only), and the indices of those frames; ``det`` itself when ``p_swap`` is 0 (no draws)."""
    if settings.p_swap <= 0:
        return det, []
    swapped = _drop_runs(rng, det.n_frames, 1, settings.p_swap, settings.swap_run_s * det.fps)[:, 0] & det.person_found
    kp = exchange_sides(det.keypoints, swapped)
    return ViewDetections(det.masks, kp, det.person_found, det.fps, det.image_size), np.flatnonzero(swapped).tolist()


def shift_view(det: ViewDetections, k: int) -> ViewDetections:
    """A copy of ``det`` delayed by ``k`` frames (k < 0: advanced): frame f shows input frame f − k,
    clamped to the first/last frame, so the length is unchanged."""
    src = np.clip(np.arange(det.n_frames) - k, 0, det.n_frames - 1)
    return ViewDetections(
        masks=det.masks[src].copy(), keypoints=det.keypoints[src].copy(),
        person_found=det.person_found[src].copy(), fps=det.fps, image_size=det.image_size,
    )


def perturb_view(
    rng: np.random.Generator, det: ViewDetections, settings: NoiseSettings, height_px: float | None = None
) -> tuple[ViewDetections, dict[str, Any]]:
    """One view's detections with keypoint noise, bias, dropouts and mask errors (see the module docstring)."""
    h = float(height_px) if height_px is not None else estimate_height_px(det)
    found = det.person_found.astype(bool)
    kp, dropped = _perturb_keypoints(rng, det.keypoints, found, det.fps, h, settings)
    masks, radius, soft = _perturb_masks(rng, det.masks, found, settings)
    n_found = int(found.sum())
    view_info = {
        "height_px": h,
        "noise_std_px": settings.noise_frac * h,
        "bias_std_px": settings.bias_frac * h,
        "dropped_fraction": float(dropped[found].mean()) if n_found else 0.0,
        "mask_radius_px": radius,
        "soft_edge_frames": soft,
    }
    return ViewDetections(masks, kp, found.copy(), det.fps, det.image_size), view_info


def estimate_height_px(det: ViewDetections) -> float:
    """The person's height (px) in a view: 90th percentile over found frames of the mask's vertical
    extent (rows with mask ≥ 128), else 1.1 × that of the visible (≥ 0.5) keypoints' extent."""
    found = np.flatnonzero(det.person_found)
    rows = det.masks[found] >= 128
    extents = []
    for r in rows.any(axis=2):
        idx = np.flatnonzero(r)
        if idx.size:
            extents.append(idx[-1] - idx[0] + 1)
    if extents:
        return float(np.percentile(extents, _HEIGHT_PERCENTILE))
    kp = det.keypoints[found]
    spans = [np.ptp(k[k[:, 2] >= 0.5, 1]) for k in kp if (k[:, 2] >= 0.5).sum() >= 2]
    if spans:
        return float(_KEYPOINT_HEIGHT_FACTOR * np.percentile(spans, _HEIGHT_PERCENTILE))
    raise ValueError("cannot estimate the person's height: no mask pixels and no visible keypoints")


def correlated_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_frames: float) -> np.ndarray:
    """Stationary unit-variance Gaussian noise of ``shape`` (time first), smoothed along time by a
    Gaussian of σ = ``sigma_frames`` frames (white when σ < 0.3)."""
    if sigma_frames < 0.3:
        return rng.standard_normal(shape)
    pad = int(4.0 * sigma_frames + 0.5) + 1
    raw = rng.standard_normal((shape[0] + 2 * pad, *shape[1:]))
    smooth = gaussian_filter1d(raw, sigma_frames, axis=0, mode="constant", truncate=4.0)[pad : pad + shape[0]]
    impulse = np.zeros(2 * pad + 1)
    impulse[pad] = 1.0
    gain = np.sqrt((gaussian_filter1d(impulse, sigma_frames, mode="constant", truncate=4.0) ** 2).sum())
    return smooth / gain


def _drop_runs(rng: np.random.Generator, frames: int, landmarks: int, p: float, mean_run: float) -> np.ndarray:
    """Boolean [frames, landmarks]: a two-state Markov chain per landmark, stationary fraction ``p``
    in the dropped state, mean dropped-run length ``mean_run`` frames (≥ 1)."""
    if p <= 0.0:
        return np.zeros((frames, landmarks), bool)
    end = 1.0 / max(mean_run, 1.0)
    start = min(1.0, p * end / (1.0 - p))
    state = rng.random(landmarks) < p
    out = np.empty((frames, landmarks), bool)
    u = rng.random((frames, landmarks))
    for f in range(frames):
        if f:
            state = np.where(state, u[f] >= end, u[f] < start)
        out[f] = state
    return out


def _perturb_keypoints(
    rng: np.random.Generator, keypoints: np.ndarray, found: np.ndarray, fps: float, h: float, s: NoiseSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy keypoints float32 [T, 33, 3] and the dropped mask bool [T, 33] (false on frames without a person)."""
    t, n = keypoints.shape[:2]
    kp = keypoints.astype(np.float64, copy=True)
    smooth = correlated_noise(rng, (t, n, 2), s.corr_time_s * fps)
    white = rng.standard_normal((t, n, 2))
    noise = np.sqrt(1.0 - s.jitter_share) * smooth + np.sqrt(s.jitter_share) * white
    bias = rng.normal(0.0, s.bias_frac * h, (1, n, 2))
    dropped = _drop_runs(rng, t, n, s.p_drop, s.drop_run_s * fps) & found[:, None]
    run_id = np.cumsum(np.vstack([dropped[:1], dropped[1:] & ~dropped[:-1]]), axis=0)  # new id per run start
    offsets = rng.normal(0.0, s.drop_offset_frac * h, (int(run_id.max(initial=0)) + 1, n, 2))
    jump = offsets[run_id, np.arange(n)[None, :]] * dropped[..., None]
    delta = (s.noise_frac * h * noise + bias + jump) * found[:, None, None]
    kp[..., :2] += delta
    vis = kp[..., 2] * np.where(found[:, None], rng.uniform(1.0 - s.visibility_jitter, 1.0, (t, n)), 1.0)
    vis = np.where(dropped, rng.uniform(0.0, _DROP_VISIBILITY_MAX, (t, n)), vis)
    kp[..., 2] = np.clip(vis, 0.0, 1.0)
    return kp.astype(np.float32), dropped


def _perturb_masks(
    rng: np.random.Generator, masks: np.ndarray, found: np.ndarray, s: NoiseSettings
) -> tuple[np.ndarray, int, int]:
    """Eroded/dilated masks uint8 [T, H, W] (soft edges on some frames), the per-clip radius r (px) and
    the number of soft-edged frames."""
    out = masks.copy()
    r_clip = int(rng.integers(-s.mask_px, s.mask_px + 1))
    jitter = rng.integers(-s.mask_jitter_px, s.mask_jitter_px + 1, len(masks))
    soft = rng.random(len(masks)) < s.p_soft
    sigmas = rng.uniform(1.0, 3.0, len(masks))
    n_soft = 0
    for f in np.flatnonzero(found):
        r = int(np.clip(r_clip + jitter[f], -s.mask_px, s.mask_px))
        m = out[f]
        if r:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(r) + 1, 2 * abs(r) + 1))
            m = cv2.dilate(m, kernel) if r > 0 else cv2.erode(m, kernel)
        if soft[f]:
            m = cv2.GaussianBlur(m, (0, 0), float(sigmas[f]))
            n_soft += 1
        out[f] = m
    return out, r_clip, n_soft
