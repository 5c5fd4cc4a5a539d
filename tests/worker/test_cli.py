"""``kinematics-estimate`` end to end: mechanics with a tiny trained checkpoint, errors, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_store.biomech import read_mot
from worker.cli import main as cli_main
from worker.settings import get_settings


def _run(args, capsys):
    rc = cli_main([*args, "--quiet"])
    return rc, capsys.readouterr()


@pytest.mark.slow
def test_cli_on_exact_detections_writes_opensim_files(use_tiny_checkpoint, synthetic_clip, tmp_path, capsys,
                                                      opensim_module):
    out = tmp_path / "out"
    rc, cap = _run(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                    "--calibration", str(synthetic_clip / "calibration.toml"),
                    "--detections", str(synthetic_clip / "detections"), "--mass-kg", "70", "--out", str(out)], capsys)
    assert rc == 0, cap.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sync"]["offset_frames"] == 0 and summary["inputs"]["camera_source"] == "calibration"
    identity = summary["subject"]["identity"]  # one person throughout: checked, no switch
    assert identity["switches"] == [] and identity["frames_checked"] == summary["frames"], identity
    assert set(summary["stage_seconds"]) == {"decode", "detect", "cameras", "synchronise", "infer", "fit", "assemble"}
    assert summary["fit"]["refine"] == "fit" and set(summary["fit"]["residuals"]) == {"front", "side"}
    assert summary["fit"]["residuals"]["front"]["median_pct_of_height"] < 2.0  # explained despite a poor prior
    assert set(summary["body_scales"]) >= {"pelvis", "femur_r", "torso"}
    assert summary["network"]["runs_on"] in ("onnxruntime CPUExecutionProvider", "torch cpu")  # no GPU here
    unc = summary["fit"]["uncertainty_deg"]
    assert unc["knee_angle_r"]["sd_median"] > 0 and "subtalar_angle_r" not in unc  # locked: not fitted
    sd = opensim_module.Storage(str(out / "kinematics_sd.sto"))
    assert sd.getSize() == summary["frames"] and sd.getColumnLabels().getSize() == 40
    rows = (out / "fit_residuals.csv").read_text().splitlines()
    assert rows[0].startswith("frame,time_s,front_median_px") and len(rows) == summary["frames"] + 1
    model = opensim_module.Model(str(out / "model_scaled.osim"))
    state = model.initSystem()
    assert abs(model.getTotalMass(state) - 70.0) < 1e-6
    table = opensim_module.TimeSeriesTable(str(out / "kinematics.mot"))
    truth = read_mot(synthetic_clip / "truth.mot")
    assert table.getNumRows() == truth.times_s.size and table.getNumColumns() == 39
    assert opensim_module.TimeSeriesTableVec3(str(out / "joint_centers.trc")).getNumColumns() == 22
    assert (out / "plots" / "overview.png").stat().st_size > 1000
    assert np.isfinite(read_mot(out / "kinematics.mot").coords).all()
    _check_overlay(out, summary["frames"])


def _check_overlay(out, frames):
    """overlay.mp4: one frame per two result frames, both views side by side, the model (orange) drawn
    in each half; overlay.png: a non-empty contact sheet."""
    import av
    import cv2

    with av.open(str(out / "overlay.mp4")) as c:
        images = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(images) == (frames + 1) // 2
    img = images[len(images) // 2].astype(int)
    orange = (img[..., 0] > 200) & (img[..., 1] > 90) & (img[..., 1] < 190) & (img[..., 2] < 80)
    half = img.shape[1] // 2
    assert orange[:, :half].sum() > 20 and orange[:, half:].sum() > 20
    sheet = cv2.imread(str(out / "overlay.png"))
    assert sheet is not None and sheet.shape[0] > 100 and sheet.std() > 5


def test_cli_errors_are_one_line_with_codes(use_tiny_checkpoint, synthetic_clip, tmp_path, capsys, monkeypatch):
    base = ["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
            "--out", str(tmp_path / "o")]
    rc, cap = _run([*base, "--calibration", str(synthetic_clip / "calibration.toml"), "--front-camera", "front",
                    "--side-camera", "cam9", "--detections", str(synthetic_clip / "detections")], capsys)
    assert rc == 2 and cap.err.startswith("error [camera_not_found]") and cap.err.count("\n") == 1
    rc, cap = _run([*base, "--height-m", "9"], capsys)
    assert rc == 2 and "--height-m" in cap.err
    rc, cap = _run([*base, "--subject", "biggest"], capsys)  # the API form's own check (worker.params.JobForm)
    assert rc == 2 and "--subject" in cap.err and "largest" in cap.err and cap.err.count("\n") == 1
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    rc, cap = _run(["--front", str(empty), "--side", str(synthetic_clip / "side.mp4"), "--out", str(tmp_path / "o")],
                   capsys)
    assert rc == 2 and "video_empty" in cap.err
    monkeypatch.setenv("KINEMATICS_CHECKPOINT", str(tmp_path / "missing.json"))
    get_settings.cache_clear()  # as a new process would read it
    rc, cap = _run(base, capsys)
    assert rc == 2 and "no_checkpoint" in cap.err and "training.train" in cap.err


def test_cli_reports_no_person(use_tiny_checkpoint, tmp_path, capsys):
    from tests.service.videos import write_video

    v = write_video(tmp_path / "empty_scene.mp4", seconds=1.0, size=(128, 128))
    rc, cap = _run(["--front", str(v), "--side", str(v), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "no_person" in cap.err


@pytest.mark.slow
def test_refine_none_keeps_the_network_and_fit_beats_it(use_tiny_checkpoint, synthetic_clip, tmp_path, capsys):
    from model_store.biomech import load_definition
    from training.eval.metrics import LOWER_LIMB_SAGITTAL, angle_errors_deg

    truth = read_mot(synthetic_clip / "truth.mot")
    cols = [load_definition().coordinate_names.index(n) for n in LOWER_LIMB_SAGITTAL]
    err, res = {}, {}
    for mode in ("none", "fit"):
        out = tmp_path / mode
        rc, cap = _run(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                        "--calibration", str(synthetic_clip / "calibration.toml"), "--refine", mode,
                        "--detections", str(synthetic_clip / "detections"), "--out", str(out),
                        *(["--no-overlay"] if mode == "none" else [])], capsys)
        assert rc == 0, cap.err
        summary = json.loads((out / "summary.json").read_text())
        assert summary["fit"]["refine"] == mode
        assert (out / "overlay.mp4").exists() == (mode == "fit")
        assert (out / "kinematics_sd.sto").exists() == (mode == "fit")
        pred = read_mot(out / "kinematics.mot").coords
        err[mode] = float(angle_errors_deg(pred[:, cols], truth.coords[:, cols]).mean())
        if mode == "none":  # pelvis translation from the triangulated hips: close to the truth's travel
            travel = np.linalg.norm(pred[:, 3:6] - truth.coords[:, 3:6], axis=1)
            assert np.median(travel) < 0.25, np.median(travel)
        res[mode] = summary["fit"]["residuals"]["side"]["median_px"]
    assert err["fit"] < err["none"] / 2, err
    assert res["fit"] < res["none"] / 2, res


def test_a_view_whose_keypoints_are_all_unseen_fails_with_a_code(use_tiny_checkpoint, synthetic_clip, tmp_path,
                                                                  capsys):
    from model_store.keypoints.detections import load_clip_detections, save_view_detections

    front, side = load_clip_detections(synthetic_clip / "detections")
    side.keypoints[..., 2] = 0.0  # the side detector saw the silhouette but no keypoint
    dets = tmp_path / "dets"
    save_view_detections(dets / "front.npz", front)
    save_view_detections(dets / "side.npz", side)
    rc, cap = _run(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                    "--calibration", str(synthetic_clip / "calibration.toml"), "--offset-frames", "0",
                    "--detections", str(dets), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and cap.err.startswith("error [fit_no_keypoints]") and "side" in cap.err, cap.err
    with pytest.raises(SystemExit) as info:
        cli_main(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                  "--refine", "magic", "--out", str(tmp_path / "o")])
    assert info.value.code == 2 and "--refine" in capsys.readouterr().err


@pytest.mark.slow
def test_mirror_average_setting_reaches_the_network(use_tiny_checkpoint, synthetic_clip, tmp_path, capsys,
                                                    monkeypatch):
    """``KINEMATICS_MIRROR_AVERAGE`` switches the second, mirrored network pass on: the summary says
    so and the network's answer changes."""
    coords = {}
    for on in (False, True):
        monkeypatch.setenv("KINEMATICS_MIRROR_AVERAGE", "1" if on else "0")
        get_settings.cache_clear()  # as a new process would read it
        out = tmp_path / str(on)
        rc, cap = _run(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                        "--calibration", str(synthetic_clip / "calibration.toml"), "--refine", "none",
                        "--detections", str(synthetic_clip / "detections"), "--out", str(out), "--no-overlay"], capsys)
        assert rc == 0, cap.err
        assert json.loads((out / "summary.json").read_text())["network"]["mirror_average"] is on
        coords[on] = read_mot(out / "kinematics.mot").coords
    get_settings.cache_clear()
    assert np.abs(coords[True] - coords[False]).max() > 1e-4


