"""Train the fit's anatomical prior: how trunk lean splits into pelvis tilt and lumbar extension.

    python -m training.anatomical_prior [--cache data_cache] [--out model_store/data/anatomical_prior.json]

Keypoints see the trunk's lean (shoulders and head against the hips) but barely how it splits into
pelvis tilt and lumbar extension: both turn about nearly the same axis through the hip joints. Marker
labs measure the split with pelvis markers (ASIS/PSIS). This module learns it from such trials only —
the motion library's *training* trials whose pelvis came from pelvis markers
(:func:`training.motion_library.catalogue.has_pelvis_markers`: AddBiomechanics' expert IK, the Hamner
and opensim-models trials, nimblephysics' marker-based IK, the shared walk; never CMU retargets, never a
held-out trial) — as a per-frame linear model in heading-invariant angles
(:mod:`model_store.biomech.posture`)::

    pelvis anatomical tilt ≈ intercept + slope × trunk lean

Candidates are compared by leaving one recorded subject out at a time (the prior must hold for people
it never saw; a subject's pelvis tilt is mostly an offset of its own — anatomy and marker placement —
that no posture reveals):

- ``lumbar_neutral``: intercept 0, slope 1 (lumbar extension towards 0, as Pose2Sim's IK setups pull it);
- ``constant``: the population's mean tilt, whatever the lean;
- ``trunk_lean``: intercept and slope fitted by least squares (each subject weighs the same), and
  ``trunk_lean_huber``: the same with a robust (Huber, 5°) loss.

The winner (lowest leave-one-subject-out RMS) is refitted on all subjects and written with its sigma —
that RMS, the error to expect on a new subject — and a manifest (trials, subjects, recipe, figures).
The fit (:mod:`model_store.fit.objective`) uses it as the prior on the pelvis's anatomical tilt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model_store.biomech.posture import default_posture
from model_store.fit.anatomical_prior import DEFAULT_PRIOR_FILE
from training.motion_library.catalogue import has_pelvis_markers
from training.motion_library.library import LibraryError, MotionLibrary, library_dir, load_library

HUBER_DEG = 5.0
CANDIDATES = ("lumbar_neutral", "constant", "trunk_lean", "trunk_lean_huber")


@dataclass
class TrialAngles:
    """One trial's heading-invariant angles per frame (rad): ``tilt`` (pelvis) and ``lean`` (trunk)."""

    id: str
    subject: str
    kind: str
    tilt: np.ndarray
    lean: np.ndarray


def anatomical_trials(lib: MotionLibrary) -> list[TrialAngles]:
    """The library's training trials with a marker-measured pelvis, as posture angles."""
    posture = default_posture()
    out = []
    for trial, q in zip(lib.trials, lib.coords, strict=True):
        if trial["split"] != "train" or not has_pelvis_markers(trial):
            continue
        qt = torch.as_tensor(np.asarray(q, np.float64))
        with torch.no_grad():
            out.append(TrialAngles(trial["id"], trial["subject"], trial["kind"], posture.pelvis_tilt(qt).numpy(),
                                   posture.trunk_lean(qt).numpy()))
    return out


def _weights(trials: list[TrialAngles]) -> np.ndarray:
    """Per-frame weights giving every subject the same total weight (and each of its frames an equal share)."""
    frames: dict[str, int] = defaultdict(int)
    for t in trials:
        frames[t.subject] += len(t.tilt)
    return np.concatenate([np.full(len(t.tilt), 1.0 / frames[t.subject]) for t in trials])


def fit_candidate(name: str, trials: list[TrialAngles]) -> tuple[float, float]:
    """(intercept, slope) of candidate ``name`` (rad, rad/rad) fitted on ``trials``."""
    if name == "lumbar_neutral":
        return 0.0, 1.0
    y = np.concatenate([t.tilt for t in trials])
    w = _weights(trials)
    if name == "constant":
        return float((w * y).sum() / w.sum()), 0.0
    x = np.stack([np.ones_like(y), np.concatenate([t.lean for t in trials])], 1)
    beta = np.zeros(2)
    robust = np.ones_like(y)
    for _ in range(30 if name == "trunk_lean_huber" else 1):  # iteratively reweighted least squares
        a = x * (w * robust)[:, None]
        beta = np.linalg.solve(x.T @ a, a.T @ y)
        r = np.abs(y - x @ beta)
        delta = np.radians(HUBER_DEG)
        robust = np.where(r <= delta, 1.0, delta / np.maximum(r, 1e-12))
    return float(beta[0]), float(beta[1])


