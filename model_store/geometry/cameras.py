"""Pinhole cameras with OpenCV distortion, built from and written to Pose2Sim-style calibration TOML files
(read and checked, without numpy, by :mod:`model_store.geometry.calibration_file`).

Frames: a calibration's *world* frame is Pose2Sim/Qualisys's (Z up); cameras map world → camera
with ``x_cam = R @ X + t`` (metres), ``R`` from the Rodrigues vector ``rotation``. OpenSim's
ground frame is Y up; :data:`OPENSIM_FROM_WORLD` converts: x_osim = x_world, y_osim = z_world,
z_osim = −y_world. Image coordinates are pixels with (0, 0) at the centre of the top-left pixel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from model_store.geometry.calibration_file import CameraCalibration, read_calibration_toml

#: Rotation taking calibration-world (Z up) coordinates to OpenSim ground (Y up).
OPENSIM_FROM_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class Camera:
    """``K`` [3, 3] px, ``dist`` (k1, k2, p1, p2[, k3]), ``R`` [3, 3] and ``t`` [3] world → camera (m)."""

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]  # (width, height) px

    @classmethod
    def from_calibration(cls, c: CameraCalibration) -> Camera:
        """The camera of a calibration file's checked values (``R`` from the Rodrigues ``rotation``)."""
        return cls(name=c.name, K=np.array(c.matrix, dtype=np.float64), dist=np.array(c.distortions, dtype=np.float64),
                   R=cv2.Rodrigues(np.array(c.rotation, dtype=np.float64))[0],
                   t=np.array(c.translation, dtype=np.float64), image_size=c.image_size)

    @property
    def rodrigues(self) -> np.ndarray:
        return cv2.Rodrigues(np.asarray(self.R, dtype=np.float64))[0].reshape(3)

    @property
    def projection_matrix(self) -> np.ndarray:
        """``K [R | t]`` [3, 4]: world points (m) → homogeneous ideal (undistorted) pixels."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates (m)."""
        return -self.R.T @ self.t

    def to_camera(self, x_world: np.ndarray) -> np.ndarray:
        return np.asarray(x_world) @ self.R.T + self.t

    def project(self, x_world: np.ndarray) -> np.ndarray:
        """World points [..., 3] → pixels [..., 2], with lens distortion."""
        x = np.asarray(x_world, dtype=np.float64)
        pts, _ = cv2.projectPoints(x.reshape(-1, 3), self.rodrigues, self.t.astype(np.float64), self.K, self.dist)
        return pts.reshape(*x.shape[:-1], 2)

    def undistort_points(self, px: np.ndarray) -> np.ndarray:
        """Distorted pixels [..., 2] → ideal pinhole pixels (same K)."""
        p = np.asarray(px, dtype=np.float64)
        if not np.any(self.dist):
            return p.copy()
        out = cv2.undistortPoints(p.reshape(-1, 1, 2), self.K, self.dist, P=self.K)
        return out.reshape(p.shape)

    # OpenSim-ground views of the same camera -------------------------------------------------
    def in_opensim_frame(self) -> Camera:
        """The same camera with extrinsics expressed for OpenSim-ground points (Y up)."""
        return replace(self, R=self.R @ OPENSIM_FROM_WORLD.T)

    def project_opensim(self, x_osim: np.ndarray) -> np.ndarray:
        return self.project(np.asarray(x_osim) @ OPENSIM_FROM_WORLD)

    def project_pinhole(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points [..., 3] (m, in this camera's world) → ideal pinhole pixels [..., 2] (lens distortion
        and skew ignored: the synthetic cameras have none) and depths [...] (m). Vectorised numpy,
        for the renderer's many points."""
        cam = np.asarray(x) @ self.R.T + self.t
        z = cam[..., 2]
        uv = cam[..., :2] / np.maximum(z, 1e-6)[..., None]
        return uv * np.diag(self.K)[:2] + self.K[:2, 2], z


def look_at(centre: np.ndarray, target: np.ndarray, roll: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """World→camera ``R`` [3, 3], ``t`` [3] (m) of a camera at ``centre`` aiming at ``target`` in a
    Y-up world (OpenSim ground), OpenCV axes (x right, y down, z forward), turned by ``roll`` (rad)
    about its optical axis. Used by the default rig and the synthetic rigs alike."""
    fwd = target - centre
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    r = np.stack([right, down, fwd])
    c, s = np.cos(roll), np.sin(roll)
    r = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ r
    return r, -r @ centre


def load_calibration_toml(path: str | Path) -> dict[str, Camera]:
    """Read a Pose2Sim calibration TOML → cameras by name, in file order (read and checked by
    :func:`~model_store.geometry.calibration_file.read_calibration_toml`). Raises
    :class:`~model_store.geometry.calibration_file.CalibrationError`."""
    return {name: Camera.from_calibration(c) for name, c in read_calibration_toml(path).items()}


def _fmt(values: Iterable[float]) -> str:
    return "[ " + ", ".join(repr(float(v)) for v in values) + "]"


def save_calibration_toml(cameras: Iterable[Camera], path: str | Path) -> Path:
    """Write cameras in Pose2Sim's layout (world → camera, Rodrigues rotation, metres)."""
    lines = []
    for c in cameras:
        lines += [
            f"[{c.name}]",
            f'name = "{c.name}"',
            f"size = {_fmt(c.image_size)}",
            "matrix = [ " + ", ".join(_fmt(row) for row in c.K) + "]",
            f"distortions = {_fmt(c.dist)}",
            f"rotation = {_fmt(c.rodrigues)}",
            f"translation = {_fmt(c.t)}",
            "fisheye = false",
            "",
        ]
    lines += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    path = Path(path)
    path.write_text("\n".join(lines))
    return path
