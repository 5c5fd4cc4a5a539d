"""Pose2Sim calibration TOML files, read and checked into plain values, and the camera-name rule.

Light on purpose (standard library only): the API checks an uploaded calibration with it, and
:mod:`model_store.geometry.cameras` builds its numpy/OpenCV :class:`~model_store.geometry.cameras.Camera`
from what it returns (:func:`~model_store.geometry.cameras.load_calibration_toml`).

A camera is a table with ``matrix`` (K, 3×3, px), ``distortions`` (OpenCV's k1, k2, p1, p2[, k3[, k4,
k5, k6]]), ``rotation`` (Rodrigues vector, world → camera), ``translation`` (m, world → camera) and
``size`` (image width and height, px); ``name`` defaults to the table's key, ``fisheye = true`` is
refused and a ``[metadata]`` table is skipped. Numbers follow numpy's ``asarray(..., float64)``: a
number, a boolean or a numeric string, in nested lists of one shape.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

#: Largest accepted image width or height in a calibration (px).
MAX_IMAGE_SIDE = 16384
#: Deepest nesting of a numeric field (numpy's limit on array dimensions).
_MAX_DIMS = 32


class CalibrationError(ValueError):
    """A calibration file that cannot be used (says which file, camera and field)."""


class CameraNotFound(ValueError):
    """The front and side cameras named for a job are not two different cameras of its calibration."""


@dataclass(frozen=True)
class CameraCalibration:
    """One camera of a calibration file, checked: every number finite, focal lengths positive, the
    image size within 1–:data:`MAX_IMAGE_SIDE` px (rounded to whole pixels)."""

    name: str
    matrix: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]  # K, px
    distortions: tuple[float, ...]  # 4, 5 or 8 coefficients
    rotation: tuple[float, float, float]  # Rodrigues vector, world → camera
    translation: tuple[float, float, float]  # m, world → camera
    image_size: tuple[int, int]  # (width, height) px


def _numbers(value: object, depth: int = 0) -> tuple[tuple[int, ...], list[float]]:
    """Shape and flattened values of a number or nested lists of numbers, as numpy would make them
    (``None`` is NaN); :class:`ValueError`/:class:`TypeError`/:class:`OverflowError` otherwise."""
    if isinstance(value, list):
        if depth >= _MAX_DIMS:
            raise ValueError("nested too deeply")
        parts = [_numbers(v, depth + 1) for v in value]
        shapes = {shape for shape, _ in parts}
        if len(shapes) > 1:
            raise ValueError("lists of different shapes")
        inner = shapes.pop() if shapes else ()
        return (len(value), *inner), [x for _, xs in parts for x in xs]
    if value is None:
        return (), [math.nan]
    if not isinstance(value, str | int | float):  # a table, a date or a time
        raise TypeError(f"not a number: {type(value).__name__}")
    return (), [float(value)]


def _array(value: object, shape: tuple[int, ...], where: str) -> list[float]:
    """The numbers of a field of the given shape, flattened; :class:`CalibrationError` otherwise."""
    try:
        got, values = _numbers(value)
    except (TypeError, ValueError, OverflowError):
        raise CalibrationError(f"{where}: not numeric") from None
    if got != shape or not all(math.isfinite(v) for v in values):
        raise CalibrationError(f"{where}: expected finite numbers of shape {shape}, got {got}")
    return values


def _camera(key: str, table: dict[str, Any], source: str) -> CameraCalibration:
    where = f"{source} [{key}]"
    missing = [f for f in ("matrix", "rotation", "translation", "size") if f not in table]
    if missing:
        raise CalibrationError(f"{where}: missing field(s) {', '.join(missing)}")
    if table.get("fisheye", False):
        raise CalibrationError(f"{where}: fisheye cameras are not supported")
    k = _array(table["matrix"], (3, 3), f"{where} matrix")
    if k[0] <= 0 or k[4] <= 0:
        raise CalibrationError(f"{where} matrix: focal lengths must be positive")
    try:
        _, dist = _numbers(table.get("distortions", [0.0, 0.0, 0.0, 0.0]))
    except (TypeError, ValueError, OverflowError):
        raise CalibrationError(f"{where} distortions: expected 4, 5 or 8 numbers") from None
    if len(dist) not in (4, 5, 8) or not all(math.isfinite(v) for v in dist):
        raise CalibrationError(f"{where} distortions: expected 4, 5 or 8 numbers")
    r = _array(table["rotation"], (3,), f"{where} rotation")
    t = _array(table["translation"], (3,), f"{where} translation")
    size = _array(table["size"], (2,), f"{where} size")
    if not all(1 <= s <= MAX_IMAGE_SIDE for s in size):
        raise CalibrationError(f"{where} size: expected image width and height in pixels, 1–{MAX_IMAGE_SIDE}")
    return CameraCalibration(
        name=str(table.get("name", key)), matrix=((k[0], k[1], k[2]), (k[3], k[4], k[5]), (k[6], k[7], k[8])),
        distortions=tuple(dist), rotation=(r[0], r[1], r[2]), translation=(t[0], t[1], t[2]),
        image_size=(round(size[0]), round(size[1])),  # half to even, as numpy's rint
    )


def read_calibration_toml(path: str | Path) -> dict[str, CameraCalibration]:
    """Read and check a Pose2Sim calibration TOML → cameras by name, in file order. Raises
    :class:`CalibrationError` naming the file, the camera and the field."""
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
        cam = _camera(key, table, path.name)
        cams[cam.name] = cam
    if not cams:
        raise CalibrationError(f"calibration {path.name} defines no cameras")
    return cams


class _Named(Protocol):
    @property
    def name(self) -> str: ...


C = TypeVar("C", bound=_Named)


def choose_cameras(cameras: Mapping[str, C], front_camera: str | None, side_camera: str | None) -> tuple[C, C]:
    """The (front, side) cameras of a calibration by name — the one rule for the API's upload check
    and the pipeline (``cameras`` as read here, or as built by ``model_store.geometry.cameras``). With
    neither named, a calibration of exactly two cameras gives them in file order. Raises
    :class:`CameraNotFound` with a message naming the field and the available cameras."""
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
