"""Stage ``infer`` — network inference over overlapping windows, blended.

Network inputs per frame and view: the mask crop around the person (margin 1.1, resampled to the
network's input size), the 33 keypoints undistorted and mapped into crop px (visibility kept), the
crop metadata, and the cameras expressed for OpenSim-ground points. Windows of ``predictor.window``
frames advance by half a window; per-frame outputs are blended with triangular weights (angles through sin/cos), frames
without a person in both views get no weight (their angles are NaN, filled later), and the
window scale sets are averaged by their number of valid frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model_store.geometry.cameras import Camera
from model_store.keypoints.detections import N_LANDMARKS, ViewTrack
from model_store.network.inputs import NetworkInputs
from model_store.network.predictor import Predictor
from model_store.sizes import N_BODIES, N_ROTATIONAL


@dataclass
class ClipInputs:
    """The network's inputs for every frame of a synchronised clip, numpy. Frames without the person
    in both views take the inputs of the nearest frame with it (``source``); the mask crops stay in
    the tracks (``view_masks``, not copied) and are gathered per window by :meth:`masks`;
    :meth:`window` gives the network's :class:`~model_store.network.inputs.NetworkInputs`."""

    view_masks: tuple[np.ndarray, np.ndarray]  # float32 [T, S, S] per view, [0, 1]
    source: np.ndarray  # int [T]: the frame whose inputs frame i uses
    keypoints: np.ndarray  # float32 [T, 2, 33, 3] crop px (of the 256² crop) + visibility
    crops: np.ndarray  # float32 [T, 2, 3]
    k: np.ndarray  # [2, 3, 3]
    r: np.ndarray  # [2, 3, 3] ground → camera
    t: np.ndarray  # [2, 3]
    valid: np.ndarray  # bool [T]

    @property
    def n_frames(self) -> int:
        return int(self.valid.shape[0])

    def masks(self, idx: np.ndarray) -> np.ndarray:
        """Mask crops [len(idx), 2, S, S] of frames ``idx``."""
        src = self.source[idx]
        return np.stack([m[src] for m in self.view_masks], 1)

    def window(self, idx: np.ndarray) -> NetworkInputs:
        """The network inputs of frames ``idx`` (one window, batch of one)."""
        return NetworkInputs.from_arrays(self.masks(idx), self.keypoints[idx], self.crops[idx], self.k, self.r, self.t)


@dataclass
class InferenceResult:
    angles: np.ndarray  # [T, 36] rad, NaN where no person
    scales: np.ndarray  # [22, 3]
    windows: int


def build_inputs(views: tuple[ViewTrack, ViewTrack], cams: tuple[Camera, Camera]) -> ClipInputs:
    """``views`` already synchronised (same length); cameras in the calibration world frame.
    Vectorised over frames: no per-frame Python work."""
    t = views[0].n_frames
    valid = views[0].has_crop & views[1].has_crop
    boxes = np.stack([np.nan_to_num(v.boxes) for v in views], 1)  # [T, 2, 3]
    kps = np.zeros((t, 2, N_LANDMARKS, 3), np.float32)
    for v, (track, cam) in enumerate(zip(views, cams, strict=True)):
        undist = cam.undistort_points(track.keypoints[..., :2])
        kps[:, v, :, :2] = (undist - boxes[:, v, None, :2]) * boxes[:, v, None, 2:]
        kps[:, v, :, 2] = track.keypoints[..., 2]
    crops = boxes.astype(np.float32)
    source = np.arange(t)
    if valid.any() and not valid.all():
        # Frames without the person in both views get the nearest valid frame's inputs: the network
        # must not see empty crops (scale 0 → non-finite geometry, which its temporal layers would
        # spread over the whole window); their outputs carry no weight anyway.
        good = np.flatnonzero(valid)
        nearest = good[np.clip(np.searchsorted(good, np.arange(t)), 0, len(good) - 1)]
        left = good[np.clip(np.searchsorted(good, np.arange(t)) - 1, 0, len(good) - 1)]
        nearest = np.where(np.abs(left - np.arange(t)) < np.abs(nearest - np.arange(t)), left, nearest)
        source, kps, crops = nearest, kps[nearest], crops[nearest]
    osim = [c.in_opensim_frame() for c in cams]
    return ClipInputs(
        view_masks=(views[0].crop_masks, views[1].crop_masks), source=source, keypoints=kps, crops=crops,
        k=np.stack([c.K for c in osim]).astype(np.float32),
        r=np.stack([c.R for c in osim]).astype(np.float32), t=np.stack([c.t for c in osim]).astype(np.float32),
        valid=valid,
    )


def window_starts(n: int, window: int) -> list[int]:
    """Starts of windows covering ``n`` frames with half-window overlap (last one flush with the end)."""
    if n <= window:
        return [0]
    stride = max(window // 2, 1)
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


def run_windows(
    inputs: ClipInputs, predictor: Predictor, progress: Callable[[float], None] | None = None
) -> InferenceResult:
    n, w = inputs.n_frames, predictor.window
    acc = np.zeros((n, N_ROTATIONAL, 2))
    weight = np.zeros(n)
    scale_sum, scale_w = np.zeros((N_BODIES, 3)), 0.0
    starts = window_starts(n, w)
    tri = np.minimum(np.arange(1, w + 1), np.arange(w, 0, -1)).astype(np.float64)
    for j, s in enumerate(starts):
        idx = np.clip(np.arange(s, s + w), 0, n - 1)  # short clips repeat their last frame
        pred = predictor.predict(inputs.window(idx))
        finite = np.isfinite(pred.angles).all(1) & bool(np.isfinite(pred.scales).all())
        ok = inputs.valid[idx] & (np.arange(s, s + w) < n) & finite
        wts = tri * ok
        angles = np.where(finite[:, None], pred.angles, 0.0)
        np.add.at(acc, idx, wts[:, None, None] * np.stack([np.sin(angles), np.cos(angles)], -1))
        np.add.at(weight, idx, wts)
        scale_sum += np.nan_to_num(pred.scales) * ok.sum()
        scale_w += ok.sum()
        if progress is not None:
            progress((j + 1) / len(starts))
    angles = np.arctan2(acc[..., 0], acc[..., 1])
    angles[weight == 0] = np.nan
    scales = scale_sum / scale_w if scale_w > 0 else np.ones((N_BODIES, 3))
    return InferenceResult(angles=angles, scales=scales, windows=len(starts))
