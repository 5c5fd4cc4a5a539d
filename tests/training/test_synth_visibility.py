"""Keypoint visibility from capsule occlusion: front, back and side views of a standing body."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.geometry.cameras import Camera, look_at
from model_store.keypoints.landmarks import load_landmarks
from training.synth.body import build_capsules
from training.synth.render import keypoint_visibility


@pytest.fixture(scope="module")
def standing():
    fk = load_fullbody_model()
    q = fk.default_coordinates[None].double()
    s = torch.ones(1, 22, 3, dtype=torch.float64)
    out = fk(q, s)
    caps = build_capsules()
    radii = caps.radii(s[0].numpy(), 1.0, 1.0)
    return caps.endpoints(out, s).numpy(), radii, load_landmarks().positions(out, s).numpy()


def _camera(position) -> Camera:
    """1280×720 camera at ``position`` (ground, m) aimed at the standing body's middle."""
    r, t = look_at(np.asarray(position, float), np.array([0.0, 0.9, 0.0]))
    k = np.array([[900.0, 0, 639.5], [0, 900.0, 359.5], [0, 0, 1]])
    return Camera(name="test", K=k, dist=np.zeros(5), R=r, t=t, image_size=(720, 1280))


def _vis(standing, position) -> dict[str, float]:
    caps, radii, lms = standing
    v = keypoint_visibility(_camera(position), caps, radii, lms)[0]
    return dict(zip(load_landmarks().names, v.tolist(), strict=True))


def test_front_view_sees_the_face_and_the_back_view_does_not(standing):
    front = _vis(standing, (3.5, 1.0, 0.0))  # the model faces +X
    back = _vis(standing, (-3.5, 1.0, 0.0))
    for name in ("nose", "left_eye", "mouth_right", "left_knee", "right_wrist"):
        assert front[name] == 1.0, name
    for name in ("nose", "left_eye", "mouth_right"):
        assert back[name] == 0.5, name
    assert back["left_knee"] == 1.0 and back["left_shoulder"] == 1.0  # joint centres show from behind


def test_side_view_hides_the_far_side(standing):
    right = _vis(standing, (0.0, 1.0, 3.5))  # ground +Z is the subject's right
    for joint in ("shoulder", "hip", "knee", "ankle"):
        assert right[f"right_{joint}"] == 1.0, joint
        assert right[f"left_{joint}"] == 0.5, joint
    left = _vis(standing, (0.0, 1.0, -3.5))
    assert left["left_hip"] == 1.0 and left["right_hip"] == 0.5


def test_landmarks_outside_the_image_have_zero_visibility(standing):
    caps, radii, lms = standing
    cam = _camera((1.2, 1.0, 0.0))  # close up: head and feet leave the 720×1280 image
    v = keypoint_visibility(cam, caps, radii, lms)[0]
    px, _ = cam.project_pinhole(lms[0])
    outside = (px[:, 1] < 0) | (px[:, 1] > 1279) | (px[:, 0] < 0) | (px[:, 0] > 719)
    assert outside.any() and (~outside).any()
    assert np.all(v[outside] == 0.0) and np.all(v[~outside] > 0.0)


@pytest.mark.parametrize(("out_size", "supersample"), [(256, 2), (64, 2), (64, 4), (256, 1)])
def test_masks_are_centred_on_their_pixels(out_size, supersample):
    """A disc drawn at crop px c is centred at mask px (c + 0.5)·out/256 − 0.5 (no half-pixel drift)."""
    from training.synth.render import draw_mask

    centre_full = np.array([431.3, 207.8])  # full-frame px
    x0y0, scale = np.array([400.0, 150.0]), 2.0  # crop metadata: crop = (full − x0y0)·scale
    k = out_size / 256
    offset = x0y0 - (0.5 * k - 0.5) / (scale * k)
    px = np.stack([centre_full, centre_full])[None]  # one capsule, both ends at the centre
    m = draw_mask(px, np.array([9.0]), offset, scale * k, (out_size, out_size), supersample).astype(float)
    ys, xs = np.mgrid[: m.shape[0], : m.shape[1]]
    got = np.array([(xs * m).sum(), (ys * m).sum()]) / m.sum()
    expected = ((centre_full - x0y0) * scale + 0.5) * k - 0.5
    np.testing.assert_allclose(got, expected, atol=0.06)
