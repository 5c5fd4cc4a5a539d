"""Golden metrics of the bundled checkpoint on a small fixed held-out set (a regression guard).

    python -m training.eval.golden            # print the bundled checkpoint's figures and the stored ones
    python -m training.eval.golden --write    # store them (after installing a new checkpoint on purpose)

The set: ``SEQUENCES`` synthetic sequences of ``FRAMES`` frames from the procedural and random motion
sources only (so it needs no motion library and no network access), seed ``SEED`` (a seed block no
training recipe uses), rendered and corrupted as in training, at the checkpoint's input size.
``tests/training/test_golden.py`` fails when the bundled checkpoint does worse than the stored
figures by more than :data:`TOLERANCE_RELATIVE` plus :data:`TOLERANCE_ABSOLUTE`; rewrite them only
together with a new checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model_store.network import load_network
from model_store.network.checkpoint import bundled_dir

SEED = 5_000_011
SEQUENCES = 6
FRAMES = 32
FIGURES = ("ll_mae_deg", "mae_deg", "scale_err_pct", "mpjpe_mm")
#: Allowed worsening: relative (fraction of the stored figure), plus an absolute floor per figure.
TOLERANCE_RELATIVE = 0.05
TOLERANCE_ABSOLUTE = {"ll_mae_deg": 0.3, "mae_deg": 0.3, "scale_err_pct": 0.3, "mpjpe_mm": 3.0}


def golden_path() -> Path:
    return bundled_dir() / "default.golden.json"


def measure(checkpoint: Path | None = None) -> dict[str, float]:
    """The checkpoint's figures (default: the bundled one) on the fixed set."""
    from training.data.stream import collect, make_sequence
    from training.eval.network import evaluate_network
    from training.synth.motion_mix import MotionMix

    net, _ = load_network(checkpoint)
    mix = MotionMix(None)
    size = net.config.input_size
    data = collect([make_sequence(SEED, i, FRAMES, size, mix) for i in range(SEQUENCES)])
    m = evaluate_network(net, data)
    return {k: round(float(m[k]), 3) for k in FIGURES}


def worse(measured: dict[str, float], stored: dict[str, float]) -> list[str]:
    """Figures beyond the tolerance, as readable lines (empty: all within)."""
    out = []
    for k in FIGURES:
        limit = stored[k] * (1 + TOLERANCE_RELATIVE) + TOLERANCE_ABSOLUTE[k]
        if not np.isfinite(measured[k]) or measured[k] > limit:
            out.append(f"{k}: {measured[k]} > {limit:.3f} (stored {stored[k]})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="store the bundled checkpoint's figures")
    args = ap.parse_args(argv)
    measured = measure()
    path = golden_path()
    if args.write:
        manifest = json.loads((bundled_dir() / "default.json").read_text())
        doc = {"checkpoint_sha256": manifest.get("sha256"), "seed": SEED, "sequences": SEQUENCES, "frames": FRAMES,
               "figures": measured}
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {path}: {measured}")
        return 0
    stored = json.loads(path.read_text())["figures"] if path.is_file() else None
    print(json.dumps({"measured": measured, "stored": stored}))
    if stored and (bad := worse(measured, stored)):
        print("worse than stored: " + "; ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
