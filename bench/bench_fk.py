"""Forward-kinematics throughput: B = 64 sequences × 64 frames (4096 poses) per call, and the time of
one small call (B = 64: one synthetic sequence, where per-operation overhead dominates).

Usage: ``.venv/bin/python bench/bench_fk.py [--repeats 20] [--threads N]``. Prints poses/s for
float32 and float64, forward only and forward+backward, and ms per small call (with and without the
joint frames the fit's Jacobians need).
"""

from __future__ import annotations

import argparse

import torch
from timing import mean_seconds

from model_store.biomech import load_fullbody_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    fk = load_fullbody_model()
    b = 64 * 64
    print(f"FK benchmark: B = 64 x 64 = {b} poses, torch {torch.__version__}, {args.threads} threads, CPU")
    for dtype in (torch.float32, torch.float64):
        q = fk.default_coordinates.to(dtype).expand(b, -1).clone()
        q += 0.3 * torch.randn_like(q)
        s = torch.ones(b, 22, 3, dtype=dtype)
        fwd = mean_seconds(lambda q=q, s=s: fk(q, s), args.repeats)

        def fwd_bwd(q=q, s=s):
            qq = q.clone().requires_grad_(True)
            fk(qq, s).joint_centers.sum().backward()

        both = mean_seconds(fwd_bwd, max(args.repeats // 2, 1))
        print(
            f"  {dtype!s:14s} forward {fwd * 1e3:7.1f} ms/call = {b / fwd:9.0f} poses/s | "
            f"forward+backward {both * 1e3:7.1f} ms/call = {b / both:9.0f} poses/s"
        )
    for dtype in (torch.float32, torch.float64):
        q = fk.default_coordinates.to(dtype).expand(64, -1).clone()
        s = torch.ones(64, 22, 3, dtype=dtype)
        small = mean_seconds(lambda q=q, s=s: fk(q, s), args.repeats * 5)
        frames = mean_seconds(lambda q=q, s=s: fk(q, s, with_frames=True), args.repeats * 5)
        print(f"  {dtype!s:14s} B = 64: forward {small * 1e3:5.1f} ms/call, "
              f"with joint frames {frames * 1e3:5.1f} ms/call")


if __name__ == "__main__":
    main()
