"""The pipeline with the bundled, trained checkpoint: a synthetic clip with exact detections (angles
against the truth) and the real Pose2Sim demo pair cam01 + cam04 with its calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_store.biomech import load_fullbody_model, read_mot
from model_store.network import find_checkpoint
from training.eval.metrics import LOWER_LIMB_SAGITTAL, angle_errors_deg
from worker.cli import main as cli_main

pytestmark = pytest.mark.slow
MEASURED_OFFSET_CAM01_CAM04 = -1


@pytest.fixture(scope="module")
def bundled():
    return find_checkpoint()  # fails with the training command if the bundled checkpoint is missing


def test_synthetic_clip_angles_close_to_truth(bundled, synthetic_clip, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli_main(["--front", str(synthetic_clip / "front.mp4"), "--side", str(synthetic_clip / "side.mp4"),
                   "--calibration", str(synthetic_clip / "calibration.toml"),
                   "--detections", str(synthetic_clip / "detections"), "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    fk = load_fullbody_model()
    cols = [fk.coordinate_names.index(n) for n in LOWER_LIMB_SAGITTAL]
    pred, truth = read_mot(out / "kinematics.mot"), read_mot(synthetic_clip / "truth.mot")
    mae = float(angle_errors_deg(pred.coords[:, cols], truth.coords[:, cols]).mean())
    base_angles = np.array(bundled.manifest["baseline_mean_pose"]["angles_rad"])
    rot = [i for i, c in enumerate(fk.definition.coordinates) if c.motion_type != "translational"]
    base = dict(zip([fk.coordinate_names[i] for i in rot], base_angles, strict=True))
    const = np.array([base[n] for n in LOWER_LIMB_SAGITTAL])[None]
    floor = float(angle_errors_deg(const, truth.coords[:, cols]).mean())
    print(f"synthetic clip sagittal hip/knee/ankle MAE: {mae:.2f} deg (mean-pose floor {floor:.2f} deg)")
    assert mae < floor


def test_real_demo_pair(bundled, shared_data, tmp_path, capsys, opensim_module):
    d = shared_data / "video" / "pose2sim-demo-single"
    out = tmp_path / "demo"
    rc = cli_main(["--front", str(d / "cam01.mp4"), "--side", str(d / "cam04.mp4"), "--calibration",
                   str(d / "calibration.toml"), "--front-camera", "cam01", "--side-camera", "cam04",
                   "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    print("demo summary:", json.dumps({k: summary[k] for k in ("sync", "stage_seconds", "frames", "warnings")}))
    assert abs(summary["sync"]["offset_frames"] - MEASURED_OFFSET_CAM01_CAM04) <= 2
    model = opensim_module.Model(str(out / "model_scaled.osim"))
    model.initSystem()
    sto = opensim_module.Storage(str(out / "kinematics.mot"))
    assert sto.getSize() == summary["frames"] > 60
    motion = read_mot(out / "kinematics.mot")
    assert np.isfinite(motion.coords).all()
    fk = load_fullbody_model()
    r = fk.coordinate_ranges.numpy()
    joint = [i for i, n in enumerate(fk.coordinate_names) if not n.startswith("pelvis")]
    q = motion.coords[:, joint]
    assert np.all(q >= r[joint, 0] - 1e-6) and np.all(q <= r[joint, 1] + 1e-6)
    for png in ("overview.png", "knee_angle.png"):
        assert (out / "plots" / png).is_file()
