"""A video checked from its container alone (PyAV, no numpy): the upload check of the API and the
first step of stage ``decode`` (:mod:`worker.pipeline.stages.decode`).

:func:`probe_video` reads the packets' presentation times (no full decode: fast on long uploads)
and decodes one frame (which proves the stream decodes, and gives its upright size and rotation).
Refused, with the :class:`~worker.errors.ErrorCode` the API answers and a job ends with: a file
that is missing, empty or not a video, a video too long, too short, too slow or mostly gaps; at upload
also one wider or taller than ``max_side`` (read from the stream's header, before any frame is decoded,
so the memory an upload check takes stays bounded whatever the resolution) or faster than ``max_fps``.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path

import av
from av.container import InputContainer

from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError

DEFAULT_MAX_SECONDS = 120.0
#: Default largest width or height (px) and largest average frame rate (frames per second) the API accepts
#: (the settings MAX_VIDEO_SIDE and MAX_VIDEO_FPS).
DEFAULT_MAX_SIDE = 4096
DEFAULT_MAX_FPS = 240.0
#: Room over the frame-rate limit for timestamps rounded to a coarse time base (1 ms in many files).
FPS_TOLERANCE = 1.01
#: Slowest accepted average frame rate (frames per second of video): fewer frames are still images.
MIN_FPS = 5.0
#: Fewest frames a video may have (a picture saved as a one-frame "video" is refused).
MIN_FRAMES = 30
#: Shortest accepted video (s): MIN_FRAMES at the pipeline's 60 frames per second.
MIN_DURATION_S = 0.5
#: Smallest share of its timeline a video's frames may fill at its own frame rate (below: mostly gaps).
MIN_FILL_RATIO = 0.5

#: What :func:`scan_packets` reads: presentation times (s, sorted), upright width and height (px),
#: rotation (degrees) and codec name.
PacketScan = tuple[list[float], int, int, int, str]


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


def open_container(path: Path, max_side: int | None = None) -> InputContainer:
    """``path`` opened for reading, with at least one video stream (else ``video_undecodable``, or
    ``video_empty`` for a 0-byte file). The caller closes it. With ``max_side``, FFmpeg's stream probe
    decodes no picture over ``max_side``² pixels (its ``max_pixels``), so opening an 8192 × 8192 video
    takes tens of MB, not hundreds, before :func:`scan_packets` refuses it from the header."""
    if not path.is_file():
        raise PipelineError(ErrorCode.VIDEO_UNDECODABLE, f"video file not found: {path.name}")
    if path.stat().st_size == 0:
        raise PipelineError(ErrorCode.VIDEO_EMPTY, f"{path.name} is empty (0 bytes)")
    try:
        container = av.open(str(path), options={"max_pixels": str(max_side * max_side)} if max_side else None)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        msg = f"{path.name} is not a readable video ({exc.__class__.__name__})"
        raise PipelineError(ErrorCode.VIDEO_UNDECODABLE, msg) from exc
    if not container.streams.video:
        container.close()
        raise PipelineError(ErrorCode.VIDEO_UNDECODABLE, f"{path.name} has no video stream")
    return container


def video_info(path: Path, scan: PacketScan, max_seconds: float) -> VideoInfo:
    """The video's description from its packet scan; ``video_too_long`` over ``max_seconds``."""
    times, w, h, rotation, codec = scan
    duration = times[-1] - times[0] + (times[1] - times[0] if len(times) > 1 else 0.0)
    if duration > max_seconds:
        raise PipelineError(ErrorCode.VIDEO_TOO_LONG,
                            f"{path.name} lasts {duration:.1f} s; the limit is {max_seconds:.0f} s")
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    gaps = [b - a for a, b in itertools.pairwise(times) if b - a > 0]
    nominal = 1.0 / statistics.median(gaps) if gaps else 0.0
    return VideoInfo(fps=fps, n_frames=len(times), duration_s=duration, width=w, height=h, rotation_deg=rotation,
                     codec=codec, nominal_fps=nominal)


def _check_side(path: Path, w: int, h: int, max_side: int | None) -> None:
    if max_side is not None and max(w, h) > max_side:
        raise PipelineError(ErrorCode.VIDEO_RESOLUTION,
                            f"{path.name} is {w}×{h} px; at most {max_side} px a side is accepted (MAX_VIDEO_SIDE)")


def scan_packets(path: Path, max_side: int | None = None) -> PacketScan:
    """Presentation times (s) of all frames from the container's packets (no decoding), plus upright
    size, rotation and codec from the first decoded frame (which also proves that the stream decodes).
    With ``max_side``, a video wider or taller than that is refused (``video_resolution``) from its
    header, before a frame is decoded, and again from the decoded frame."""
    container = open_container(path, max_side)
    try:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        _check_side(path, stream.codec_context.width or 0, stream.codec_context.height or 0, max_side)
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
        _check_side(path, w, h, max_side)
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


def probe_video(path: str | Path, max_seconds: float = DEFAULT_MAX_SECONDS, max_side: int | None = DEFAULT_MAX_SIDE,
                max_fps: float | None = DEFAULT_MAX_FPS) -> VideoInfo:
    """Describe the video from its container metadata and packet timestamps (no full decode: fast on
    long uploads); refuse bad input: unreadable, empty, too long, wider or taller than ``max_side`` px
    (``video_resolution``), too few frames for its duration (``video_frame_rate``: under :data:`MIN_FPS`
    on average) or too many (``video_frame_rate_too_high``: over ``max_fps``), frames missing from much of
    its timeline (``video_sparse``: under :data:`MIN_FILL_RATIO` of the frames its own rate implies), or
    too short (``video_too_short``: under :data:`MIN_FRAMES` frames or :data:`MIN_DURATION_S`)."""
    path = Path(path)
    info = video_info(path, scan_packets(path, max_side), max_seconds)
    if max_fps is not None and info.n_frames > 1 and info.fps > max_fps * FPS_TOLERANCE:
        raise PipelineError(ErrorCode.VIDEO_FRAME_RATE_TOO_HIGH,
                            f"{path.name} has {info.n_frames} frames over {info.duration_s:.3f} s "
                            f"({info.fps:.0f} per second); at most {max_fps:.0f} frames per second are accepted "
                            "(MAX_VIDEO_FPS)")
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
    if info.duration_s < MIN_DURATION_S:
        raise PipelineError(ErrorCode.VIDEO_TOO_SHORT,
                            f"{path.name} lasts {info.duration_s:.2f} s ({info.n_frames} frames); at least "
                            f"{MIN_DURATION_S} s is needed")
    return info
