"""Visual check of a result: both input views with the detected keypoints and the final model.

``overlay.mp4`` (H.264, both views side by side, each downscaled to :data:`MAX_SIDE` px on its long
side, :data:`OVERLAY_FPS` frames per second) and ``overlay.png`` (a contact sheet of
:data:`SHEET_FRAMES` evenly spaced frames, two pairs per row). Drawn on every frame of the result:

- the detector's keypoints (small cyan dots; only those with visibility ≥ 0.3);
- the final model's joint centres and segments (orange), projected through the same cameras the
  pipeline used (calibration or the estimated rig), so a model that does not sit on the body is
  visible at a glance;
- a red frame border and "check" on frames the fit flagged for a high reprojection residual.

Result frame ``i`` (pipeline rate, 60 fps) shows front frame ``front_start + i`` and side frame
``front_start + offset + i``; source frames are picked by presentation time as in the decode stage.
Videos are decoded once more, one frame at a time, so memory does not grow with the clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from model_store.biomech import load_definition
from model_store.geometry.cameras import Camera
from model_store.keypoints.detections import PersonTrack
from model_store.results import OVERLAY_FILES, OVERLAY_SHEET, OVERLAY_VIDEO
from worker.pipeline.stages.decode import _upright, nearest_frames
from worker.pipeline.stages.probe import open_container

MAX_SIDE = 540
OVERLAY_FPS = 30.0
SHEET_FRAMES = 4
SHEET_MAX_SIDE = 800
_KEYPOINT = (0, 220, 255)  # RGB
_MODEL = (255, 140, 0)
_FLAG = (230, 30, 30)


def _segments() -> list[tuple[int, int]]:
    """(child body, parent body) index pairs of the model's joints, ground excluded."""
    md = load_definition()
    return [(md.body_names.index(j.child), md.body_names.index(j.parent))
            for j in md.joints if j.parent in md.body_names]


