"""``kinematics-estimate`` end to end: mechanics with a tiny trained checkpoint, errors, exit codes."""

from __future__ import annotations

import json

import numpy as np

from model_store.biomech import read_mot
from worker.cli import main as cli_main


def _run(args, capsys):
    rc = cli_main([*args, "--quiet"])
    return rc, capsys.readouterr()


def test_cli_on_exact_detections_writes_opensim_files(use_tiny_checkpoint, synthetic_clip, tmp_path, capsys,
                                                      opensim_module):
    out = tmp_path / "out"
    rc, cap = _run(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                    "--calibration", str(synthetic_clip / "calibration.toml"),
                    "--detections", str(synthetic_clip / "detections"), "--mass-kg", "70", "--out", str(out)], capsys)
    assert rc == 0, cap.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sync"]["offset_frames"] == 0 and summary["inputs"]["camera_source"] == "calibration"
    assert set(summary["stage_seconds"]) == {"decode", "detect", "cameras", "synchronise", "infer", "assemble"}
    model = opensim_module.Model(str(out / "model_scaled.osim"))
    state = model.initSystem()
    assert abs(model.getTotalMass(state) - 70.0) < 1e-6
    table = opensim_module.TimeSeriesTable(str(out / "kinematics.mot"))
    truth = read_mot(synthetic_clip / "truth.mot")
    assert table.getNumRows() == truth.times_s.size and table.getNumColumns() == 39
    assert opensim_module.TimeSeriesTableVec3(str(out / "joint_centers.trc")).getNumColumns() == 22
    assert (out / "plots" / "overview.png").stat().st_size > 1000
    motion = read_mot(out / "kinematics.mot")
    assert np.isfinite(motion.coords).all()
    # pelvis translation recovered from the cameras: close to the truth's travel
    err = np.linalg.norm(motion.coords[:, 3:6] - truth.coords[:, 3:6], axis=1)
    assert np.median(err) < 0.25, np.median(err)


def test_cli_errors_are_one_line_with_codes(use_tiny_checkpoint, synthetic_clip, tmp_path, capsys, monkeypatch):
    base = ["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
            "--out", str(tmp_path / "o")]
    rc, cap = _run([*base, "--calibration", str(synthetic_clip / "calibration.toml"), "--front-camera", "front",
                    "--side-camera", "cam9", "--detections", str(synthetic_clip / "detections")], capsys)
    assert rc == 2 and cap.err.startswith("error [camera_not_found]") and cap.err.count("\n") == 1
    rc, cap = _run([*base, "--height-m", "9"], capsys)
    assert rc == 2 and "--height-m" in cap.err
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    rc, cap = _run(["--front", str(empty), "--side", str(synthetic_clip / "side.mp4"), "--out", str(tmp_path / "o")],
                   capsys)
    assert rc == 2 and "video_empty" in cap.err
    monkeypatch.setenv("KINEMATICS_CHECKPOINT", str(tmp_path / "missing.json"))
    rc, cap = _run(base, capsys)
    assert rc == 2 and "no_checkpoint" in cap.err and "training.train" in cap.err


def test_cli_reports_no_person(use_tiny_checkpoint, tmp_path, capsys):
    from tests.service.videos import write_video

    v = write_video(tmp_path / "empty_scene.mp4", seconds=1.0, size=(128, 128))
    rc, cap = _run(["--front", str(v), "--side", str(v), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "no_person" in cap.err
