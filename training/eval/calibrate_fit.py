"""Choose how far the fit trusts the network: sweep the width of its prior on the calibration split.

    python -m training.eval.calibrate_fit [--factors 1,0.6,0.4,0.25] [--clips 2] [--seconds 3] [--kinds run,squat]
        [--checkpoint X] [--fit-setting symmetry_sigma=0.005 ...]

The fit's prior (:data:`model_store.fit.settings.PRIOR_SIGMA_RAD`) has narrow widths where images
are ambiguous (pelvis tilt, axial rotations, locked coordinates) and wide ones (≥ ``--wide-from``
rad) for the coordinates the keypoints show (flexions, adductions, pelvis list and rotation, lumbar
bending). A better network deserves a narrower wide prior. This multiplies the wide widths by each
factor and runs the product's pipeline core (:func:`training.eval.pipeline.evaluate_clip`) on
clips of the ``calibration`` split: procedural kinds only, with detections perturbed like a real
detector's — subjects, rigs and motion draws that neither training nor the ``eval`` split (which
reports the result) uses, and no held-out library trial, so choosing here tunes on nothing that is
reported. Prints, per factor, the fit's figures beside the network's and the mean-pose floor.
``--fit-setting NAME=VALUE`` changes another of the fit's settings for every row (to compare, say,
left/right symmetry priors, run it once per value).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from model_store.fit import FitSettings
from model_store.fit.settings import PRIOR_SIGMA_RAD
from training.eval.clips import KINDS, make_clip
from training.eval.pipeline import (
    HEADLINE,
    add_fit_setting_argument,
    evaluate_clip,
    fit_settings_from,
    mean_pose_floor,
    open_predictor,
)

#: Procedural kinds (``walk`` is the shared training trial mirrored; library kinds are held-out trials).
CALIBRATION_KINDS = tuple(k for k in KINDS if k != "walk")


def widened(factor: float, wide_from: float, base: FitSettings | None = None) -> FitSettings:
    """``base`` (default: the fit's defaults) with prior widths of at least ``wide_from`` rad times ``factor``."""
    return replace(base or FitSettings(),
                   prior_sigma_rad={k: (v * factor if v >= wide_from else v) for k, v in PRIOR_SIGMA_RAD.items()})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factors", default="1,0.6,0.4,0.25", help="comma-separated multipliers of the wide widths")
    ap.add_argument("--kinds", help=f"comma-separated, of {', '.join(CALIBRATION_KINDS)} (default: all of them)")
    ap.add_argument("--wide-from", type=float, default=0.3, help="widths (rad) from which a width counts as wide")
    ap.add_argument("--clips", type=int, default=2, help="clips per kind")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--checkpoint", type=Path, help="network checkpoint manifest (default: the bundled one)")
    ap.add_argument("--cache", type=Path, default=Path("data_cache"))
    add_fit_setting_argument(ap, "; every row")
    args = ap.parse_args(argv)
    base = fit_settings_from(args.fit_setting)
    if base is None:
        return 2
    try:
        factors = [float(f) for f in args.factors.split(",") if f]
    except ValueError:
        print(f"error: --factors must be numbers separated by commas, got {args.factors!r}", file=sys.stderr)
        return 2
    if not factors or min(factors) <= 0:
        print("error: --factors must be positive", file=sys.stderr)
        return 2
    kinds = [k for k in args.kinds.split(",") if k] if args.kinds else list(CALIBRATION_KINDS)
    unknown = sorted(set(kinds) - set(CALIBRATION_KINDS))
    if unknown or not kinds:
        print(f"error: --kinds takes {', '.join(CALIBRATION_KINDS)}; got {', '.join(unknown) or 'none'}",
              file=sys.stderr)
        return 2
    predictor = open_predictor(args.checkpoint)
    if predictor is None:
        return 2
    floor = mean_pose_floor(predictor)
    results: dict[float, list[dict]] = {f: [] for f in factors}
    for kind in kinds:
        for i in range(args.clips):
            clip = make_clip(kind, "calibration", i, args.seconds, args.cache)
            for f in factors:
                r = evaluate_clip(clip, predictor, floor, "fit", widened(f, args.wide_from, base))
                results[f].append(r)
                print(f"{kind} #{i} factor {f}: LL-MAE none {r['none']['ll_mae_deg']} fit {r['fit']['ll_mae_deg']}",
                      flush=True)
    first = results[factors[0]]
    print(f"\n{len(first)} clips ({', '.join(kinds)}), perturbed detections; means"
          + (f"; fit settings {', '.join(args.fit_setting)}" if args.fit_setting else ""))
    print("| prior | " + " | ".join(HEADLINE) + " |")
    print("|---|" + "---|" * len(HEADLINE))
    for label, mode, rows in (("network", "none", first), ("floor", "floor", first),
                              *((f"fit, wide widths × {f}", "fit", results[f]) for f in factors)):
        print(f"| {label} | " + " | ".join(f"{np.mean([r[mode][k] for r in rows]):.2f}" for k in HEADLINE) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