def _frames_at(path: Path, indices: np.ndarray, fps: float, max_side: int) -> Iterator[tuple[np.ndarray, float]]:
    """Upright RGB frames at the increasing frame ``indices`` of the video resampled to ``fps``
    (nearest in time, as in the decode stage; the last frame is held past the end), downscaled to
    ``max_side`` px on the long side; yields (image, full-res px per image px)."""
    container = open_container(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = ((frame.time, frame) for frame in container.decode(stream))
        wanted = iter(indices.tolist())
        want = next(wanted, None)
        last = None
        for k, _, frame in nearest_frames(decoded, fps, float(stream.guessed_rate or 30)):
            last = frame
            while want is not None and k == want:
                yield _image(frame, max_side)
                want = next(wanted, None)
            if want is None:
                return
        while want is not None and last is not None:  # past the end: hold the last frame
            yield _image(last, max_side)
            want = next(wanted, None)
    finally:
        container.close()


def _image(frame: av.VideoFrame, max_side: int) -> tuple[np.ndarray, float]:
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    w, h = frame.width, frame.height
    scale = max(w, h) / max_side if max(w, h) > max_side else 1.0
    out_w, out_h = int(round(w / scale / 2) * 2), int(round(h / scale / 2) * 2)
    img = _upright(frame.to_ndarray(format="rgb24", width=out_w, height=out_h), rotation)
    return np.ascontiguousarray(img), max(w, h) / max(out_w, out_h)


def _draw(img: np.ndarray, scale: float, keypoints: np.ndarray, joints_px: np.ndarray,
          segments: list[tuple[int, int]], flagged: bool) -> np.ndarray:
    """Draw on a copy of ``img``: keypoints [33, 3] and joint centres [22, 2] in full-res px."""
    out = img.copy()
    r = max(2, out.shape[0] // 180)
    jp = joints_px / scale
    if np.isfinite(jp).all():
        for a, b in segments:
            cv2.line(out, tuple(int(v) for v in jp[a]), tuple(int(v) for v in jp[b]), _MODEL, max(1, r // 2 + 1),
                     cv2.LINE_AA)
        for p in jp:
            cv2.circle(out, (int(p[0]), int(p[1])), r, _MODEL, -1, cv2.LINE_AA)
    for x, y, v in keypoints:
        if v >= 0.3 and np.isfinite(x) and np.isfinite(y):
            cv2.circle(out, (int(x / scale), int(y / scale)), max(1, r - 1), _KEYPOINT, -1, cv2.LINE_AA)
    if flagged:
        cv2.rectangle(out, (0, 0), (out.shape[1] - 1, out.shape[0] - 1), _FLAG, max(2, r))
        cv2.putText(out, "check", (2 * r, 6 * r), cv2.FONT_HERSHEY_SIMPLEX, r / 4, _FLAG, max(1, r // 2),
                    cv2.LINE_AA)
    return out


def _side_by_side(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    h = max(a.shape[0], b.shape[0])
    pad = [np.pad(x, ((0, h - x.shape[0]), (0, 0), (0, 0))) for x in (a, b)]
    out = np.concatenate(pad, 1)
    return out[: out.shape[0] // 2 * 2, : out.shape[1] // 2 * 2]


def write_overlay(
    videos: tuple[Path, Path], cams: tuple[Camera, Camera], dets: tuple[PersonTrack, PersonTrack],
    joint_centers: np.ndarray, flagged: np.ndarray, first_frames: tuple[int, int], fps: float, out_dir: Path,
) -> list[str]:
    """Write ``overlay.mp4`` and ``overlay.png``; returns their names.

    ``dets`` are the synchronised detections (frame ``i`` ↔ result frame ``i``), ``joint_centers``
    [T, 22, 3] the final model's joint centres in OpenSim ground (m), ``flagged`` [T] the fit's
    flagged frames, ``first_frames`` the source frame (at ``fps``) of result frame 0 in each view."""
    n = len(joint_centers)
    picks = np.arange(0, n, max(1, int(round(fps / OVERLAY_FPS))))
    segments = _segments()
    projected = [cam.project_opensim(joint_centers.reshape(-1, 3)).reshape(n, -1, 2) for cam in cams]
    sheet_at = set(np.linspace(0, len(picks) - 1, SHEET_FRAMES).round().astype(int).tolist())
    sheet: list[np.ndarray] = []
    streams = [_frames_at(v, first + picks, fps, MAX_SIDE) for v, first in zip(videos, first_frames, strict=True)]
    path = out_dir / OVERLAY_VIDEO
    with av.open(str(path), "w") as container:
        stream = None
        for j, (i, (fa, sa), (fb, sb)) in enumerate(zip(picks, *streams, strict=False)):
            views = [_draw(img, s, d.keypoints[i], p[i], segments, bool(flagged[i]))
                     for img, s, d, p in ((fa, sa, dets[0], projected[0]), (fb, sb, dets[1], projected[1]))]
            both = _side_by_side(*views)
            if stream is None:
                stream = container.add_stream("libx264", rate=int(round(OVERLAY_FPS)))
                stream.width, stream.height, stream.pix_fmt = both.shape[1], both.shape[0], "yuv420p"
                stream.options = {"crf": "28", "preset": "veryfast"}
            container.mux(stream.encode(av.VideoFrame.from_ndarray(both, format="rgb24")))
            if j in sheet_at:
                sheet.append(both)
        if stream is not None:
            container.mux(stream.encode(None))
    if not sheet:
        path.unlink(missing_ok=True)
        return []
    tiles = [cv2.resize(s, (sheet[0].shape[1], sheet[0].shape[0])) for s in sheet]
    tiles += [np.zeros_like(tiles[0])] * (len(tiles) % 2)
    grid = np.concatenate([np.concatenate(tiles[r:r + 2], 1) for r in range(0, len(tiles), 2)], 0)
    f = SHEET_MAX_SIDE / max(grid.shape[:2])
    if f < 1.0:  # photos make large PNGs: keep the sheet small
        grid = cv2.resize(grid, (int(grid.shape[1] * f), int(grid.shape[0] * f)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(out_dir / OVERLAY_SHEET), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return list(OVERLAY_FILES)


__all__ = ["OVERLAY_FILES", "write_overlay"]
