"""Stage ``decode`` — decode and resample: video file → frames at the model rate (60 fps).

Frames are picked by presentation time (nearest source frame to each target instant), which
handles variable frame rates; rotation metadata is applied so frames are upright. Frames may be
decoded downscaled (``max_side`` px on the long side) for speed; ``scale`` maps decoded pixels
back to full-resolution pixels (``full_px = decoded_px * scale``), the frame the calibration uses.
The pipeline streams (:func:`open_video`: one decoded frame in memory at a time); the upload
check reads packet timestamps only (:func:`probe_video`).
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

T = TypeVar("T")
DEFAULT_MAX_SECONDS = 120.0


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    n_frames: int
    duration_s: float
    width: int  # upright (after rotation), px
    height: int
    rotation_deg: int
    codec: str
    nominal_fps: float = 0.0  # 1 / the median frame interval: the rate the video's frames mostly come at

    @property
    def fill_ratio(self) -> float:
        """Frames present / frames the timeline holds at ``nominal_fps`` (about 1: no gaps, above 1 on a variable
        rate; 0.3: mostly gaps)."""
        expected = self.duration_s * self.nominal_fps
        return self.n_frames / expected if expected > 0 else 1.0


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 [T, h, w, 3] RGB, upright, at MODEL_RATE_HZ
    times_s: np.ndarray  # [T] seconds from the first frame
    source_index: np.ndarray  # [T] index of the source frame used
    scale: float  # full-resolution px per decoded px
    info: VideoInfo


def _open(path: Path):  # type: ignore[no-untyped-def]
    if not path.is_file():
        raise PipelineError(ErrorCode.VIDEO_UNDECODABLE, f"video file not found: {path.name}")
    if path.stat().st_size == 0:
        raise PipelineError(ErrorCode.VIDEO_EMPTY, f"{path.name} is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        msg = f"{path.name} is not a readable video ({exc.__class__.__name__})"
        raise PipelineError(ErrorCode.VIDEO_UNDECODABLE, msg) from exc
    if not container.streams.video:
        container.close()
        raise PipelineError(ErrorCode.VIDEO_UNDECODABLE, f"{path.name} has no video stream")
    return container


def _info(path: Path, scan: tuple[list[float], int, int, int, str], max_seconds: float) -> VideoInfo:
    times, w, h, rotation, codec = scan
    duration = times[-1] - times[0] + (times[1] - times[0] if len(times) > 1 else 0.0)
    if duration > max_seconds:
        raise PipelineError(ErrorCode.VIDEO_TOO_LONG,
                            f"{path.name} lasts {duration:.1f} s; the limit is {max_seconds:.0f} s")
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    gaps = np.diff(times)
    gaps = gaps[gaps > 0]
    nominal = 1.0 / float(np.median(gaps)) if len(gaps) else 0.0
    return VideoInfo(fps=fps, n_frames=len(times), duration_s=duration, width=w, height=h, rotation_deg=rotation,
                     codec=codec, nominal_fps=nominal)


def _scan_packets(path: Path) -> tuple[list[float], int, int, int, str]:
    """Presentation times (s) of all frames from the container's packets (no decoding), plus upright
    size, rotation and codec from the first decoded frame (which also proves that the stream decodes)."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        try:
            first = next(container.decode(stream))
        except StopIteration:
            raise PipelineError(ErrorCode.VIDEO_EMPTY, f"{path.name} contains no decodable frames") from None
        except (av.error.FFmpegError, ValueError) as exc:
            raise PipelineError(ErrorCode.VIDEO_UNDECODABLE,
                                f"{path.name} could not be decoded ({exc.__class__.__name__})") \
                from exc
        rotation = int(getattr(first, "rotation", 0) or 0) % 360
        w, h = first.width, first.height
        container.seek(0)
        tb = float(stream.time_base) if stream.time_base else 1.0 / float(stream.guessed_rate or 30)
        pts = [p.pts for p in container.demux(stream) if p.size > 0 and p.pts is not None]
    except (av.error.FFmpegError, ValueError) as exc:
        raise PipelineError(ErrorCode.VIDEO_UNDECODABLE,
                            f"{path.name} could not be read ({exc.__class__.__name__})") from exc
    finally:
        container.close()
    if not pts:
        raise PipelineError(ErrorCode.VIDEO_EMPTY, f"{path.name} contains no video frames")
    times = sorted(float(p) * tb for p in pts)
    if rotation in (90, 270):
        w, h = h, w
    return times, w, h, rotation, codec


#: Slowest accepted average frame rate (frames per second of video): fewer frames are still images.
MIN_FPS = 5.0
#: Fewest frames a video may have (a picture saved as a one-frame "video" is refused).
MIN_FRAMES = 30
#: Smallest share of its timeline a video's frames may fill at its own frame rate (below: mostly gaps).
MIN_FILL_RATIO = 0.5


def probe_video(path: str | Path, max_seconds: float = DEFAULT_MAX_SECONDS) -> VideoInfo:
    """Describe the video from its container metadata and packet timestamps (no full decode: fast on
    long uploads); refuse bad input: unreadable, empty, too long, too few frames for its duration
    (``video_frame_rate``: under :data:`MIN_FPS` on average), or frames missing from much of its
    timeline (``video_sparse``: under :data:`MIN_FILL_RATIO` of the frames its own rate implies)."""
    path = Path(path)
    info = _info(path, _scan_packets(path), max_seconds)
    if info.n_frames > 1 and info.fill_ratio < MIN_FILL_RATIO:
        missing = info.duration_s * (1.0 - info.fill_ratio)
        raise PipelineError(ErrorCode.VIDEO_SPARSE,
                            f"{path.name} has {info.n_frames} frames at {info.nominal_fps:.0f} per "
                            f"second over {info.duration_s:.1f} s: about {missing:.1f} s of its timeline has no frames "
                            f"(only {100 * info.fill_ratio:.0f}% is filled; at least {100 * MIN_FILL_RATIO:.0f}% is "
                            "needed). Re-export the video at a constant frame rate")
    if info.n_frames > 1 and info.fps < MIN_FPS:
        raise PipelineError(ErrorCode.VIDEO_FRAME_RATE,
                            f"{path.name} has {info.n_frames} frames over {info.duration_s:.1f} s "
                            f"({info.fps:.2f} per second); at least {MIN_FPS:.0f} frames per second are needed")
    if info.n_frames < MIN_FRAMES:
        raise PipelineError(ErrorCode.VIDEO_TOO_SHORT,
                            f"{path.name} has {info.n_frames} frame(s); at least {MIN_FRAMES} are "
                            "needed (half a second at 60 frames per second)")
    return info


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
        container = _open(self.path)
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
    """Check ``path`` from its packets (as :func:`probe_video`) and prepare a streamed decode at
    ``target_fps``, upright, the long side downscaled to ``max_side`` px (None: full size)."""
    path = Path(path)
    scan = _scan_packets(path)
    info = _info(path, scan, max_seconds)
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
