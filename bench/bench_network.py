"""Network inference speed: ms per frame pair (two views) for each config, torch and onnxruntime.

Usage: ``.venv/bin/python bench/bench_network.py [--configs small paper] [--frames 64] [--onnx]``.
Untrained weights (speed does not depend on them); one window of ``--frames`` frames per call. With
``--onnx`` the last column is what the product runs: the window and its mirror image
(:mod:`model_store.network.mirror`, two passes plus the flip and the average).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from timing import mean_seconds

from model_store.network import KinematicsNet, get_config
from model_store.network.mirror import average_with_mirror, mirror_inputs
from model_store.network.onnx_export import OnnxKinematicsNet, example_inputs, export_onnx


def _both(net: OnnxKinematicsNet, inp, crop_size: int) -> None:
    """One window with mirror averaging, as the predictor runs it."""
    a, m = net(inp), net(mirror_inputs(inp, crop_size))
    average_with_mirror(a.angles[0].numpy(), a.scales[0].numpy(), m.angles[0].numpy(), m.scales[0].numpy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--configs", nargs="+", default=["small", "paper"])
    ap.add_argument("--frames", type=int, default=64, help="frames per window for the small/tiny configs")
    ap.add_argument("--paper-frames", type=int, default=2, help="frames per call for the (slow) paper config")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--onnx", action="store_true", help="also time onnxruntime")
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"network inference, device {dev}, torch threads {torch.get_num_threads()}")
    for name in args.configs:
        frames = args.paper_frames if name == "paper" and dev == "cpu" else args.frames
        cfg = get_config(name, window=max(get_config(name).window, frames))
        net = KinematicsNet(cfg).eval().to(dev)
        params = sum(p.numel() for p in net.parameters()) / 1e6
        inp = example_inputs(net, frames=frames).to(dev)
        with torch.no_grad():
            sec = mean_seconds(lambda net=net, inp=inp: net(inp), args.repeats)
        line = f"  {name:6s} {params:6.2f} M params | {frames:3d} frames/call"
        line += f" | torch {sec / frames * 1e3:8.1f} ms/frame pair"
        if args.onnx and frames == cfg.window:
            with tempfile.TemporaryDirectory() as tmp:
                ort_net = OnnxKinematicsNet(export_onnx(net.cpu(), Path(tmp) / "n.onnx"))
                osec = mean_seconds(lambda o=ort_net, i=inp: o(i), args.repeats)
                msec = mean_seconds(lambda o=ort_net, i=inp, c=cfg.crop_size: _both(o, i, c), args.repeats)
                line += f" | onnxruntime {osec / frames * 1e3:8.1f} ms/frame pair"
                line += f" | with mirror average {msec / frames * 1e3:8.1f} ms/frame pair"
        print(line, flush=True)


if __name__ == "__main__":
    main()
