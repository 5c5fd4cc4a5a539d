"""Stage 1 — decode and resample: video file → frames at the model rate (60 fps).

Frames are picked by presentation time (nearest source frame to each target instant), which
handles variable frame rates; rotation metadata is applied so frames are upright. Frames may be
decoded downscaled (``max_side`` px on the long side) for speed; ``scale`` maps decoded pixels
back to full-resolution pixels (``full_px = decoded_px * scale``), the frame the calibration uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from worker.pipeline.contract import PipelineError

TARGET_FPS = 60.0
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


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 [T, h, w, 3] RGB, upright, at TARGET_FPS
    times_s: np.ndarray  # [T] seconds from the first frame
    source_index: np.ndarray  # [T] index of the source frame used
    scale: float  # full-resolution px per decoded px
    info: VideoInfo


def _open(path: Path):  # type: ignore[no-untyped-def]
    if not path.is_file():
        raise PipelineError("video_undecodable", f"video file not found: {path.name}")
    if path.stat().st_size == 0:
        raise PipelineError("video_empty", f"{path.name} is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        msg = f"{path.name} is not a readable video ({exc.__class__.__name__})"
        raise PipelineError("video_undecodable", msg) from exc
    if not container.streams.video:
        container.close()
        raise PipelineError("video_undecodable", f"{path.name} has no video stream")
    return container


def _scan(path: Path) -> tuple[list[float], int, int, int, str]:
    """Presentation times (s) of all frames, plus upright size, rotation and codec."""
    container = _open(path)
    times: list[float] = []
    rotation, w, h, codec = 0, 0, 0, ""
    try:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        for frame in container.decode(stream):
            if not times:
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                w, h = frame.width, frame.height
            t = frame.time if frame.time is not None else len(times) / float(stream.guessed_rate or 30)
            times.append(float(t))
    except (av.error.FFmpegError, ValueError) as exc:
        if not times:
            msg = f"{path.name} could not be decoded ({exc.__class__.__name__})"
            raise PipelineError("video_undecodable", msg) from exc
    finally:
        container.close()
    if not times:
        raise PipelineError("video_empty", f"{path.name} contains no decodable frames")
    if rotation in (90, 270):
        w, h = h, w
    return times, w, h, rotation, codec


def _info(path: Path, scan: tuple[list[float], int, int, int, str], max_seconds: float) -> VideoInfo:
    times, w, h, rotation, codec = scan
    duration = times[-1] - times[0] + (times[1] - times[0] if len(times) > 1 else 0.0)
    if duration > max_seconds:
        raise PipelineError("video_too_long", f"{path.name} lasts {duration:.1f} s; the limit is {max_seconds:.0f} s")
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    return VideoInfo(fps=fps, n_frames=len(times), duration_s=duration, width=w, height=h, rotation_deg=rotation,
                     codec=codec)


def _scan_packets(path: Path) -> tuple[list[float], int, int, int, str]:
    """Like :func:`_scan` but from the container's packets (presentation timestamps, no decoding)
    plus the first decoded frame (size, rotation, and proof that the stream decodes)."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        try:
            first = next(container.decode(stream))
        except StopIteration:
            raise PipelineError("video_empty", f"{path.name} contains no decodable frames") from None
        except (av.error.FFmpegError, ValueError) as exc:
            raise PipelineError("video_undecodable", f"{path.name} could not be decoded ({exc.__class__.__name__})") \
                from exc
        rotation = int(getattr(first, "rotation", 0) or 0) % 360
        w, h = first.width, first.height
        container.seek(0)
        tb = float(stream.time_base) if stream.time_base else 1.0 / float(stream.guessed_rate or 30)
        pts = [p.pts for p in container.demux(stream) if p.size > 0 and p.pts is not None]
    except (av.error.FFmpegError, ValueError) as exc:
        raise PipelineError("video_undecodable", f"{path.name} could not be read ({exc.__class__.__name__})") from exc
    finally:
        container.close()
    if not pts:
        raise PipelineError("video_empty", f"{path.name} contains no video frames")
    times = sorted(float(p) * tb for p in pts)
    if rotation in (90, 270):
        w, h = h, w
    return times, w, h, rotation, codec


#: Slowest accepted average frame rate (frames per second of video): fewer frames are still images.
MIN_FPS = 5.0


def probe_video(path: str | Path, max_seconds: float = DEFAULT_MAX_SECONDS) -> VideoInfo:
    """Describe the video from its container metadata and packet timestamps (no full decode: fast on
    long uploads); refuse bad input: unreadable, empty, too long, or too few frames for its duration."""
    path = Path(path)
    info = _info(path, _scan_packets(path), max_seconds)
    if info.n_frames > 1 and info.fps < MIN_FPS:
        raise PipelineError("video_frame_rate", f"{path.name} has {info.n_frames} frames over {info.duration_s:.1f} s "
                            f"({info.fps:.2f} per second); at least {MIN_FPS:.0f} frames per second are needed")
    return info


def _upright(img: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees, counter-clockwise as stored by FFmpeg)."""
    k = {0: 0, 90: 1, 180: 2, 270: 3}.get(rotation, 0)
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def decode_video(
    path: str | Path, target_fps: float = TARGET_FPS, max_side: int | None = 960,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> DecodedVideo:
    """Decode ``path`` resampled to ``target_fps`` (nearest frame in time), upright, downscaled."""
    path = Path(path)
    scan = _scan(path)
    info = _info(path, scan, max_seconds)
    times, rotation = scan[0], scan[3]
    src = np.array(times) - times[0]
    n_out = max(int(np.floor(src[-1] * target_fps + 1e-6)) + 1, 1)
    targets = np.arange(n_out) / target_fps
    pick = np.clip(np.searchsorted(src, targets), 0, len(src) - 1)
    left = np.clip(pick - 1, 0, len(src) - 1)
    pick = np.where(np.abs(src[left] - targets) <= np.abs(src[pick] - targets), left, pick)
    long_side = max(info.width, info.height)
    scale = 1.0 if max_side is None or long_side <= max_side else long_side / max_side
    raw_w, raw_h = (info.height, info.width) if rotation in (90, 270) else (info.width, info.height)
    out_w, out_h = int(round(raw_w / scale)), int(round(raw_h / scale))
    wanted = set(pick.tolist())
    decoded: dict[int, np.ndarray] = {}
    container = _open(path)
    try:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                decoded[i] = _upright(frame.to_ndarray(format="rgb24", width=out_w, height=out_h), rotation)
            if i >= pick[-1]:
                break
    finally:
        container.close()
    frames = np.stack([decoded[i] for i in pick])
    return DecodedVideo(frames=frames, times_s=targets, source_index=pick, scale=scale, info=info)
