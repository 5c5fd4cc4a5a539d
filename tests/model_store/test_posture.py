"""Heading-invariant posture angles of the pelvis and the trunk (model_store.biomech.posture)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from model_store.biomech import load_definition, load_fullbody_model
from model_store.biomech.posture import default_posture, rotation_log
from training.synth.motions import rotate_heading

NAMES = load_definition().coordinate_names


def _poses(n: int, seed: int = 0) -> torch.Tensor:
    fk = load_fullbody_model()
    rng = np.random.default_rng(seed)
    q = fk.default_coordinates[None].repeat(n, 1).clone()
    for name, lim in (("pelvis_tilt", 0.6), ("pelvis_list", 0.3), ("pelvis_rotation", 3.0), ("lumbar_extension", 0.8),
                      ("lumbar_bending", 0.3), ("lumbar_rotation", 0.3)):
        q[:, NAMES.index(name)] = torch.as_tensor(rng.uniform(-lim, lim, n))
    return q


def test_pelvis_and_torso_rotations_are_those_of_the_full_model():
    fk, posture = load_fullbody_model(), default_posture()
    q = _poses(40)
    out = fk(fk.apply_couplers(q), torch.ones(40, 22, 3, dtype=torch.float64))
    torch.testing.assert_close(posture.pelvis(q), out.body_rotations[:, fk.body_names.index("pelvis")])
    torch.testing.assert_close(posture.torso(q), out.body_rotations[:, fk.body_names.index("torso")])
    assert posture.coordinates == tuple(NAMES.index(n) for n in (
        "pelvis_tilt", "pelvis_list", "pelvis_rotation", "lumbar_extension", "lumbar_bending", "lumbar_rotation"))


def test_the_angles_do_not_depend_on_the_heading_and_mean_tilt_when_facing_x():
    posture = default_posture()
    q = _poses(30, seed=1)
    turned = torch.as_tensor(rotate_heading(q.numpy(), 1.3))
    torch.testing.assert_close(posture.pelvis_tilt(turned), posture.pelvis_tilt(q))
    torch.testing.assert_close(posture.trunk_lean(turned), posture.trunk_lean(q))
    assert not torch.allclose(turned[:, 0], q[:, 0], atol=0.05)  # the coordinate itself does change
    facing_x = q.clone()
    facing_x[:, 1:3] = 0.0  # no list, no rotation: the anatomical tilt is pelvis_tilt
    torch.testing.assert_close(posture.pelvis_tilt(facing_x), facing_x[:, 0])


def test_trunk_lean_is_blind_to_how_it_splits_between_pelvis_and_lumbar():
    posture = default_posture()
    q = _poses(20, seed=2)
    q[:, [1, 2, 23, 24]] = 0.0
    split = q.clone()
    split[:, 0] += 0.2  # the pelvis tilts back by 0.2 rad, the lumbar spine flexes as much
    split[:, NAMES.index("lumbar_extension")] -= 0.2
    torch.testing.assert_close(posture.trunk_lean(split), posture.trunk_lean(q))
    torch.testing.assert_close(posture.pelvis_tilt(split) - posture.pelvis_tilt(q), torch.full((20,), 0.2,
                               dtype=torch.float64))


def test_rotation_log_is_the_rotation_vector():
    rng = np.random.default_rng(3)
    vecs = np.concatenate([rng.normal(size=(20, 3)), 1e-9 * rng.normal(size=(3, 3)), np.zeros((1, 3)),
                           [[0.0, 0.0, np.pi - 1e-4]]])
    mats = torch.as_tensor(Rotation.from_rotvec(vecs).as_matrix())
    np.testing.assert_allclose(rotation_log(mats).numpy(), Rotation.from_matrix(mats.numpy()).as_rotvec(), atol=1e-7)
