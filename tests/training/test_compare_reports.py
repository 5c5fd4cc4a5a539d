"""Paired comparison of two held-out evaluation reports (training.eval.compare)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from training.eval.compare import (
    FIGURES,
    PROCEDURAL_ROW,
    REAL_ROW,
    ReportMismatch,
    accepted,
    compare,
    paired_difference,
)
from training.eval.compare import main as compare_main
from training.eval.pipeline import main as evaluate_main


def test_paired_difference_interval_and_verdicts():
    d = paired_difference(np.array([10.0, 12.0, 11.0]), np.array([9.0, 10.8, 10.2]))
    diffs = np.array([-1.0, -1.2, -0.8])
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
    assert d.mean == pytest.approx(-1.0) and d.high == pytest.approx(-1.0 + half, abs=1e-3)
    assert d.verdict == "better" and d.candidate_wins == 3 and d.clips == 3
    # a difference that changes sign from clip to clip is noise; the same one reversed is worse
    assert paired_difference(np.array([5.0, 5.0, 5.0, 5.0]), np.array([4.0, 6.1, 4.2, 5.9])).verdict == "within noise"
    assert paired_difference(np.array([9.0, 10.8, 10.2]), np.array([10.0, 12.0, 11.0])).verdict == "worse"
    one = paired_difference(np.array([5.0]), np.array([1.0]))
    assert one.verdict == "too few clips" and one.low is None and one.mean == pytest.approx(-4.0)


def _report(offsets: dict[str, float], kinds=("run", "squat"), clips=4, exact=False, seed0=0,
            per_kind: dict[str, dict[str, float]] | None = None) -> dict:
    rng = np.random.default_rng(7)  # the same base figures for every call: only the offsets differ
    rows = []
    for kind in kinds:
        offsets_here = {**offsets, **(per_kind or {}).get(kind, {})}
        for i in range(clips):
            figures = {"ll_mae_deg": 8 + rng.random(), "mae_deg": 6 + rng.random(), "scale_err_pct": 5 + rng.random(),
                       "mpjpe_mm": 45 + 5 * rng.random(), "knee_amplitude_ratio": 0.9 + 0.05 * rng.random()}
            jitter = 0.01 * (i % 2 - 0.5)  # clip-to-clip scatter of each offset
            none = {k: v + (offsets_here[k] + jitter if k in offsets_here else 0.0) for k, v in figures.items()}
            rows.append({"kind": kind, "seed": seed0 + 1000 * len(rows) + i, "frames": 120, "none": none,
                         "floor": figures})
    return {"split": "eval", "exact": exact, "checkpoint": "x.pt", "mirror_average": False, "clips": rows}


def test_compare_finds_better_worse_and_mixed():
    base = _report({})
    better = compare(base, _report({"mpjpe_mm": -2.0, "ll_mae_deg": -0.3}))
    assert better["overall"] == "better" and better["clips"] == 8
    assert better["kinds"]["all"]["mpjpe_mm"]["mean"] == pytest.approx(-2.0, abs=0.01)
    assert better["kinds"]["squat"]["ll_mae_deg"]["verdict"] == "better"
    assert better["kinds"]["all"]["scale_err_pct"]["verdict"] == "within noise"
    mixed = compare(base, _report({"mpjpe_mm": -2.0, "scale_err_pct": 0.4}))
    assert mixed["overall"] == "mixed" and mixed["kinds"]["all"]["scale_err_pct"]["verdict"] == "worse"
    assert compare(base, _report({"scale_err_pct": 0.4}))["overall"] == "worse"
    assert compare(base, base)["overall"] == "within noise"
    # the knee amplitude counts by its distance from 1: ratios 0.9 → 1.0 are better, not worse
    knee = compare(base, _report({"knee_amplitude_ratio": 0.08}))["kinds"]["run"]["knee_amplitude_error"]
    assert knee["verdict"] == "better" and knee["mean"] < 0
    # the all row's knee figure is over gait kinds only (run here, not squat), as in the report
    assert knee["clips"] == compare(base, base)["kinds"]["all"]["knee_amplitude_error"]["clips"] == 4


def test_real_motion_is_pooled_and_must_not_get_worse():
    """With held-out real motions beside procedural kinds, each group gets a pooled row; a candidate that
    is better over all clips only because procedural clips improve while real ones get worse is refused."""
    kinds = ("run", "squat", "real_walk", "real_jump")
    base = _report({}, kinds=kinds)
    assert REAL_ROW not in compare(_report({}), _report({}))["kinds"]  # procedural only: no group rows
    trade = _report({"mpjpe_mm": -2.0}, kinds=kinds,
                    per_kind={"run": {"ll_mae_deg": -0.4}, "squat": {"ll_mae_deg": -0.4},
                              "real_walk": {"ll_mae_deg": 0.4}, "real_jump": {"ll_mae_deg": 0.4}})
    r = compare(base, trade)
    assert r["overall"] == "better" and r["kinds"]["all"]["ll_mae_deg"]["verdict"] == "within noise"
    assert r["kinds"][REAL_ROW]["ll_mae_deg"]["verdict"] == "worse" and r["kinds"][REAL_ROW]["ll_mae_deg"]["clips"] == 8
    assert r["kinds"][PROCEDURAL_ROW]["ll_mae_deg"]["verdict"] == "better"
    assert r["real_motion"] == "mixed" and not accepted(r)
    # the pooled knee figure is over gait kinds only: real_walk in one group, run in the other
    knee = [r["kinds"][row]["knee_amplitude_error"]["clips"] for row in (REAL_ROW, PROCEDURAL_ROW)]
    assert knee == [4, 4]
    fair = compare(base, _report({"mpjpe_mm": -2.0}, kinds=kinds))
    assert fair["real_motion"] == "better" and accepted(fair)


def test_compare_refuses_reports_of_different_clips():
    base = _report({})
    with pytest.raises(ReportMismatch, match="exact"):
        compare(base, _report({}, exact=True))
    with pytest.raises(ReportMismatch, match="different clips"):
        compare(base, _report({}, seed0=1))
    with pytest.raises(ReportMismatch, match="different clips"):
        compare(base, _report({}, kinds=("run",)))
    shorter = _report({})
    shorter["clips"][0]["frames"] = 90
    with pytest.raises(ReportMismatch, match="frames"):
        compare(base, shorter)
    with pytest.raises(ReportMismatch, match="no 'fit' scores"):
        compare(base, base, mode="fit")


@pytest.mark.slow
def test_compare_command_on_two_real_evaluations(use_tiny_checkpoint, tmp_path, capsys):
    """Two network-only evaluations of the same held-out clips (one pass, and mirror-averaged) pair up
    clip by clip; a report against itself is within noise, so --require-better refuses it."""
    paths = []
    for extra in ([], ["--mirror-average"]):
        out = tmp_path / f"report{len(paths)}.json"
        assert evaluate_main(["--kinds", "squat", "--clips", "2", "--seconds", "1.0", "--network-only", "--json",
                              str(out), "--checkpoint", str(use_tiny_checkpoint), *extra]) == 0
        paths.append(out)
    capsys.readouterr()
    result_path = tmp_path / "comparison.json"
    assert compare_main([str(paths[0]), str(paths[1]), "--json", str(result_path)]) == 0
    printed = capsys.readouterr().out
    assert "2 paired clips" in printed and "| squat | 2 |" in printed and "overall:" in printed
    result = json.loads(result_path.read_text())
    assert result["candidate_mirror_average"] is True and result["base_mirror_average"] is False
    assert set(result["kinds"]["all"]) == set(FIGURES) - {"knee_amplitude_error"}  # no gait kind here
    base = json.loads(paths[0].read_text())["clips"]
    mirrored = json.loads(paths[1].read_text())["clips"]
    mpjpe = result["kinds"]["squat"]["mpjpe_mm"]
    assert mpjpe["mean"] == pytest.approx(np.mean([m["none"]["mpjpe_mm"] - b["none"]["mpjpe_mm"]
                                                   for b, m in zip(base, mirrored, strict=True)]), abs=2e-3)
    assert compare_main([str(paths[0]), str(paths[0]), "--require-better"]) == 1
    assert "overall: within noise" in capsys.readouterr().out


def test_compare_command_explains_unusable_input(tmp_path, capsys):
    good = tmp_path / "a.json"
    good.write_text(json.dumps(_report({})))
    other = tmp_path / "b.json"
    other.write_text(json.dumps(_report({}, exact=True)))
    assert compare_main([str(good), str(other)]) == 2
    assert "cannot be compared" in capsys.readouterr().err
    assert compare_main([str(good), str(tmp_path / "missing.json")]) == 2
    assert "cannot read the report" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"split": "eval", "exact": False, "clips": [{"kind": "run"}]}))
    assert compare_main([str(good), str(broken)]) == 2
    assert "cannot be compared" in capsys.readouterr().err
