"""Camera geometry for the network (torch, ONNX-exportable ops only).

Frames and units: 3D points are in the OpenSim ground frame (Y up), metres. Cameras map ground →
camera with ``x_cam = R @ X + t`` and ``K`` gives full-frame pixels (pixel centres at integer
coordinates, OpenCV convention; lens distortion is assumed removed upstream). A crop is described
per frame and view by ``(x0, y0, scale)``: ``crop_px = (full_px - (x0, y0)) * scale`` for a
``crop_size``² crop.
"""

from __future__ import annotations

import torch


def project_full(points: torch.Tensor, k: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Project ``points`` [..., P, 3] with ``k, r`` [..., 3, 3], ``t`` [..., 3] → full-frame px [..., P, 2]."""
    cam = points @ r.transpose(-1, -2) + t[..., None, :]
    z = cam[..., 2:3].clamp(min=1e-3)
    img = (cam / z) @ k.transpose(-1, -2)
    return img[..., :2]


def full_to_crop(px: torch.Tensor, crop: torch.Tensor) -> torch.Tensor:
    """Full-frame px [..., P, 2] → crop px, ``crop`` [..., 3] = (x0, y0, scale)."""
    return (px - crop[..., None, :2]) * crop[..., None, 2:3]


def crop_to_full(px: torch.Tensor, crop: torch.Tensor) -> torch.Tensor:
    """Crop px [..., P, 2] → full-frame px."""
    return px / crop[..., None, 2:3] + crop[..., None, :2]


def crop_to_grid(px: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Crop px → ``grid_sample`` coordinates in [-1, 1] (align_corners=False)."""
    return (2.0 * px + 1.0) / crop_size - 1.0


def _inverse3(a: torch.Tensor) -> torch.Tensor:
    """Batched 3×3 inverse via the adjugate (exportable; inputs are well conditioned here)."""
    c00 = a[..., 1, 1] * a[..., 2, 2] - a[..., 1, 2] * a[..., 2, 1]
    c01 = a[..., 1, 2] * a[..., 2, 0] - a[..., 1, 0] * a[..., 2, 2]
    c02 = a[..., 1, 0] * a[..., 2, 1] - a[..., 1, 1] * a[..., 2, 0]
    c10 = a[..., 0, 2] * a[..., 2, 1] - a[..., 0, 1] * a[..., 2, 2]
    c11 = a[..., 0, 0] * a[..., 2, 2] - a[..., 0, 2] * a[..., 2, 0]
    c12 = a[..., 0, 1] * a[..., 2, 0] - a[..., 0, 0] * a[..., 2, 1]
    c20 = a[..., 0, 1] * a[..., 1, 2] - a[..., 0, 2] * a[..., 1, 1]
    c21 = a[..., 0, 2] * a[..., 1, 0] - a[..., 0, 0] * a[..., 1, 2]
    c22 = a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
    det = a[..., 0, 0] * c00 + a[..., 0, 1] * c01 + a[..., 0, 2] * c02
    adj = torch.stack(
        [torch.stack([c00, c10, c20], -1), torch.stack([c01, c11, c21], -1), torch.stack([c02, c12, c22], -1)], -2
    )
    det = torch.where(det.abs() < 1e-12, torch.full_like(det, 1e-12), det)
    return adj / det[..., None, None]


def triangulate(
    px: torch.Tensor, weight: torch.Tensor, k: torch.Tensor, r: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Weighted linear (DLT) triangulation from V views.

    ``px`` [B, V, P, 2] full-frame px, ``weight`` [B, V, P] (e.g. visibility), cameras [B, V, ...].
    Returns [B, P, 3] ground-frame metres. Points seen by fewer than two views are unreliable; the
    caller weights them with the visibilities.
    """
    proj = k @ torch.cat([r, t[..., None]], -1)  # [B, V, 3, 4]
    p1, p2, p3 = proj[:, :, None, 0], proj[:, :, None, 1], proj[:, :, None, 2]  # [B, V, 1, 4]
    u, v = px[..., 0:1], px[..., 1:2]
    rows = torch.stack([u * p3 - p1, v * p3 - p2], 2)  # [B, V, 2, P, 4]
    w = (weight + 1e-6)[:, :, None, :, None]
    rows = rows * w
    a = rows[..., :3].permute(0, 3, 1, 2, 4).reshape(px.shape[0], px.shape[2], -1, 3)  # [B, P, 2V, 3]
    b = -rows[..., 3].permute(0, 3, 1, 2).reshape(px.shape[0], px.shape[2], -1)  # [B, P, 2V]
    ata = a.transpose(-1, -2) @ a
    atb = (a.transpose(-1, -2) @ b[..., None])[..., 0]
    return (_inverse3(ata) @ atb[..., None])[..., 0]