def leave_one_subject_out(name: str, trials: list[TrialAngles]) -> dict[str, Any]:
    """Errors (degrees, prediction − truth) of candidate ``name`` on each subject when fitted without it:
    per subject its mean error (bias) and RMS; overall the RMS over subjects (each weighs the same) and
    the mean |bias| over trials."""
    subjects = sorted({t.subject for t in trials})
    per: dict[str, dict[str, float]] = {}
    trial_bias = []
    for s in subjects:
        a, b = fit_candidate(name, [t for t in trials if t.subject != s])
        held = [t for t in trials if t.subject == s]
        err = np.degrees(np.concatenate([a + b * t.lean - t.tilt for t in held]))
        trial_bias += [float(np.degrees(np.mean(a + b * t.lean - t.tilt))) for t in held]
        per[s] = {"bias_deg": round(float(err.mean()), 2), "rms_deg": round(float(np.sqrt((err**2).mean())), 2)}
    rms = float(np.sqrt(np.mean([v["rms_deg"] ** 2 for v in per.values()])))
    return {"rms_deg": round(rms, 2), "mean_abs_trial_bias_deg": round(float(np.mean(np.abs(trial_bias))), 2),
            "by_subject": per}


def train_prior(lib: MotionLibrary, library_manifest: Path | None = None) -> dict[str, Any]:
    """Compare the candidates by leaving subjects out, refit the best on everything: the prior's document."""
    trials = anatomical_trials(lib)
    if len({t.subject for t in trials}) < 3:
        raise ValueError("the anatomical prior needs training trials of at least three subjects with pelvis markers")
    scores = {name: leave_one_subject_out(name, trials) for name in CANDIDATES}
    best = min(CANDIDATES, key=lambda n: scores[n]["rms_deg"])
    intercept, slope = fit_candidate(best, trials)
    source = {"trials": [{"id": t.id, "subject": t.subject, "kind": t.kind, "frames": len(t.tilt)} for t in trials],
              "split": "train"}
    if library_manifest is not None and library_manifest.is_file():
        source["library_manifest_sha256"] = hashlib.sha256(library_manifest.read_bytes()).hexdigest()
    return {
        "about": "Prior of the fit on the pelvis's anatomical tilt (rad, heading-invariant, positive posterior) "
                 "given the trunk's lean (rad, negative forward): tilt = intercept + slope × lean, with sigma the "
                 "error to expect on a subject never seen (leave-one-subject-out RMS). Written by "
                 "training.anatomical_prior from marker-measured training trials only.",
        "pelvis_tilt": {"candidate": best, "intercept_rad": round(intercept, 6), "trunk_lean_slope": round(slope, 6),
                        "sigma_rad": round(float(np.radians(scores[best]["rms_deg"])), 6)},
        "manifest": {
            "recipe": {"features": ["trunk_lean"], "target": "pelvis_tilt (anatomical)",
                       "weights": "every subject the same", "huber_deg": HUBER_DEG, "candidates": list(CANDIDATES),
                       "chosen_by": "lowest leave-one-subject-out RMS"},
            "data": source,
            "subjects": sorted({t.subject for t in trials}),
            "frames": int(sum(len(t.tilt) for t in trials)),
            "leave_one_subject_out": scores,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("data_cache"), help="where the motion library is built")
    ap.add_argument("--out", type=Path, default=DEFAULT_PRIOR_FILE)
    args = ap.parse_args(argv)
    try:
        lib = load_library(args.cache)
        doc = train_prior(lib, library_dir(args.cache) / "manifest.json")
    except (LibraryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, s in doc["manifest"]["leave_one_subject_out"].items():
        subj = ", ".join(f"{k} {v['bias_deg']:+.1f}" for k, v in s["by_subject"].items())
        print(f"{name:17s} leave-one-subject-out RMS {s['rms_deg']:5.2f} deg, mean |trial bias| "
              f"{s['mean_abs_trial_bias_deg']:5.2f} deg; bias by subject: {subj}")
    p = doc["pelvis_tilt"]
    print(f"chosen: {p['candidate']}: tilt = {np.degrees(p['intercept_rad']):.2f} deg + {p['trunk_lean_slope']:.3f} "
          f"x lean, sigma {np.degrees(p['sigma_rad']):.2f} deg ({len(doc['manifest']['subjects'])} subjects, "
          f"{doc['manifest']['frames']} frames)")
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
