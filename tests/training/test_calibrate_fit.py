"""The fit-prior sweep on the calibration split: one row per factor, and clear errors."""

from __future__ import annotations

import pytest

from model_store.fit.settings import PRIOR_SIGMA_RAD
from training.eval.calibrate_fit import main as calibrate
from training.eval.calibrate_fit import widened


def test_widened_scales_only_the_wide_widths():
    s = widened(0.5, 0.3).prior_sigma_rad
    assert s["knee_angle"] == pytest.approx(PRIOR_SIGMA_RAD["knee_angle"] * 0.5)
    assert s["hip_rotation"] == PRIOR_SIGMA_RAD["hip_rotation"]  # narrow: kept
    assert PRIOR_SIGMA_RAD["knee_angle"] == 0.6  # the module's table is not touched


@pytest.mark.slow
def test_sweep_prints_network_floor_and_one_row_per_factor(capsys):
    assert calibrate(["--kinds", "squat", "--clips", "1", "--seconds", "1.5", "--factors", "1,0.4"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): [float(c) for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| ") and "prior" not in line}
    assert set(rows) == {"network", "floor", "fit, wide widths × 1.0", "fit, wide widths × 0.4"}
    assert rows["fit, wide widths × 1.0"] != rows["fit, wide widths × 0.4"]  # the factor reaches the fit
    assert rows["network"][0] < rows["floor"][0]


@pytest.mark.parametrize("args, message", [(["--factors", "1,x"], "numbers"), (["--factors", "0"], "positive"),
                                            (["--kinds", "walk"], "--kinds takes"),
                                            (["--checkpoint", "/nonexistent/model.json"], "no trained network"),
                                            (["--fit-setting", "symmetry_sigma"], "--fit-setting: fit settings take"),
                                            (["--fit-setting", "symmetry_sigma=-1"], "positive")])
def test_bad_arguments_are_refused(args, message, capsys):
    assert calibrate(args) == 2
    assert message in capsys.readouterr().err
