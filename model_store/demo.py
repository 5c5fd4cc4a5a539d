"""Model-core demo: write OpenSim files for a short sample motion, no network or video needed.

``python -m model_store.demo --out out/demo`` writes ``kinematics.mot`` (2 s of a synthetic
gait-like sway at 60 Hz, degrees), ``model_scaled.osim`` (the generic model scaled 1.05 in every
axis, 72 kg) and ``joint_centers.trc`` (mm), and prints where they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from model_store import results
from model_store.biomech import load_fullbody_model, write_mot, write_scaled_osim, write_trc
from model_store.conventions import MODEL_RATE_HZ


def sample_motion(duration_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth walking-like motion: times [T] (s) and coords [T, 39] (rad / m), model order."""
    fk = load_fullbody_model()
    names = fk.coordinate_names
    t = np.arange(int(duration_s * MODEL_RATE_HZ)) / MODEL_RATE_HZ
    q = np.tile(fk.default_coordinates.numpy(), (t.size, 1))
    phase = 2 * np.pi * 1.0 * t  # one stride per second
    pattern = {
        "hip_flexion_r": 0.35 * np.sin(phase) + 0.1,
        "hip_flexion_l": -0.35 * np.sin(phase) + 0.1,
        "knee_angle_r": 0.55 * np.clip(np.sin(phase - 1.2), 0, None) + 0.1,
        "knee_angle_l": 0.55 * np.clip(-np.sin(phase - 1.2), 0, None) + 0.1,
        "ankle_angle_r": 0.2 * np.sin(phase + 0.5),
        "ankle_angle_l": -0.2 * np.sin(phase + 0.5),
        "arm_flex_r": -0.3 * np.sin(phase),
        "arm_flex_l": 0.3 * np.sin(phase),
        "elbow_flex_r": 0.4 + 0.1 * np.sin(phase),
        "elbow_flex_l": 0.4 - 0.1 * np.sin(phase),
        "pelvis_tx": 1.2 * t,
    }
    for name, values in pattern.items():
        q[:, names.index(name)] = values
    q = fk.apply_couplers(torch.tensor(q)).numpy()
    return t, q


def run(out_dir: Path) -> list[Path]:
    fk = load_fullbody_model()
    out_dir.mkdir(parents=True, exist_ok=True)
    t, q = sample_motion()
    scales = np.full((len(fk.body_names), 3), 1.05)
    fk_out = fk(torch.tensor(q), torch.tensor(scales).expand(t.size, -1, -1))
    return [
        write_mot(out_dir / results.KINEMATICS, t, q),
        write_scaled_osim(out_dir / results.SCALED_MODEL, scales, mass_kg=72.0),
        write_trc(out_dir / results.JOINT_CENTERS, t, fk_out.joint_centers.numpy(), fk.body_names, MODEL_RATE_HZ),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory")
    args = ap.parse_args(argv)
    try:
        paths = run(args.out)
    except OSError as exc:
        print(f"error: cannot write to {args.out}: {exc}", file=sys.stderr)
        return 1
    for p in paths:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
