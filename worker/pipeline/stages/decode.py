"""Stage ``decode`` — decode and resample: video file → frames at the model rate (60 fps).

Frames are picked by presentation time (nearest source frame to each target instant), which
handles variable frame rates; rotation metadata is applied so frames are upright. Frames may be
decoded downscaled (``max_side`` px on the long side) for speed; ``scale`` maps decoded pixels
back to full-resolution pixels (``full_px = decoded_px * scale``), the frame the calibration uses.
The pipeline streams (:func:`open_video`: one decoded frame in memory at a time), after the same
check from packet timestamps as the upload's (:mod:`worker.pipeline.stages.probe`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import numpy as np

from model_store.conventions import MODEL_RATE_HZ
from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError
from worker.pipeline.stages.probe import DEFAULT_MAX_SECONDS, VideoInfo, open_container, scan_packets, video_info

T = TypeVar("T")


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 [T, h, w, 3] RGB, upright, at MODEL_RATE_HZ
    times_s: np.ndarray  # [T] seconds from the first frame
    source_index: np.ndarray  # [T] index of the source frame used
    scale: float  # full-resolution px per decoded px
    info: VideoInfo


def _upright(img: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees, counter-clockwise as stored by FFmpeg)."""
    k = {0: 0, 90: 1, 180: 2, 270: 3}.get(rotation, 0)
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def nearest_frames(
    frames: Iterator[tuple[float | None, T]], target_fps: float, fallback_fps: float = 30.0,
) -> Iterator[tuple[int, int, T]]:
    """Resample a stream of ``(presentation time s or None, item)`` in presentation order to
    ``target_fps``: yields ``(target index, source index, item)`` where the item is the source frame
    nearest in time to ``index / target_fps`` (times from the first frame; ties go to the earlier
    frame). Targets run up to the last source frame's time. Holds one item at a time."""
    prev: tuple[int, float, T] | None = None
    t0: float | None = None
    k = 0
    for i, (time, item) in enumerate(frames):
        t = float(time) if time is not None else i / fallback_fps
        t0 = t if t0 is None else t0
        t -= t0
        while prev is not None and abs(prev[1] - k / target_fps) <= abs(t - k / target_fps):
            yield k, prev[0], prev[2]
            k += 1
        prev = (i, t, item)
    if prev is not None:
        n_out = int(np.floor(prev[1] * target_fps + 1e-6)) + 1
        while k < n_out:
            yield k, prev[0], prev[2]
            k += 1


@dataclass(frozen=True)
class VideoStream:
    """A video opened for one streamed pass: frames at ``target_fps``, upright RGB, downscaled to
    ``size`` (``scale`` full-resolution px per decoded px). Iterating decodes again from the start;
    only one decoded frame is held at a time."""

    path: Path
    info: VideoInfo
    target_fps: float
    n_frames: int  # frames at target_fps
    scale: float
    size: tuple[int, int]  # decoded (width, height), upright
    max_side: int | None = None  # as asked of open_video
    max_seconds: float = DEFAULT_MAX_SECONDS

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(target index, image uint8 [h, w, 3])`` for every target frame, in order."""
        for k, _, image in self.indexed_frames():
            yield k, image

    def indexed_frames(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(target index, source index, image)``; a source frame used for several targets (a
        source slower than ``target_fps``) is converted once."""
        rotation = self.info.rotation_deg
        w, h = self.size
        raw_w, raw_h = (h, w) if rotation in (90, 270) else (w, h)
        container = open_container(self.path)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame + slice threads in the decoder
            fallback = float(stream.guessed_rate or 30)
            decoded = ((frame.time, frame) for frame in container.decode(stream))
            last: tuple[int, np.ndarray] | None = None
            for k, src, frame in nearest_frames(decoded, self.target_fps, fallback):
                if last is None or last[0] != src:
                    last = (src, _upright(frame.to_ndarray(format="rgb24", width=raw_w, height=raw_h), rotation))
                yield k, src, last[1]
                if k + 1 >= self.n_frames:
                    break
        except (av.error.FFmpegError, ValueError) as exc:
            raise PipelineError(ErrorCode.VIDEO_UNDECODABLE, f"{self.path.name} could not be decoded "
                                f"({exc.__class__.__name__})") from exc
        finally:
            container.close()


def open_video(
    path: str | Path, target_fps: float = MODEL_RATE_HZ, max_side: int | None = 960,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> VideoStream:
    """Check ``path`` from its packets (:mod:`worker.pipeline.stages.probe`) and prepare a streamed decode at
    ``target_fps``, upright, the long side downscaled to ``max_side`` px (None: full size)."""
    path = Path(path)
    scan = scan_packets(path)
    info = video_info(path, scan, max_seconds)
    times = scan[0]
    n_out = max(int(np.floor((times[-1] - times[0]) * target_fps + 1e-6)) + 1, 1)
    long_side = max(info.width, info.height)
    scale = 1.0 if max_side is None or long_side <= max_side else long_side / max_side
    size = (int(round(info.width / scale)), int(round(info.height / scale)))
    return VideoStream(path, info, target_fps, n_out, scale, size, max_side, max_seconds)


def decode_video(
    path: str | Path, target_fps: float = MODEL_RATE_HZ, max_side: int | None = 960,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> DecodedVideo:
    """Decode all of ``path`` into memory (tests and tools; the pipeline streams with
    :func:`open_video`): resampled to ``target_fps`` (nearest frame in time), upright, downscaled."""
    video = open_video(path, target_fps, max_side, max_seconds)
    frames, picks = [], []
    for _, src, image in video.indexed_frames():
        frames.append(image)
        picks.append(src)
    if not frames:
        raise PipelineError(ErrorCode.VIDEO_EMPTY, f"{Path(path).name} contains no decodable frames")
    return DecodedVideo(frames=np.stack(frames), times_s=np.arange(len(frames)) / target_fps,
                        source_index=np.array(picks), scale=video.scale, info=video.info)
