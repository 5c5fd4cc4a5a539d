"""Pose2Sim calibration TOML files, read and checked into plain values, and the camera-name rule.

Light on purpose (standard library only): the API checks an uploaded calibration with it, and
:mod:`model_store.geometry.cameras` builds its numpy/OpenCV :class:`~model_store.geometry.cameras.Camera`
from what it returns (:func:`~model_store.geometry.cameras.load_calibration_toml`).

A camera is a table with ``matrix`` (K, 3×3, px), ``distortions`` (OpenCV's k1, k2, p1, p2[, k3[, k4,
k5, k6]]), ``rotation`` (Rodrigues vector, or a 3×3 matrix, world → camera), ``translation`` (m, world
→ camera) and ``size`` (image width and height, px); ``name`` (a string) defaults to the table's key,
``fisheye`` must be a boolean and ``true`` is refused, and a ``[metadata]`` table is skipped.

Every calibration is checked here, once (the API before a job is queued, the pipeline's ``cameras``
stage when it builds the cameras), so a camera that passes gives finite geometry downstream:

- numbers are integers or floats (not booleans or strings), finite and within float range, in
  (nested) lists of the expected shape;
- ``size`` is 1–:data:`MAX_IMAGE_SIDE` px a side;
- ``matrix`` is ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` with :data:`MIN_FOCAL_PX` ≤ fx, fy ≤
  :data:`MAX_FOCAL_FACTOR` × the larger side (so it is invertible), ``|s|`` at most the focal length and
  the principal point ``(cx, cy)`` inside the image;
- ``distortions`` are 4, 5 or 8 numbers within ±:data:`MAX_DISTORTION`;
- ``rotation`` is a proper rotation: a Rodrigues vector of norm at most :data:`MAX_ROTATION_RAD`, or an
  orthonormal 3×3 matrix with determinant +1;
- ``translation`` is at most :data:`MAX_TRANSLATION_M` m long;
- camera names are unique.

Anything else raises :class:`CalibrationError`, whose message names the file, the camera and the field
(:func:`parse_calibration` raises nothing else, whatever the text).
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
#: Smallest accepted focal length (px), and the largest as a multiple of the image's larger side.
MIN_FOCAL_PX = 1.0
MAX_FOCAL_FACTOR = 100.0
#: Largest accepted magnitude of a distortion coefficient (OpenCV's k1…k6, p1, p2).
MAX_DISTORTION = 1000.0
#: Largest accepted rotation angle: the norm of the Rodrigues vector (rad).
MAX_ROTATION_RAD = 2 * math.pi
#: Largest accepted distance of the world origin from a camera: the norm of ``translation`` (m).
MAX_TRANSLATION_M = 1000.0
#: How far a 3×3 ``rotation`` may be from orthonormal (largest entry of R Rᵀ − I).
ORTHONORMAL_TOLERANCE = 1e-4
#: Deepest nesting of a numeric field (numpy's limit on array dimensions).
_MAX_DIMS = 32


class CalibrationError(ValueError):
    """A calibration file that cannot be used (says which file, camera and field)."""


class CameraNotFound(ValueError):
    """The front and side cameras named for a job are not two different cameras of its calibration."""


@dataclass(frozen=True)
class CameraCalibration:
    """One camera of a calibration file, checked by :func:`read_calibration_toml` (see the module's
    docstring for what is checked)."""

    name: str
    matrix: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]  # K, px
    distortions: tuple[float, ...]  # 4, 5 or 8 coefficients
    rotation: tuple[float, float, float]  # Rodrigues vector, world → camera
    translation: tuple[float, float, float]  # m, world → camera
    image_size: tuple[int, int]  # (width, height) px


class _Invalid(Exception):
    """A field's value is unusable (the message says why; :func:`_array` adds the camera and field)."""


