"""Speed of putting back swapped left/right labels (:func:`worker.pipeline.geometry.sides.agree_sides`), and how many
swapped frames it finds, on held-out clips with detections perturbed like a real detector's.

    .venv/bin/python bench/bench_sides.py [--seconds 10] [--kind squat] [--swap-sides 0.3] [--tile 12] [--repeats 3]

A ``--seconds`` clip is made once (swapped sides in ``--swap-sides`` of each view's frames, in runs of
about 0.5 s); its synchronised tracks are then repeated ``--tile`` times end to end (the default gives a
120 s clip, 7,200 frame pairs at 60 fps) and timed. Prints the wall time (best and median of the repeats)
per clip and per 1,000 frame pairs, and on the untiled clip the frames put back rightly, wrongly and missed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np

from model_store.keypoints.detections import ViewTrack
from training.eval.clips import make_clip
from training.eval.pipeline import sides_found
from worker.pipeline.geometry.sides import agree_sides
from worker.pipeline.run import apply_offset
from worker.pipeline.stages.detect import track_from_detections


def _tiled(track: ViewTrack, times: int) -> ViewTrack:
    return replace(track, keypoints=np.concatenate([track.keypoints] * times),
                   person_found=np.concatenate([track.person_found] * times),
                   boxes=np.concatenate([track.boxes] * times), crop_masks=np.concatenate([track.crop_masks] * times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--kind", default="squat")
    ap.add_argument("--swap-sides", type=float, default=0.3)
    ap.add_argument("--tile", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    clip = make_clip(args.kind, "eval", 0, seconds=args.seconds, p_swap=args.swap_sides)
    k = clip.perturbation["sync_shift_frames"]
    front, side, f0 = apply_offset(*(track_from_detections(v, 256) for v in clip.detections), k)
    _, _, report = agree_sides(front, side, clip.cameras)
    found = sides_found((report.front, report.side), clip.perturbation, f0, k)
    swapped = sum(len(clip.perturbation[v]["swapped_frames"]) for v in ("front", "side"))
    print(f"{args.kind}, {front.n_frames} frame pairs, {swapped} view-frames swapped: "
          + ", ".join(f"{v} {f['both']} put back rightly, {f['product_only']} wrongly, {f['truth_only']} missed"
                      for v, f in found.items()))
    long_front, long_side = _tiled(front, args.tile), _tiled(side, args.tile)
    seconds = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        agree_sides(long_front, long_side, clip.cameras)
        seconds.append(time.perf_counter() - t0)
    n = long_front.n_frames
    print(f"{n} frame pairs ({n / front.fps:.0f} s at {front.fps:g} fps): best {min(seconds):.2f} s, median "
          f"{statistics.median(seconds):.2f} s; {1000 * min(seconds) / n:.2f} s per 1,000 frame pairs")


if __name__ == "__main__":
    main()
