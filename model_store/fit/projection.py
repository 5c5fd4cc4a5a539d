"""Calibrated cameras in torch: OpenSim-ground points (m) → distorted image pixels, differentiable.

The lens model is OpenCV's (what Pose2Sim calibrations store): coefficients ``(k1, k2, p1, p2[, k3[,
k4, k5, k6]])``, radial ``(1 + k1 r² + k2 r⁴ + k3 r⁶) / (1 + k4 r² + k5 r⁴ + k6 r⁶)`` plus tangential
terms, applied to normalised camera coordinates before ``K`` (whose skew entry is ignored, as
OpenCV's ``projectPoints`` does). Extrinsics are those of
:meth:`model_store.geometry.cameras.Camera.in_opensim_frame`: ``x_cam = R X + t`` with ``X`` in OpenSim
ground (Y up, metres). Pixels have (0, 0) at the centre of the top-left pixel, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model_store.geometry.cameras import Camera

#: Depths (m) below this are treated as this when dividing (points behind a camera stay finite).
MIN_DEPTH_M = 1e-3


@dataclass(frozen=True)
class CameraRig:
    """``V`` cameras as tensors: ``K`` [V, 3, 3] px, ``R`` [V, 3, 3], ``t`` [V, 3] m (ground → camera),
    ``dist`` [V, 8] OpenCV coefficients padded with zeros, ``names`` the cameras' names."""

    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    dist: torch.Tensor
    names: tuple[str, ...]

    @classmethod
    def from_cameras(cls, cameras: Sequence[Camera], dtype: torch.dtype = torch.float64,
                     device: torch.device | str | None = None) -> CameraRig:
        """Calibration-world cameras (Z up) → a rig that projects OpenSim-ground points."""
        osim = [c.in_opensim_frame() for c in cameras]
        dist = np.zeros((len(osim), 8))
        for i, c in enumerate(osim):
            d = np.asarray(c.dist, np.float64).reshape(-1)
            dist[i, : d.size] = d

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x, np.float64), dtype=dtype, device=device)

        return cls(K=tensor(np.stack([c.K for c in osim])), R=tensor(np.stack([c.R for c in osim])),
                   t=tensor(np.stack([c.t for c in osim])), dist=tensor(dist), names=tuple(c.name for c in osim))

    @property
    def n_views(self) -> int:
        return int(self.K.shape[0])

    def to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """Ground points [..., 3] (m) → camera-frame points [V, ..., 3] (m, z = depth)."""
        v = self.n_views
        shape = (v,) + (1,) * (points.ndim - 1) + (3,)
        flat = points[None]
        return torch.einsum("vij,v...j->v...i", self.R, flat.expand(v, *points.shape)) + self.t.view(shape)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ground points [..., 3] (m) → distorted pixels [V, ..., 2] and depths [V, ..., ] (m)."""
        return self._pixels(self.to_camera(points))

    def project_views(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-view ground points [V, ..., 3] (view v's points seen by camera v) → pixels [V, ..., 2], depths."""
        v = self.n_views
        shape = (v,) + (1,) * (points.ndim - 2) + (3,)
        return self._pixels(torch.einsum("vij,v...j->v...i", self.R, points) + self.t.view(shape))

    def _pixels(self, cam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = cam[..., 2]
        xy = cam[..., :2] / z.clamp(min=MIN_DEPTH_M)[..., None]
        xy = distort(xy, self.dist)
        v = self.n_views
        shape = (v,) + (1,) * (cam.ndim - 2)
        fx, fy = self.K[:, 0, 0].view(shape), self.K[:, 1, 1].view(shape)
        cx, cy = self.K[:, 0, 2].view(shape), self.K[:, 1, 2].view(shape)
        u = fx * xy[..., 0] + cx  # no skew term, as OpenCV's projectPoints
        w = fy * xy[..., 1] + cy
        return torch.stack([u, w], -1), z


def distort(xy: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """OpenCV distortion of normalised coordinates ``xy`` [V, ..., 2] with ``dist`` [V, 8]."""
    shape = (dist.shape[0],) + (1,) * (xy.ndim - 2)
    k1, k2, p1, p2, k3, k4, k5, k6 = (dist[:, i].view(shape) for i in range(8))
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return torch.stack([xd, yd], -1)
