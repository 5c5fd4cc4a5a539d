"""The 33 MediaPipe Pose landmarks defined on Rajagopal bodies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.landmarks import load_landmarks, mirror_permutation


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
