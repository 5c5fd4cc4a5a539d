"""Per-stage speed of the pipeline on a two-view clip, and network inference of the shipped
checkpoint's config beside the ``paper`` config, in one run.

    .venv/bin/python bench/bench_pipeline.py [--front F --side S --calibration C --front-camera A --side-camera B]

Defaults to the real Pose2Sim demo pair (cam01 + cam04) in ../shared/data. Prints frames per second
per stage (frames = two-view frame pairs at 60 fps) and ms per frame pair for the networks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from model_store.network import KinematicsNet, find_checkpoint, get_config
from model_store.network.onnx_export import example_inputs
from worker.pipeline import PipelineRequest, run_pipeline

DEMO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video" / "pose2sim-demo-single"


def network_ms(name: str, frames: int) -> float:
    cfg = get_config(name, window=max(get_config(name).window, frames))
    net = KinematicsNet(cfg).eval()
    inp = example_inputs(net, frames=frames)
    with torch.no_grad():
        net(*inp)
        t0 = time.perf_counter()
        net(*inp)
    return (time.perf_counter() - t0) / frames * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--front", type=Path, default=DEMO / "cam01.mp4")
    ap.add_argument("--side", type=Path, default=DEMO / "cam04.mp4")
    ap.add_argument("--calibration", type=Path, default=DEMO / "calibration.toml")
    ap.add_argument("--front-camera", default="cam01")
    ap.add_argument("--side-camera", default="cam04")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        req = PipelineRequest(args.front, args.side, Path(tmp), args.calibration, args.front_camera, args.side_camera)
        t0 = time.perf_counter()
        res = run_pipeline(req)
        wall = time.perf_counter() - t0
    n = res.summary["frames"]
    decoded = max(res.summary["inputs"]["front"]["n_frames"], res.summary["inputs"]["side"]["n_frames"])
    print(f"pipeline on {args.front.name} + {args.side.name}: {n} synchronised frame pairs, {wall:.1f} s in all, "
          f"torch threads {torch.get_num_threads()}")
    for stage, sec in res.summary["stage_seconds"].items():
        frames = decoded if stage in ("decode", "detect") else n
        print(f"  {stage:12s} {sec:7.2f} s  {frames / max(sec, 1e-9):8.1f} frame pairs/s")
    ours = find_checkpoint().config.name
    print("network inference (untrained weights, same graph), ms per frame pair:")
    print(f"  {ours:6s} (shipped) {network_ms(ours, get_config(ours).window):8.1f}")
    print(f"  paper            {network_ms('paper', 2):8.1f}   (2-frame window on CPU)")


if __name__ == "__main__":
    main()