def _numbers(value: object, depth: int = 0) -> tuple[tuple[int, ...], list[float]]:
    """Shape and flattened values of a number or nested lists of numbers (integers and floats only);
    :class:`_Invalid` otherwise."""
    if isinstance(value, list):
        if depth >= _MAX_DIMS:
            raise _Invalid("nested too deeply")
        parts = [_numbers(v, depth + 1) for v in value]
        shapes = {shape for shape, _ in parts}
        if len(shapes) > 1:
            raise _Invalid("lists of different shapes")
        inner = shapes.pop() if shapes else ()
        return (len(value), *inner), [x for _, xs in parts for x in xs]
    if isinstance(value, bool) or not isinstance(value, int | float):  # a string, a table, a date or a time
        raise _Invalid(f"expected numbers, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer of 309 digits or more
        raise _Invalid("a number out of the floating-point range") from None
    if not math.isfinite(number):
        raise _Invalid(f"expected finite numbers, got {number}")
    return (), [number]


def _kind(value: object) -> str:
    return {bool: "a boolean", str: "a string", dict: "a table", list: "a list"}.get(
        type(value), f"a {type(value).__name__}")


def _array(value: object, shape: tuple[int, ...] | None, where: str) -> list[float]:
    """The finite numbers of a field of the given shape (None: any flat list), flattened;
    :class:`CalibrationError` naming the field otherwise."""
    try:
        got, values = _numbers(value)
    except _Invalid as exc:
        raise CalibrationError(f"{where}: {exc}") from None
    if shape is None:
        if len(got) != 1:
            raise CalibrationError(f"{where}: expected a list of numbers, got shape {got}")
    elif got != shape:
        raise CalibrationError(f"{where}: expected numbers of shape {shape}, got shape {got}")
    return values


def _rodrigues_from_matrix(m: list[float]) -> tuple[float, float, float]:
    """The Rodrigues vector of a rotation matrix (row-major, orthonormal, det +1), through its quaternion."""
    a, b, c, d, e, f, g, h, i = m
    trace = a + e + i
    if trace > 0:
        s = 2 * math.sqrt(trace + 1)
        w, x, y, z = s / 4, (h - f) / s, (c - g) / s, (d - b) / s
    elif a >= e and a >= i:
        s = 2 * math.sqrt(max(1 + a - e - i, 1e-300))
        w, x, y, z = (h - f) / s, s / 4, (b + d) / s, (c + g) / s
    elif e >= i:
        s = 2 * math.sqrt(max(1 + e - a - i, 1e-300))
        w, x, y, z = (c - g) / s, (b + d) / s, s / 4, (f + h) / s
    else:
        s = 2 * math.sqrt(max(1 + i - a - e, 1e-300))
        w, x, y, z = (d - b) / s, (c + g) / s, (f + h) / s, s / 4
    if w < 0:
        w, x, y, z = -w, -x, -y, -z
    n = math.hypot(x, y, z)
    if n == 0:
        return 0.0, 0.0, 0.0
    angle = 2 * math.atan2(n, w)
    return x / n * angle, y / n * angle, z / n * angle


def _rotation(value: object, where: str) -> tuple[float, float, float]:
    """A proper rotation: a Rodrigues vector of norm at most :data:`MAX_ROTATION_RAD`, or a 3×3 matrix,
    orthonormal with determinant +1 (returned as its Rodrigues vector)."""
    try:
        got, _ = _numbers(value)
    except _Invalid:
        got = ()
    if got == (3, 3):
        m = _array(value, (3, 3), where)
        rows = [m[0:3], m[3:6], m[6:9]]
        off = max(abs(sum(p * q for p, q in zip(rows[r], rows[s], strict=True)) - (r == s))
                  for r in range(3) for s in range(3))
        det = (m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
               + m[2] * (m[3] * m[7] - m[4] * m[6]))
        if not off <= ORTHONORMAL_TOLERANCE:
            raise CalibrationError(f"{where}: a 3×3 rotation must be orthonormal "
                                   f"(R Rᵀ is off the identity by {off:.3g})")
        if det <= 0:
            raise CalibrationError(f"{where}: a 3×3 rotation must have determinant +1 (got {det:.3g}: a reflection)")
        return _rodrigues_from_matrix(m)
    r = _array(value, (3,), f"{where} (a Rodrigues vector or a 3×3 matrix)")
    angle = math.hypot(*r)
    if not angle <= MAX_ROTATION_RAD:
        raise CalibrationError(f"{where}: a Rodrigues vector's norm is its angle, at most 2π rad; got {angle:.3g}")
    return r[0], r[1], r[2]


def _intrinsics(value: object, size: tuple[int, int], where: str) -> list[float]:
    """K: upper triangular with last row (0, 0, 1), focal lengths positive and in range (so K is
    invertible), the principal point inside the image."""
    k = _array(value, (3, 3), where)
    fx, skew, cx, k10, fy, cy, k20, k21, k22 = k
    if k10 != 0 or k20 != 0 or k21 != 0 or k22 != 1:
        raise CalibrationError(f"{where}: expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]]; the second row starts "
                               f"with {k10:g} and the last row is [{k20:g}, {k21:g}, {k22:g}]")
    longest = max(size)
    top = MAX_FOCAL_FACTOR * longest
    for name, f in (("fx", fx), ("fy", fy)):
        if not MIN_FOCAL_PX <= f <= top:
            raise CalibrationError(f"{where}: focal length {name} = {f:g} px; expected {MIN_FOCAL_PX:g}–{top:g} px "
                                   f"(up to {MAX_FOCAL_FACTOR:g} × the image's larger side)")
    if not abs(skew) <= max(fx, fy):
        raise CalibrationError(f"{where}: skew {skew:g} is larger than the focal lengths")
    w, h = size
    if not (0 <= cx <= w and 0 <= cy <= h):
        raise CalibrationError(f"{where}: principal point ({cx:g}, {cy:g}) px is outside the {w}×{h} px image")
    return k


def _camera(key: str, table: dict[str, Any], source: str) -> CameraCalibration:
    where = f"{source} [{key}]"
    missing = [f for f in ("matrix", "rotation", "translation", "size") if f not in table]
    if missing:
        raise CalibrationError(f"{where}: missing field(s) {', '.join(missing)}")
    name = table.get("name", key)
    if not isinstance(name, str) or not name:
        raise CalibrationError(f"{where} name: expected a non-empty string, got {_kind(name)}")
    fisheye = table.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise CalibrationError(f"{where} fisheye: expected true or false, got {_kind(fisheye)}")
    if fisheye:
        raise CalibrationError(f"{where}: fisheye cameras are not supported")
    sz = _array(table["size"], (2,), f"{where} size")
    if not all(1 <= s <= MAX_IMAGE_SIDE for s in sz):
        raise CalibrationError(f"{where} size: expected image width and height in pixels, 1–{MAX_IMAGE_SIDE}")
    size = (round(sz[0]), round(sz[1]))  # half to even, as numpy's rint
    k = _intrinsics(table["matrix"], size, f"{where} matrix")
    dist = _array(table.get("distortions", [0.0, 0.0, 0.0, 0.0]), None, f"{where} distortions")
    if len(dist) not in (4, 5, 8):
        raise CalibrationError(f"{where} distortions: expected 4, 5 or 8 numbers, got {len(dist)}")
    if not all(abs(d) <= MAX_DISTORTION for d in dist):
        raise CalibrationError(f"{where} distortions: each coefficient must be within ±{MAX_DISTORTION:g}")
    r = _rotation(table["rotation"], f"{where} rotation")
    t = _array(table["translation"], (3,), f"{where} translation")
    if not math.hypot(*t) <= MAX_TRANSLATION_M:
        raise CalibrationError(f"{where} translation: the world origin is {math.hypot(*t):.3g} m from the camera; "
                               f"at most {MAX_TRANSLATION_M:g} m is accepted (translations are in metres)")
    return CameraCalibration(
        name=name, matrix=((k[0], k[1], k[2]), (k[3], k[4], k[5]), (k[6], k[7], k[8])),
        distortions=tuple(dist), rotation=r, translation=(t[0], t[1], t[2]), image_size=size,
    )


def parse_calibration(text: str, source: str = "calibration.toml") -> dict[str, CameraCalibration]:
    """Parse and check a Pose2Sim calibration's text → cameras by name, in file order. Raises
    :class:`CalibrationError` (naming ``source``, the camera and the field) and nothing else."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"calibration {source} is not valid TOML: {exc}") from None
    except ValueError as exc:  # e.g. an integer over Python's 4300-digit limit for int()
        raise CalibrationError(f"calibration {source} is not usable TOML: {exc}") from None
    except RecursionError:
        raise CalibrationError(f"calibration {source} is nested too deeply to be a calibration") from None
    cams: dict[str, CameraCalibration] = {}
    for key, table in doc.items():
        if key == "metadata" or not isinstance(table, dict):
            continue
        cam = _camera(key, table, source)
        if cam.name in cams:
            raise CalibrationError(f"{source} [{key}] name: camera name {cam.name!r} is used twice")
        cams[cam.name] = cam
    if not cams:
        raise CalibrationError(f"calibration {source} defines no cameras")
    return cams


def read_calibration_toml(path: str | Path) -> dict[str, CameraCalibration]:
    """Read and check a Pose2Sim calibration TOML → cameras by name, in file order. Raises
    :class:`CalibrationError` naming the file, the camera and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration {path.name}: {exc.__class__.__name__}") from exc
    return parse_calibration(text, path.name)


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
