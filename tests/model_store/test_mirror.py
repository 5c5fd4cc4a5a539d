"""Left/right mirroring: motions, body scales, the network's inputs (cameras, crops, keypoints) and
the predictor's mirror-averaged answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_fullbody_model
from model_store.biomech.mirror import body_mirror_permutation, mirror_coordinates, mirror_scales
from model_store.geometry.cameras import look_at
from model_store.keypoints.landmarks import load_landmarks
from model_store.keypoints.skeleton import mirror_permutation
from model_store.network import NetworkInputs, save_checkpoint
from model_store.network.mirror import mirror_inputs, unmirror_angles
from model_store.network.onnx_export import example_inputs
from model_store.network.outputs import ROTATIONAL_COORDINATES, assemble_coordinates
from tests.model_store.nets import tiny_net


def test_mirrored_motion_and_scales_reflect_every_body():
    fk = load_fullbody_model()
    rng = np.random.default_rng(2)
    q = assemble_coordinates(rng.normal(0.0, 0.3, (5, 36)), rng.normal(0.0, 0.5, (5, 3)))
    s = rng.uniform(0.85, 1.2, (22, 3))
    a = fk(torch.tensor(q), torch.tensor(s)[None].expand(5, -1, -1)).body_origins.numpy()
    b = fk(torch.tensor(mirror_coordinates(q)), torch.tensor(mirror_scales(s))[None].expand(5, -1, -1))
    b = b.body_origins.numpy()[:, list(body_mirror_permutation())]
    b[..., 2] *= -1.0
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(mirror_coordinates(mirror_coordinates(q)), q)
    # the 36 rotational coordinates alone mirror the same way
    np.testing.assert_allclose(unmirror_angles(q[:, [fk.coordinate_names.index(n) for n in ROTATIONAL_COORDINATES]]),
                               mirror_coordinates(q)[:, [fk.coordinate_names.index(n) for n in ROTATIONAL_COORDINATES]])


def _project(k: torch.Tensor, r: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Points x [P, 3] (ground) → pixels [P, 2] through K [R | t]."""
    cam = x @ r.T + t
    h = cam @ k.T
    return h[:, :2] / h[:, 2:]


def test_mirrored_inputs_are_what_the_cameras_see_of_the_mirrored_world():
    rng = np.random.default_rng(5)
    ks, rs, ts = [], [], []
    for az in (0.3, 1.9):  # OpenSim ground: y up; cameras 4 m away, looking at the pelvis height
        centre = np.array([4.0 * np.cos(az), 1.2, 4.0 * np.sin(az)])
        r, t = look_at(centre, np.array([0.0, 0.9, 0.0]), roll=0.05)
        ks.append(np.array([[1400.0, 0.0, 950.0], [0.0, 1390.0, 530.0], [0.0, 0.0, 1.0]]))
        rs.append(r)
        ts.append(t)
    k, r, t = (torch.tensor(np.stack(a))[None] for a in (ks, rs, ts))
    pts = torch.tensor(rng.normal([0.0, 0.9, 0.0], [0.2, 0.5, 0.2], (33, 3)))
    crop_size = 256
    # [T=1, V, 3]: x0, y0, scale
    boxes = torch.tensor([[[700.0, 150.0, 0.35], [820.0, 170.0, 0.3]]], dtype=torch.float64)
    kp = torch.zeros(1, 1, 2, 33, 3, dtype=torch.float64)
    for v in range(2):
        kp[0, 0, v, :, :2] = (_project(k[0, v], r[0, v], t[0, v], pts) - boxes[0, v, :2]) * boxes[0, v, 2]
    kp[..., 2] = torch.rand(1, 1, 2, 33, dtype=torch.float64)
    masks = torch.rand(1, 1, 2, 64, 64)
    x = NetworkInputs(masks, kp, boxes[None], k, r, t)
    m = mirror_inputs(x, crop_size)
    for v in range(2):
        assert torch.allclose(m.r[0, v] @ m.r[0, v].T, torch.eye(3, dtype=torch.float64), atol=1e-12)
        assert torch.det(m.r[0, v]) == pytest.approx(1.0)
    perm = mirror_permutation(load_landmarks().names)
    mirrored_world = pts[perm] * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    for v in range(2):  # landmark j of the mirrored person sits where the mirrored cameras put it
        full = _project(m.k[0, v], m.r[0, v], m.t[0, v], mirrored_world)
        from_crop = m.crops[0, 0, v, :2] + m.keypoints[0, 0, v, :, :2] / m.crops[0, 0, v, 2]
        torch.testing.assert_close(from_crop, full, atol=1e-6, rtol=0)
        # ... and that is the original image flipped about the principal point
        orig = _project(k[0, v], r[0, v], t[0, v], pts)[perm]
        torch.testing.assert_close(full[:, 0], 2 * k[0, v, 0, 2] - orig[:, 0], atol=1e-6, rtol=0)
    torch.testing.assert_close(m.keypoints[..., 2], kp[..., perm, 2])
    torch.testing.assert_close(m.masks, masks.flip(-1))
    back = mirror_inputs(m, crop_size)
    for name in NetworkInputs.GRAPH_NAMES:
        torch.testing.assert_close(getattr(back, name), getattr(x, name), atol=1e-9, rtol=1e-9)


def test_mirror_averaged_predictions_are_exactly_mirror_symmetric(tmp_path):
    """Averaging an answer with the mirrored inputs' answer makes the predictor equivariant: the
    mirrored window gets the mirror image of the window's answer (any weights)."""
    from model_store.network.predictor import Predictor

    torch.manual_seed(0)
    net = tiny_net()
    save_checkpoint(net, tmp_path / "ck.safetensors", {})
    window = example_inputs(net)
    plain = Predictor(tmp_path / "ck.json", backend="torch")
    avg = Predictor(tmp_path / "ck.json", backend="torch", mirror_average=True)
    a, b = avg.predict(window), avg.predict(mirror_inputs(window, net.config.crop_size))
    wrapped = np.remainder(unmirror_angles(b.angles) - a.angles + np.pi, 2 * np.pi) - np.pi  # equal on the circle
    assert np.abs(wrapped).max() < 2e-5
    np.testing.assert_allclose(mirror_scales(b.scales), a.scales, atol=2e-5)
    p, pm = plain.predict(window), plain.predict(mirror_inputs(window, net.config.crop_size))
    assert np.abs(unmirror_angles(pm.angles) - p.angles).max() > 1e-3  # a plain network is not symmetric
