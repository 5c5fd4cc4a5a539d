"""Pinhole cameras with OpenCV distortion, and Pose2Sim-style calibration TOML files.

Frames: a calibration's *world* frame is Pose2Sim/Qualisys's (Z up); cameras map world → camera
with ``x_cam = R @ X + t`` (metres), ``R`` from the Rodrigues vector ``rotation``. OpenSim's
ground frame is Y up; :data:`OPENSIM_FROM_WORLD` converts: x_osim = x_world, y_osim = z_world,
z_osim = −y_world. Image coordinates are pixels with (0, 0) at the centre of the top-left pixel.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

#: Rotation taking calibration-world (Z up) coordinates to OpenSim ground (Y up).
OPENSIM_FROM_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


#: Largest accepted image width or height in a calibration (px).
MAX_IMAGE_SIDE = 16384


class CalibrationError(ValueError):
    """A calibration file that cannot be used (says which file, camera and field)."""


@dataclass(frozen=True)
class Camera:
    """``K`` [3, 3] px, ``dist`` (k1, k2, p1, p2[, k3]), ``R`` [3, 3] and ``t`` [3] world → camera (m)."""

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]  # (width, height) px

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


def _matrix(value: object, shape: tuple[int, ...], where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: not numeric") from None
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{where}: expected finite numbers of shape {shape}, got {arr.shape}")
    return arr


def _camera_from_table(key: str, table: dict, source: str) -> Camera:
    where = f"{source} [{key}]"
    missing = [f for f in ("matrix", "rotation", "translation", "size") if f not in table]
    if missing:
        raise CalibrationError(f"{where}: missing field(s) {', '.join(missing)}")
    if table.get("fisheye", False):
        raise CalibrationError(f"{where}: fisheye cameras are not supported")
    k = _matrix(table["matrix"], (3, 3), f"{where} matrix")
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise CalibrationError(f"{where} matrix: focal lengths must be positive")
    try:
        dist = np.asarray(table.get("distortions", [0.0, 0.0, 0.0, 0.0]), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where} distortions: expected 4, 5 or 8 numbers") from None
    if dist.size not in (4, 5, 8) or not np.all(np.isfinite(dist)):
        raise CalibrationError(f"{where} distortions: expected 4, 5 or 8 numbers")
    rvec = _matrix(table["rotation"], (3,), f"{where} rotation")
    tvec = _matrix(table["translation"], (3,), f"{where} translation")
    size = _matrix(table["size"], (2,), f"{where} size")
    if not np.all((size >= 1) & (size <= MAX_IMAGE_SIDE)):
        raise CalibrationError(f"{where} size: expected image width and height in pixels, 1–{MAX_IMAGE_SIDE}")
    return Camera(
        name=str(table.get("name", key)), K=k, dist=dist, R=cv2.Rodrigues(rvec)[0], t=tvec,
        image_size=(int(np.rint(size[0])), int(np.rint(size[1]))),
    )


def load_calibration_toml(path: str | Path) -> dict[str, Camera]:
    """Read a Pose2Sim calibration TOML → cameras by name. Raises :class:`CalibrationError`."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"calibration {path.name} is not valid TOML: {exc}") from exc
    except RecursionError:
        raise CalibrationError(f"calibration {path.name} is nested too deeply to be a calibration") from None
    cams = {}
    for key, table in doc.items():
        if key == "metadata" or not isinstance(table, dict):
            continue
        cam = _camera_from_table(key, table, path.name)
        cams[cam.name] = cam
    if not cams:
        raise CalibrationError(f"calibration {path.name} defines no cameras")
    return cams


class CameraNotFound(ValueError):
    """The front and side cameras named for a job are not two different cameras of its calibration."""


def choose_cameras(cameras: dict[str, Camera], front_camera: str | None,
                   side_camera: str | None) -> tuple[Camera, Camera]:
    """The (front, side) cameras of a calibration by name — the one rule for the API's upload check
    and the pipeline. With neither named, a calibration of exactly two cameras gives them in file
    order. Raises :class:`CameraNotFound` with a message naming the field and the available cameras."""
    names = ", ".join(cameras)
    if front_camera is None and side_camera is None:
        if len(cameras) != 2:
            raise CameraNotFound(f"the calibration has {len(cameras)} cameras ({names}); "
                                 "name them with front_camera and side_camera")
        front_camera, side_camera = cameras
    chosen = []
    for field, name in (("front_camera", front_camera), ("side_camera", side_camera)):
        if name is None:
            raise CameraNotFound(f"{field} is required when the other camera is named (available: {names})")
        if name not in cameras:
            raise CameraNotFound(f"{field} {name!r} is not in the calibration (available: {names})")
        chosen.append(cameras[name])
    if front_camera == side_camera:
        raise CameraNotFound(f"front_camera and side_camera must be different cameras (both are {front_camera!r})")
    return chosen[0], chosen[1]


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
