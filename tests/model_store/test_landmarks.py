"""The 33 MediaPipe Pose landmarks defined on Rajagopal bodies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.keypoints.landmarks import load_landmarks
from model_store.keypoints.skeleton import mirror_permutation


def test_names_follow_mediapipe_order():
    mp_pose = pytest.importorskip("mediapipe").solutions.pose
    expected = tuple(p.name.lower() for p in sorted(mp_pose.PoseLandmark, key=int))
    assert load_landmarks().names == expected


def test_left_points_mirror_right_points():
    lms = load_landmarks()
    perm = mirror_permutation(lms.names)
    assert sorted(perm) == list(range(33)) and [perm[p] for p in perm] == list(range(33))
    for i, j in enumerate(perm):
        if i == j:
            assert lms.local_points[i, 2] == 0.0, lms.names[i]  # central points lie on the midline
            continue
        assert lms.bodies[j] == lms.bodies[i].replace("_r", "_l") or lms.bodies[i] == lms.bodies[j].replace(
            "_r", "_l") or lms.bodies[i] == lms.bodies[j]
        np.testing.assert_allclose(lms.local_points[j], lms.local_points[i] * torch.tensor([1.0, 1.0, -1.0]))


def test_standing_pose_is_anatomically_ordered_and_scales_with_the_body():
    fk = load_fullbody_model()
    lms = load_landmarks()
    q = fk.default_coordinates[None].double()
    y = lms.positions(fk(q))[0, :, 1].numpy()
    at = {n: y[lms.index(n)] for n in lms.names}
    for side in ("left", "right"):
        assert at["nose"] > at[f"{side}_shoulder"] > at[f"{side}_hip"] > at[f"{side}_knee"] > at[f"{side}_ankle"]
        assert at[f"{side}_shoulder"] > at[f"{side}_elbow"] > at[f"{side}_wrist"]
    assert 1.5 < at["nose"] - min(y) < 1.7  # generic model ~1.72 m tall, nose ~0.1 m below the crown
    scales = torch.full((1, 22, 3), 1.1, dtype=torch.float64)
    big = lms.positions(fk(q, scales), scales)[0, :, 1].numpy()
    nose, heel = lms.index("nose"), lms.index("left_heel")
    assert big[nose] - big[heel] == pytest.approx(1.1 * (y[nose] - y[heel]), rel=1e-6)


def test_landmarks_json_is_what_the_generator_writes(tmp_path, monkeypatch):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_landmarks.py"
    spec = importlib.util.spec_from_file_location("make_landmarks", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "OUT", tmp_path / "landmarks.json")
    mod.main()
    bundled = Path(__file__).resolve().parents[2] / "model_store" / "data" / "landmarks.json"
    assert json.loads((tmp_path / "landmarks.json").read_text()) == json.loads(bundled.read_text())


def test_detector_keypoints_sit_off_the_joint_centres_as_published():
    """MediaPipe's hip keypoint is ~2–3 cm lateral of (and a little below) the hip joint centre, its
    shoulder on the outside of the shoulder joint (Pose2Sim's BlazePose marker set)."""
    fk = load_fullbody_model()
    lms = load_landmarks()
    q = fk.default_coordinates[None].double()
    out = fk(q)
    pts = lms.positions(out)[0]
    for side, s in (("right", "r"), ("left", "l")):
        hip = pts[lms.index(f"{side}_hip")] - out.joint_centers[0, fk.body_names.index(f"femur_{s}")]
        lateral = hip[2] if s == "r" else -hip[2]
        assert 0.015 < float(lateral) < 0.035 and float(hip[1]) < 0
        sh = pts[lms.index(f"{side}_shoulder")] - out.joint_centers[0, fk.body_names.index(f"humerus_{s}")]
        assert 0.02 < float(sh[2] if s == "r" else -sh[2]) < 0.05
    assert float(lms.fit_weights[lms.index("nose")]) < 0.5 < float(lms.fit_weights[lms.index("left_knee")])
