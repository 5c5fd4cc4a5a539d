"""Evaluate a checkpoint on a synthetic dataset directory; prints one JSON line.

    python -m training.eval.checkpoint --checkpoint model_store/checkpoints/default.json \
        --data data_cache/synth/test_n64_f64_s1000003_m128

Metrics: ``ll_mae_deg`` (hip flexion, knee and ankle angles, both sides — the headline),
``mae_deg`` (all 36 rotational coordinates), ``mae_deg_by_group``, ``scale_err_pct``, ``mpjpe_mm``
(pelvis-aligned joint centres), and the same for the constant mean-pose predictor stored in the
checkpoint's manifest (``baseline_mean_pose``), the floor to beat.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from model_store.network import CheckpointError, load_network
from training.data.cached import load_sequences
from training.eval.network import evaluate_constant, evaluate_network


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="checkpoint manifest (.json) or weights")
    ap.add_argument("--data", type=Path, required=True, help="synthetic dataset directory (with manifest.json)")
    ap.add_argument("--per-coordinate", action="store_true", help="include the MAE of every coordinate")
    args = ap.parse_args(argv)
    try:
        net, record = load_network(args.checkpoint)
        data = load_sequences(args.data, net.config.input_size)
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    metrics = evaluate_network(net, data)
    seconds = time.perf_counter() - t0
    if not args.per_coordinate:
        metrics.pop("mae_deg_by_coordinate", None)
    out: dict = {"checkpoint": str(args.checkpoint), "config": record.config.name, "data": str(args.data), **metrics,
                 "ms_per_frame_pair": round(seconds / max(data.n_sequences * data.n_frames, 1) * 1000, 2)}
    base = record.manifest.get("baseline_mean_pose")
    if base and "angles_rad" in base:
        b = evaluate_constant(np.array(base["angles_rad"]), np.array(base["scales"]), data)
        b.pop("mae_deg_by_coordinate", None)
        out["baseline_mean_pose"] = b
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
