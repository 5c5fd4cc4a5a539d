"""The Pose2Sim demo recording: four calibrated cameras of one person (1080×1920, 60 fps).

Detections (MediaPipe, our detect stage) are cached per camera under ``CACHE/pose2sim_demo/`` and
brought onto a common timeline: frame f of cam01 shows the same instant as frame f + k of camN,
with k estimated by minimising the two-view triangulation error of the keypoints (pairwise with
cam01). With our decoder this gives cam02 0, cam03 ≈ +3…+5, cam04 0 (the recording's documented −11 / +2 /
−1 give two-view errors of 17 / 8 / 7 px against 6 / 7 / 6 px). The recording is in the repository's
``data/video/pose2sim-demo-single`` (BSD-3, ``data/README.md``); our detections are cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.geometry.cameras import Camera, load_calibration_toml
from model_store.geometry.triangulation import triangulate
from model_store.keypoints.detections import ViewDetections, load_view_detections, save_view_detections
from training.synth.real_motion import DEFAULT_SHARED

CAMERAS = ("cam01", "cam02", "cam03", "cam04")
#: Offsets are searched within ± this many frames of cam01.
MAX_OFFSET = 15


def demo_dir(shared: Path = DEFAULT_SHARED) -> Path:
    return shared / "video" / "pose2sim-demo-single"


def detections(
    cache: Path, shared: Path = DEFAULT_SHARED, cameras: tuple[str, ...] = CAMERAS
) -> dict[str, ViewDetections]:
    """Per-camera detections at 60 fps (computed once with the pipeline's detector, then cached)."""
    from worker.pipeline.stages.decode import decode_video
    from worker.pipeline.stages.detect import detect_view

    out = {}
    for cam in cameras:
        path = Path(cache) / "pose2sim_demo" / f"{cam}.npz"
        if not path.is_file():
            video = decode_video(demo_dir(shared) / f"{cam}.mp4")  # 60 fps source: frames map one to one
            save_view_detections(path, detect_view(video))
        out[cam] = load_view_detections(path)
    return out


@dataclass
class Aligned:
    """Views on the first camera's timeline: ``views`` (same length, frame i of each shows the same
    instant), their calibration-world ``cameras``, ``start`` the first frame of the first camera used
    and the estimated ``offsets`` (frames)."""

    views: dict[str, ViewDetections]
    cameras: dict[str, Camera]
    start: int
    offsets: dict[str, int]


def estimate_offset(a: ViewDetections, b: ViewDetections, cam_a: Camera, cam_b: Camera,
                    max_offset: int = MAX_OFFSET) -> tuple[int, float]:
    """k (frame f of ``a`` ↔ frame f + k of ``b``) minimising the median two-view triangulation error
    of the keypoints; returns k and that error (px)."""
    best = (0, np.inf)
    for k in range(-max_offset, max_offset + 1):
        lo, hi = max(0, -k), min(a.n_frames, b.n_frames - k)
        if hi - lo < 30:
            continue
        px = np.stack([a.keypoints[lo:hi, :, :2], b.keypoints[lo + k:hi + k, :, :2]])
        conf = np.stack([a.keypoints[lo:hi, :, 2] * a.person_found[lo:hi, None],
                         b.keypoints[lo + k:hi + k, :, 2] * b.person_found[lo + k:hi + k, None]])
        err = float(np.nanmedian(triangulate(px, conf, [cam_a, cam_b])[1]))
        if err < best[1]:
            best = (k, err)
    return best


def aligned(cache: Path, shared: Path = DEFAULT_SHARED, cameras: tuple[str, ...] = CAMERAS) -> Aligned:
    """Detections of ``cameras`` trimmed to the span all of them cover, each offset estimated against
    the first camera (:func:`estimate_offset`)."""
    dets = detections(cache, shared, cameras)
    calib = load_calibration_toml(demo_dir(shared) / "calibration.toml")
    ref = cameras[0]
    offsets = {c: 0 if c == ref else estimate_offset(dets[ref], dets[c], calib[ref], calib[c])[0] for c in cameras}
    lo = max(0, *(-offsets[c] for c in cameras))
    hi = min(dets[c].n_frames - offsets[c] for c in cameras)
    views = {}
    for c in cameras:
        d, k = dets[c], offsets[c]
        sl = slice(lo + k, hi + k)
        views[c] = ViewDetections(d.masks[sl], d.keypoints[sl], d.person_found[sl], d.fps, d.image_size)
    return Aligned(views, {c: calib[c] for c in cameras}, lo, offsets)
