"""Test-time mirroring: the same two views seen in a mirror, and the answer mapped back.

Flipping both images left–right about each camera's principal point is exactly what the same
cameras would see of the mirrored world (OpenSim ground reflected across its sagittal x–y plane,
z → −z) with a person whose left and right are swapped: a camera ``K [R | t]`` becomes
``K' [R' | t']`` with ``K' = F K D``, ``R' = D R M``, ``t' = D t`` (D = diag(−1, 1, 1) flips the
camera's x axis, M = diag(1, 1, −1) reflects the ground, F maps image x to 2·cx − x; R' is a proper
rotation). Training sees both kinds of rig (the side camera on either side) and mirrored motion, so
the mirrored inputs are as familiar to the network as the originals; averaging the two answers
cancels part of its left/right-asymmetric error.

Crop geometry follows :mod:`model_store.keypoints.crops` (pixel centres at integer coordinates; full-frame
``u = x0 + crop_px / scale``), so the crop of the flipped image is the flipped crop with
``x0' = 2·cx − x0 − (crop_size − 1) / scale``.
"""

from __future__ import annotations

import numpy as np
import torch

from model_store.biomech.mirror import mirror_coordinates, mirror_scales
from model_store.keypoints.landmarks import load_landmarks
from model_store.keypoints.skeleton import mirror_permutation
from model_store.network.inputs import NetworkInputs
from model_store.network.outputs import ROTATIONAL_COORDINATES

_D = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
_M = torch.diag(torch.tensor([1.0, 1.0, -1.0]))


def mirror_inputs(x: NetworkInputs, crop_size: int) -> NetworkInputs:
    """The mirrored window: masks (and RGB) flipped left–right, keypoints (px of the ``crop_size``
    crop, visibility kept) flipped and swapped left↔right, crops and cameras as the module docstring
    says. Mirroring twice gives the inputs back (up to float rounding)."""
    perm = mirror_permutation(load_landmarks().names)
    kp = x.keypoints[..., perm, :].clone()
    kp[..., 0] = (crop_size - 1) - kp[..., 0]
    cx = x.k[..., 0, 2]  # [B, V]
    crops = x.crops.clone()
    crops[..., 0] = 2.0 * cx[:, None, :] - crops[..., 0] - (crop_size - 1) / crops[..., 2]
    d, m = _D.to(x.k), _M.to(x.k)
    f = torch.zeros_like(x.k)
    f[..., 0, 0], f[..., 0, 2], f[..., 1, 1], f[..., 2, 2] = -1.0, 2.0 * cx, 1.0, 1.0
    k = f @ x.k @ d
    r = d @ x.r @ m
    t = x.t @ d  # D is diagonal: D t = t D for row vectors
    rgb = None if x.rgb is None else x.rgb.flip(-1)
    return NetworkInputs(x.masks.flip(-1), kp, crops, k, r, t, rgb)


def unmirror_angles(angles: np.ndarray) -> np.ndarray:
    """Rotational coordinates [..., 36] (rad, ``ROTATIONAL_COORDINATES`` order) predicted for the
    mirrored inputs, as coordinates of the original person."""
    return mirror_coordinates(angles, ROTATIONAL_COORDINATES)


def average_with_mirror(angles: np.ndarray, scales: np.ndarray, mirrored_angles: np.ndarray,
                        mirrored_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of an answer (angles [T, 36] rad, scales [22, 3]) and the mirrored inputs' answer mapped
    back; angles are averaged on the circle (half the wrapped difference)."""
    back = unmirror_angles(mirrored_angles)
    diff = np.remainder(back - angles + np.pi, 2.0 * np.pi) - np.pi
    return angles + 0.5 * diff, 0.5 * (scales + mirror_scales(mirrored_scales))


__all__ = ["average_with_mirror", "mirror_inputs", "unmirror_angles"]
