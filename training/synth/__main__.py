"""``python -m training.synth dataset|clip ...`` — synthetic training data and two-view clips.

Examples::

    python -m training.synth dataset --out data_cache/synth/demo --sequences 100 --frames 64 --seed 0
    python -m training.synth clip --motion walk.mot --out out/clip --fps 60 --seed 0 [--scales scales.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model_store.biomech import MotionFileError, read_mot
from model_store.conventions import MODEL_RATE_HZ
from training.synth.clip import read_scales, write_clip
from training.synth.dataset import write_dataset
from training.synth.real_motion import RealMotionError, load_walk_motion
from training.synth.subjects import GENERIC_HEIGHT_M, Subject


def _dataset(args: argparse.Namespace) -> int:
    if args.sequences < 1 or args.frames < 2:
        print("error: --sequences must be ≥ 1 and --frames ≥ 2", file=sys.stderr)
        return 2
    walk = None if args.no_real_walk else load_walk_motion(args.cache).coords
    path = write_dataset(args.out, args.sequences, args.frames, args.seed, args.mask_size, walk,
                         walk_mirror=args.mirrored_walk)
    print(f"wrote {path}")
    return 0


def _clip(args: argparse.Namespace) -> int:
    motion = read_mot(args.motion)
    if motion.times_s.size < 2:
        print(f"error: {args.motion} has fewer than two frames", file=sys.stderr)
        return 2
    subject = None
    if args.scales is not None:
        scales = read_scales(args.scales)
        subject = Subject(scales=scales, height_m=float(GENERIC_HEIGHT_M * scales[:, 1].mean()), girth=1.0,
                          clothing=1.0)
    paths = write_clip(motion, args.out, fps=args.fps, seed=args.seed, subject=subject)
    for role, p in paths.items():
        print(f"{role}: {p}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.synth", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dataset", help="write sharded training data")
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--sequences", type=int, required=True)
    d.add_argument("--frames", type=int, default=64)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--mask-size", type=int, default=128, help="stored mask crop size in px (default 128)")
    d.add_argument("--cache", type=Path, default=Path("data_cache"), help="where the real-walk IK is cached")
    d.add_argument("--no-real-walk", action="store_true", help="random motions only (no OpenSim IK)")
    d.add_argument("--mirrored-walk", action="store_true", help="use the left/right mirrored walking trial")
    c = sub.add_parser("clip", help="render a two-view clip from a .mot")
    c.add_argument("--motion", type=Path, required=True, help="Rajagopal coordinates (.mot, degrees or radians)")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--scales", type=Path, help="OpenSim ScaleSet XML or our truth_scales.json")
    c.add_argument("--fps", type=float, default=MODEL_RATE_HZ)
    c.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        return _dataset(args) if args.command == "dataset" else _clip(args)
    except (MotionFileError, RealMotionError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
