"""Synthetic engine: geometric consistency of clips, mirroring, datasets, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model, read_mot, write_mot
from model_store.geometry.cameras import load_calibration_toml
from model_store.keypoints.detections import load_clip_detections
from model_store.keypoints.landmarks import load_landmarks
from training.synth import motions
from training.synth.__main__ import main as synth_main
from training.synth.clip import read_scales
from training.synth.dataset import iter_shards, read_manifest


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from model_store.demo import sample_motion

    tmp = tmp_path_factory.mktemp("clip")
    times, q = sample_motion(0.5)
    write_mot(tmp / "motion.mot", times, q)
    assert synth_main(["clip", "--motion", str(tmp / "motion.mot"), "--out", str(tmp / "clip"), "--seed", "5"]) == 0
    return tmp / "clip"


def _truth_fk(clip_dir):
    fk = load_fullbody_model()
    motion = read_mot(clip_dir / "truth.mot")
    scales = read_scales(clip_dir / "truth_scales.json")
    s = torch.tensor(scales)[None].expand(len(motion.times_s), -1, -1)
    return fk(torch.tensor(motion.coords), s), s, motion


def test_clip_files_and_truth_round_trip_through_opensim(clip_dir, opensim_module):
    for name in ("front.mp4", "side.mp4", "calibration.toml", "truth.mot", "truth_scales.json"):
        assert (clip_dir / name).is_file()
    table = opensim_module.TimeSeriesTable(str(clip_dir / "truth.mot"))
    assert table.getTableMetaDataAsString("inDegrees") == "yes" and table.getNumColumns() == 39
    times = np.array(table.getIndependentColumn())
    assert abs(np.median(np.diff(times)) - 1 / 60) < 1e-6  # at the video rate
    import av

    with av.open(str(clip_dir / "front.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == table.getNumRows()


def test_keypoints_reproject_with_the_written_calibration(clip_dir):
    out, s, motion = _truth_fk(clip_dir)
    lms = load_landmarks().positions(out, s).numpy()  # OpenSim ground
    cams = load_calibration_toml(clip_dir / "calibration.toml")
    assert set(cams) == {"front", "side"}
    dets = load_clip_detections(clip_dir / "detections")
    for cam, det in zip((cams["front"], cams["side"]), dets, strict=True):
        err = np.linalg.norm(cam.project_opensim(lms) - det.keypoints[..., :2], axis=-1)
        assert err.max() < 0.5, err.max()
        assert det.n_frames == len(motion.times_s) and det.person_found.all()


def test_silhouettes_contain_projected_joint_centres(clip_dir):
    out, _, _ = _truth_fk(clip_dir)
    cams = load_calibration_toml(clip_dir / "calibration.toml")
    dets = load_clip_detections(clip_dir / "detections")
    for cam, det in zip((cams["front"], cams["side"]), dets, strict=True):
        px = np.rint(cam.project_opensim(out.joint_centers.numpy())).astype(int)
        t = np.arange(px.shape[0])[:, None]
        inside = det.masks[t, px[..., 1], px[..., 0]] > 127
        assert inside.mean() > 0.99, inside.mean()


def test_mirroring_swaps_sides_and_reflects_positions():
    fk = load_fullbody_model()
    q = motions.random_motion(np.random.default_rng(4), 12, 60.0)
    names = fk.body_names
    swap = [names.index(n[:-1] + ("l" if n.endswith("_r") else "r")) if n[-2:] in ("_r", "_l") else i
            for i, n in enumerate(names)]
    a = fk(torch.tensor(q)).body_origins.numpy()
    b = fk(torch.tensor(motions.mirror(q))).body_origins.numpy()[:, swap]
    b[..., 2] *= -1
    np.testing.assert_allclose(a, b, atol=1e-9)
    cn = fk.coordinate_names
    m = motions.mirror(q)
    np.testing.assert_allclose(m[:, cn.index("knee_angle_l")], q[:, cn.index("knee_angle_r")])
    np.testing.assert_allclose(m[:, cn.index("pelvis_list")], -q[:, cn.index("pelvis_list")])
    np.testing.assert_allclose(motions.mirror(m), q)


def test_random_motions_stay_in_range_and_are_smooth():
    fk = load_fullbody_model()
    q = motions.random_motion(np.random.default_rng(1), 120, 60.0)
    r = fk.coordinate_ranges.numpy()
    joint = [i for i, n in enumerate(fk.coordinate_names) if not n.startswith("pelvis")]
    assert np.all(q[:, joint] >= r[joint, 0] - 1e-9) and np.all(q[:, joint] <= r[joint, 1] + 1e-9)
    assert np.abs(np.diff(q[:, joint], axis=0)).max() < 0.15  # rad per frame at 60 fps


def test_dataset_cli_writes_readable_shards(tmp_path):
    assert synth_main(["dataset", "--out", str(tmp_path / "ds"), "--sequences", "3", "--frames", "8",
                       "--seed", "2", "--mask-size", "64", "--no-real-walk"]) == 0
    manifest = read_manifest(tmp_path / "ds")
    assert manifest["sequences"] == 3 and manifest["frames"] == 8
    shard = next(iter_shards(tmp_path / "ds"))
    assert shard["masks"].shape == (3, 8, 2, 64, 64) and shard["masks"].dtype == np.uint8
    assert shard["keypoints"].shape == (3, 8, 2, 33, 3) and shard["coords"].shape == (3, 8, 39)
    assert shard["masks"].max() == 255
    # keypoints lie mostly inside the crop
    xy = shard["keypoints"][..., :2]
    assert ((xy > -20) & (xy < 276)).mean() > 0.95
    again = tmp_path / "again"
    synth_main(["dataset", "--out", str(again), "--sequences", "3", "--frames", "8", "--seed", "2",
                "--mask-size", "64", "--no-real-walk"])
    np.testing.assert_array_equal(next(iter_shards(again))["coords"], shard["coords"])  # deterministic


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.mot"
    bad.write_text("nothing useful\n")
    assert synth_main(["clip", "--motion", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "endheader" in capsys.readouterr().err
    scales = tmp_path / "s.json"
    scales.write_text(json.dumps({"scales": {"pelvis": [1, 1, 1]}}))
    with pytest.raises(ValueError, match="no scale factors for femur_r"):
        read_scales(scales)
    assert synth_main(["clip", "--motion", str(tmp_path / "missing.mot"), "--out", str(tmp_path / "o")]) == 2
