"""Hypothesis strategies for small videos made with PyAV (issue 42): odd sizes, rates, durations,
codecs and timestamps (gaps, jitter, bursts). Shared by the in-process probe test and the API test."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class VideoSpec:
    codec: str
    pix_fmt: str
    width: int
    height: int
    rate: int  # the stream's time base is 1/rate
    pts: tuple[int, ...]  # presentation times, units of 1/rate, increasing
    container: str

    def write(self, path: Path) -> Path | None:
        """The video at ``path`` (suffix from the container), or None when PyAV cannot make it."""
        path = path.with_suffix("." + self.container)
        try:
            with av.open(str(path), "w") as c:
                s = c.add_stream(self.codec, rate=self.rate)
                s.width, s.height, s.pix_fmt = self.width, self.height, self.pix_fmt
                s.codec_context.time_base = Fraction(1, self.rate)
                for i, t in enumerate(self.pts):
                    img = np.full((self.height, self.width, 3), (i * 37) % 256, np.uint8)
                    frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                    frame.pts, frame.time_base = t, Fraction(1, self.rate)
                    c.mux(s.encode(frame))
                c.mux(s.encode(None))
        except (av.error.FFmpegError, ValueError, OSError):
            return None
        return path


_CODECS = st.sampled_from([("mpeg4", "yuv420p", "mp4"), ("mpeg4", "yuv420p", "avi"), ("mjpeg", "yuvj420p", "mkv"),
                           ("libx264", "yuv444p", "mp4"), ("libx264", "yuv444p", "mov"),
                           ("libvpx", "yuv420p", "webm")])


@st.composite
def timestamps(draw: st.DrawFn, rate: int) -> tuple[int, ...]:
    n = draw(st.integers(1, 90))
    steps = draw(st.one_of(
        st.just([1] * n),  # constant rate
        st.lists(st.sampled_from([1, 1, 1, 2, 3]), min_size=n, max_size=n),  # jitter and dropped frames
        st.lists(st.integers(1, rate), min_size=n, max_size=n),  # anything up to a second apart
        st.builds(lambda k, gap: [1] * k + [gap] + [1] * (n - k - 1), st.integers(0, max(n - 1, 0)),
                  st.integers(1, 40 * rate)),  # one long hole
    ))
    start = draw(st.sampled_from([0, 0, 1, rate, 10 * rate]))
    out, t = [], start
    for s in steps[:n]:
        out.append(t)
        t += s
    return tuple(out)


@st.composite
def video_spec(draw: st.DrawFn) -> VideoSpec:
    codec, pix_fmt, container = draw(_CODECS)
    width = draw(st.integers(2, 72))
    height = draw(st.integers(2, 72))
    rate = draw(st.sampled_from([1, 5, 7, 24, 25, 30, 60, 90, 120, 240, 241, 300, 1000]))
    return VideoSpec(codec, pix_fmt, width, height, rate, draw(timestamps(rate)), container)
