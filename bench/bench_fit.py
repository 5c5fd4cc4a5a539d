"""Speed of the per-clip fit on a realistic clip: 10 s at 60 fps (600 frame pairs) of held-out squats,
detections perturbed like a real detector's, initialised and regularised by the bundled network.

    .venv/bin/python bench/bench_fit.py [--seconds 10] [--kind run] [--repeats 3] [--threads 2]

Prints the fit's wall time (best and median of the repeats), iterations, and its accuracy against the
truth beside the network's. Network inference is run once, outside the timing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from model_store.biomech import load_definition
from model_store.network.outputs import rotational_indices
from model_store.network.predictor import Predictor
from training.eval.clips import make_clip
from training.eval.metrics import LOWER_LIMB_SAGITTAL, angle_errors_deg
from worker.pipeline.contract import PipelineRequest
from worker.pipeline.run import estimate_from_detections
from worker.pipeline.stages.fit import refine_motion
from worker.settings import get_settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--kind", default="squat", help="a motion kind that stays in view for 10 s (not run)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = get_settings()
    predictor = Predictor(settings.kinematics_checkpoint, mirror_average=settings.kinematics_mirror_average)
    clip = make_clip(args.kind, "eval", 0, seconds=args.seconds)
    request = PipelineRequest(Path("-"), Path("-"), Path("-"), refine="none")
    core = estimate_from_detections(*clip.detections, clip.cameras, True, predictor, request)
    views = (core.front, core.side)
    times, refined = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        refined = refine_motion(views, clip.cameras, core.inferred.angles, core.initial, 60.0, "fit")
        times.append(time.perf_counter() - t0)
    assert refined is not None
    n = len(refined.coords)
    truth = clip.coords[core.front_start:core.front_start + n]
    names = load_definition().coordinate_names
    ll = [names.index(c) for c in LOWER_LIMB_SAGITTAL]
    solver = refined.report["solver"]
    print(f"fit of {n} frame pairs ({n / 60:.1f} s at 60 fps, {args.kind}, {args.threads} threads): "
          f"best {min(times):.2f} s, median {statistics.median(times):.2f} s (stage incl. residual statistics); "
          f"solver {solver['seconds']:.2f} s, {solver['iterations']} iterations")
    for name, coords in (("network", core.initial.coords), ("fit", refined.coords)):
        err = angle_errors_deg(coords[:, ll], truth[:, ll]).mean()
        print(f"  {name:8s} sagittal hip/knee/ankle MAE {err:.2f} deg, all 36 angles "
              f"{angle_errors_deg(coords[:, rotational_indices()], truth[:, rotational_indices()]).mean():.2f} deg")
    residuals = refined.report["residuals"].items()
    print("  per-view median reprojection error: " + ", ".join(f"{v} {s['median_px']} px" for v, s in residuals))


if __name__ == "__main__":
    main()
