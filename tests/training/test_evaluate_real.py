"""The real Pose2Sim demo recording: two views (cam01 + cam04) against the 4-camera reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_store.geometry.cameras import load_calibration_toml
from training.eval.real import main as evaluate_real
from training.eval.recording.pose2sim_demo import demo_dir, detections, estimate_offset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory, shared_data):
    if not (demo_dir(shared_data) / "cam01.mp4").is_file():
        pytest.fail(f"the Pose2Sim demo recording is not in {demo_dir(shared_data)}")
    return tmp_path_factory.mktemp("real_cache")


def test_offsets_are_found_by_triangulation(cache, shared_data):
    dets = detections(cache, shared_data)
    cal = load_calibration_toml(demo_dir(shared_data) / "calibration.toml")
    k, err = estimate_offset(dets["cam01"], dets["cam04"], cal["cam01"], cal["cam04"])
    assert abs(k) <= 1 and err < 10.0  # the closest-to-synchronous pair, a few px two-view error
    k2, err2 = estimate_offset(dets["cam01"], dets["cam02"], cal["cam01"], cal["cam02"])
    assert err2 < 10.0, (k2, err2)


def test_two_view_fit_against_the_four_camera_reference(cache, tmp_path, capsys):
    out = tmp_path / "real.json"
    assert evaluate_real(["--cache", str(cache), "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    print(json.dumps({m: r[m] for m in ("none", "fit")}, indent=1))
    fit, none = r["fit"], r["none"]
    knees = ("knee_angle_r", "knee_angle_l")
    assert np.mean([fit["flexion_mae_deg_vs_4view_fit"][k] for k in knees]) < np.mean(
        [none["flexion_mae_deg_vs_4view_fit"][k] for k in knees])
    assert max(fit["flexion_mae_deg_vs_4view_fit"][k] for k in knees) < 8.0
    assert all(abs(v) < 5.0 for v in fit["segment_length_error_pct"].values()), fit["segment_length_error_pct"]
    # the reference's views agree on left and right: cam02's detector swaps sides in a stretch of frames
    assert r["reference_sides_swapped"]["cam01"] == 0.0 and 0.1 < r["reference_sides_swapped"]["cam02"] < 0.6
    evidence = r["two_view_triangulation"]["segment_length_error_pct"]
    assert set(evidence) == set(fit["segment_length_error_pct"]) and all(abs(v) < 8.0 for v in evidence.values())
    for row in (fit, r["two_view_triangulation"]):
        for k, (lo, hi) in row["segment_length_error_ci95"].items():
            assert lo <= row["segment_length_error_pct"][k] <= hi, (k, lo, hi)
    # the model-free baseline: two calibrated views triangulated agree with four on the knees to a few degrees
    assert max(r["two_view_triangulation"]["three_point_mae_deg_vs_triangulated"][k]
               for k in ("knee_left", "knee_right")) < 8.0
    assert all(v["median_pct_of_height"] < 3.0 for v in r["residuals"].values())


@pytest.mark.parametrize("setting, message", [("symmetry_sigma=0", "positive"), ("nosuch=1", "NAME=VALUE")])
def test_a_bad_fit_setting_is_refused_before_any_work(setting, message, capsys):
    assert evaluate_real(["--fit-setting", setting]) == 2
    assert message in capsys.readouterr().err


def test_the_detectors_real_swap_is_put_back(cache, tmp_path):
    """cam02's detector swaps the person's sides in about a third of the frames: with cam02 as one of the
    product's two views, the product puts back exactly the frames the 4-camera reference does, and the
    arm it mixed up comes out far closer than with the swap left in."""
    figures = {}
    for keep in (False, True):
        out = tmp_path / f"swap_{keep}.json"
        assert evaluate_real(["--cache", str(cache), "--json", str(out), "--views", "cam02", "cam03"]
                             + (["--keep-sides"] if keep else [])) == 0
        figures[keep] = json.loads(out.read_text())
    put_back, kept = figures[False], figures[True]
    assert put_back["views"] == ["cam02", "cam03"] and kept["sides_vs_reference"] is None
    found = put_back["sides_vs_reference"]
    assert found["cam02"]["both"] >= 25 and found["cam03"]["both"] == 0, found
    assert all(f["product_only"] == 0 and f["truth_only"] == 0 for f in found.values()), found
    elbow = [r["fit"]["three_point_mae_deg_vs_triangulated"]["elbow_right"] for r in (put_back, kept)]
    assert elbow[0] < 0.6 * elbow[1], elbow
    assert any("side-view" in w or "front-view" in w for w in put_back["warnings"]), put_back["warnings"]


def test_the_same_camera_twice_is_refused(capsys):
    assert evaluate_real(["--views", "cam02", "cam02"]) == 2
    assert "two different cameras" in capsys.readouterr().err
