"""Small batched rotation helpers (torch, radians, right-handed, column vectors)."""

from __future__ import annotations

import torch


def axis_angle_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation by ``angle`` (rad, shape [...]) about the unit ``axis`` ([3]); returns [..., 3, 3]."""
    kx, ky, kz = axis.unbind(-1)
    zero = torch.zeros((), dtype=axis.dtype, device=axis.device)
    k = torch.stack(
        [torch.stack([zero, -kz, ky]), torch.stack([kz, zero, -kx]), torch.stack([-ky, kx, zero])]
    )
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device)
    s = torch.sin(angle)[..., None, None]
    c = torch.cos(angle)[..., None, None]
    return eye + s * k + (1.0 - c) * (k @ k)


def body_fixed_xyz(angles: tuple[float, float, float]) -> torch.Tensor:
    """OpenSim frame ``orientation``: body-fixed X then Y then Z rotations (rad) → [3, 3] float64."""
    out = torch.eye(3, dtype=torch.float64)
    for i, a in enumerate(angles):
        axis = torch.zeros(3, dtype=torch.float64)
        axis[i] = 1.0
        out = out @ axis_angle_matrix(axis, torch.tensor(float(a), dtype=torch.float64))
    return out

