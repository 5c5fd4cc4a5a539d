"""End-to-end regression: the CLI's output on a fixed synthetic clip (exact detections, the bundled
checkpoint, the fit) equals a stored result.

The stored result is ``tests/worker/data/golden_synthetic.json``: the clip's frame count and
synchronisation, every 10th frame of ``kinematics.mot`` (degrees / metres, model coordinate order)
and the body scales. After a deliberate change of the pipeline's answer (a new checkpoint, a new
fit), regenerate it and commit it together with that change:

    KINEMATICS_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/worker/test_golden_output.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from model_store import results
from model_store.biomech import load_definition, read_mot
from worker.cli import main as cli_main

pytestmark = pytest.mark.slow
GOLDEN = Path(__file__).parent / "data" / "golden_synthetic.json"
EVERY = 10  # stored frames: 0, 10, 20, …
#: Allowed differences (platform floating point through the fit): degrees, metres, scale factor.
TOL_DEG, TOL_M, TOL_SCALE = 0.5, 0.005, 0.005


def _answer(out: Path) -> dict:
    mot = read_mot(out / results.KINEMATICS)
    summary = json.loads((out / results.SUMMARY).read_text())
    md = load_definition()
    rotational = [c.motion_type != "translational" for c in md.coordinates]
    values = np.where(rotational, np.degrees(mot.coords), mot.coords)[::EVERY]
    return {
        "frames": summary["frames"], "sync_offset_frames": summary["sync"]["offset_frames"],
        "coordinates": list(md.coordinate_names), "every": EVERY,
        "values": np.round(values, 4).tolist(),
        "body_scales": summary["body_scales"],
    }


def test_synthetic_clip_output_matches_the_stored_result(synthetic_clip, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli_main(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                   "--calibration", str(synthetic_clip / "calibration.toml"),
                   "--detections", str(synthetic_clip / "detections"), "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    got = _answer(out)
    if os.environ.get("KINEMATICS_REGENERATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
        pytest.skip(f"regenerated {GOLDEN}")
    stored = json.loads(GOLDEN.read_text())
    assert got["coordinates"] == stored["coordinates"] and got["every"] == stored["every"]
    assert (got["frames"], got["sync_offset_frames"]) == (stored["frames"], stored["sync_offset_frames"])
    a, b = np.array(got["values"]), np.array(stored["values"])
    assert a.shape == b.shape
    rotational = np.array([c.motion_type != "translational" for c in load_definition().coordinates])
    worst_deg = float(np.abs(a - b)[:, rotational].max())
    worst_m = float(np.abs(a - b)[:, ~rotational].max())
    assert worst_deg <= TOL_DEG and worst_m <= TOL_M, (worst_deg, worst_m)
    for body, scales in stored["body_scales"].items():
        assert np.abs(np.array(got["body_scales"][body]) - scales).max() <= TOL_SCALE, body
