"""Small generated test videos (PyAV)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_video(path: Path, seconds: float = 1.0, fps: int = 30, size: tuple[int, int] = (64, 64),
                codec: str = "mpeg4") -> Path:
    """A moving gradient (no person in it)."""
    w, h = size
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = (np.arange(w)[None, :] * 4 + i * 3) % 256
            img[..., 1] = 80
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    return path
