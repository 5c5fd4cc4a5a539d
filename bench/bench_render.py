"""Synthetic rendering throughput: two-view frames per second (crops for datasets, full frames for clips).

Usage: ``.venv/bin/python bench/bench_render.py [--sequences 8] [--frames 64] [--mask-size 128]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from training.synth.render import draw_mask, project_capsules
from training.synth.sequence import build_sequence, render_views


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--mask-size", type=int, default=128)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    seqs = [build_sequence(rng, args.frames) for _ in range(args.sequences)]
    n = args.sequences * args.frames
    t0 = time.perf_counter()
    for s in seqs:
        render_views(s, rng, args.mask_size)
    crop_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_sequence(rng, args.frames)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in seqs[:2]:
        for cam in s.cameras:
            px, r, _ = project_capsules(cam, s.capsules, s.radii)
            for i in range(args.frames):
                draw_mask(px[i], r[i], np.zeros(2), 960 / max(cam.image_size), (540, 960))
    full_s = time.perf_counter() - t0
    print(f"synthetic rendering on this CPU ({args.sequences} sequences x {args.frames} frames):")
    print(f"  sequence build (motion, FK, rig): {build_s * 1e3:.0f} ms per sequence")
    print(f"  dataset crops ({args.mask_size} px, corruption on): {n / crop_s:.0f} two-view frames/s")
    print(f"  full frames (540x960, clips): {2 * args.frames / full_s:.0f} two-view frames/s")


if __name__ == "__main__":
    main()