@pytest.mark.slow
def test_without_a_calibration_the_cli_estimates_the_cameras_and_writes_them(use_tiny_checkpoint, synthetic_clip,
                                                                             tmp_path, capsys):
    """No calibration: the rig comes from the person; the summary says so and the estimated calibration is
    written in the format ``--calibration`` reads, close to the clip's true one (relative rotation)."""
    from model_store.geometry.cameras import load_calibration_toml

    out = tmp_path / "out"
    rc, cap = _run(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                    "--detections", str(synthetic_clip / "detections"), "--height-m", "1.75", "--no-overlay",
                    "--out", str(out)], capsys)
    assert rc == 0, cap.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["camera_source"] == "estimated"
    assert summary["estimated_cameras"]["stature_given"] and summary["estimated_cameras"]["stature_m"] == 1.75
    assert any("estimated from the person" in w for w in summary["warnings"])
    assert not any("assumed the default rig" in w for w in summary["warnings"])
    est = load_calibration_toml(out / "estimated_calibration.toml")
    truth = list(load_calibration_toml(synthetic_clip / "calibration.toml").values())
    r_est = est["side"].R @ est["front"].R.T
    r_true = truth[1].R @ truth[0].R.T
    assert np.degrees(np.arccos(np.clip((np.trace(r_est.T @ r_true) - 1) / 2, -1, 1))) < 8.0
