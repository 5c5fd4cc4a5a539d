"""Long two-view clips from real footage for the pipeline benchmarks: the shared Pose2Sim demo pair
(1080×1920 and 1088×1920, 60 fps, 100 frames) played forwards then backwards until ``seconds``
are filled, re-encoded as H.264 (CRF 23) at the source size and frame rate. Both views get the same
frame order, so they stay synchronised; the calibration is the demo's own.

    .venv/bin/python bench/long_clip.py --seconds 10 --out out/bench/clip10
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import av
import numpy as np

DEMO = Path(__file__).resolve().parents[1] / "data" / "video" / "pose2sim-demo-single"
VIEWS = {"front": "cam01", "side": "cam04"}


def _frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]


def ping_pong_order(n_source: int, n_out: int) -> np.ndarray:
    """Source frame indices 0..n−1, n−2..1, 0..n−1, … (no frame repeated at the turns)."""
    cycle = np.concatenate([np.arange(n_source), np.arange(n_source - 2, 0, -1)])
    return np.resize(cycle, n_out)


def make_clip(seconds: float, out: Path, demo: Path = DEMO) -> dict[str, Path]:
    """Write ``front.mp4``, ``side.mp4`` and ``calibration.toml`` into ``out`` (reused when present)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {view: out / f"{view}.mp4" for view in VIEWS}
    if not (out / "calibration.toml").is_file():
        for view, cam in VIEWS.items():
            frames = _frames(demo / f"{cam}.mp4")
            h, w = frames[0].shape[0] * 2 // 3, frames[0].shape[1]
            order = ping_pong_order(len(frames), int(round(seconds * 60)))
            with av.open(str(paths[view]), "w") as c:
                s = c.add_stream("libx264", rate=60)
                s.width, s.height, s.pix_fmt = w, h, "yuv420p"
                s.options = {"crf": "23", "preset": "veryfast"}
                for i in order:
                    c.mux(s.encode(av.VideoFrame.from_ndarray(frames[i], format="yuv420p")))
                c.mux(s.encode(None))
        shutil.copyfile(demo / "calibration.toml", out / "calibration.toml")
    return {**paths, "calibration": out / "calibration.toml"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=Path("out/bench/clip10"))
    args = ap.parse_args()
    for name, path in make_clip(args.seconds, args.out).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
