"""OpenSim motion (.mot, Storage format) and marker trajectory (.trc) files.

``.mot``: tab-separated, a ``time`` column (s) then one column per coordinate; rotational and
coupled coordinates in degrees when ``inDegrees=yes`` (radians otherwise), translations always in
metres. ``.trc``: OpenSim/Vicon layout, positions in millimetres, one X/Y/Z triple per point,
OpenSim ground frame (Y up).

The reader is hand-written rather than using ``opensim.Storage`` so that training and the worker
can read motions without the OpenSim runtime; it is checked against OpenSim in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.biomech.definition import ModelDefinition, load_definition


@dataclass
class Motion:
    """Coordinates over time in model order: ``coords`` [T, C] radians / metres, ``times_s`` [T]."""

    times_s: np.ndarray
    coords: np.ndarray
    names: tuple[str, ...]

    @property
    def rate_hz(self) -> float:
        dt = np.diff(self.times_s)
        return float(1.0 / np.median(dt)) if dt.size else 0.0


def resample_motion(motion: Motion, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Times [T] (s, from 0) and coordinates [T, C] at ``fps`` covering the motion's duration
    (linear interpolation of time-unwrapped angles)."""
    duration = motion.times_s[-1] - motion.times_s[0]
    times = np.arange(int(np.floor(duration * fps + 1e-9)) + 1) / fps
    src = motion.times_s - motion.times_s[0]
    q = np.unwrap(motion.coords, axis=0)
    return times, np.stack([np.interp(times, src, q[:, j]) for j in range(q.shape[1])], 1)


class MotionFileError(ValueError):
    """A .mot/.sto file that cannot be read (names the file and the problem)."""


def _angular_mask(definition: ModelDefinition, names: Sequence[str]) -> np.ndarray:
    kind = {c.name: c.motion_type for c in definition.coordinates}
    return np.array([kind.get(n, "rotational") != "translational" for n in names])


def write_mot(
    path: str | Path,
    times_s: np.ndarray,
    coords: np.ndarray,
    in_degrees: bool = True,
    definition: ModelDefinition | None = None,
    name: str = "kinematics",
) -> Path:
    """Write ``coords`` [T, C] (rad / m, model order) at ``times_s`` [T] (s) as an OpenSim .mot."""
    md = definition or load_definition()
    names = md.coordinate_names
    coords = np.asarray(coords, dtype=np.float64)
    times_s = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if coords.ndim != 2 or coords.shape != (times_s.size, len(names)):
        raise ValueError(f"coords must be [T={times_s.size}, {len(names)}], got {coords.shape}")
    if not np.all(np.isfinite(coords)):
        raise ValueError("coords contain NaN or infinite values")
    values = coords.copy()
    if in_degrees:
        mask = _angular_mask(md, names)
        values[:, mask] = np.degrees(values[:, mask])
    path = Path(path)
    header = (
        f"{name}\nversion=1\nnRows={times_s.size}\nnColumns={len(names) + 1}\n"
        f"inDegrees={'yes' if in_degrees else 'no'}\nendheader\n" + "\t".join(("time", *names))
    )
    np.savetxt(path, np.column_stack([times_s, values]), fmt="%.8f", delimiter="\t", header=header, comments="")
    return path


def _column_name(raw: str) -> str:
    """Accept plain names and state paths such as ``/jointset/hip_r/hip_flexion_r/value``."""
    parts = [p for p in raw.strip().split("/") if p]
    if len(parts) >= 2 and parts[-1] == "value":
        return parts[-2]
    return parts[-1] if parts else raw


def storage_header_end(lines: Sequence[str]) -> int:
    """Index of the ``endheader`` line of an OpenSim Storage file's lines (the column names follow it);
    :class:`MotionFileError` when there is none."""
    try:
        return next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    except StopIteration:
        raise MotionFileError("no 'endheader' line; not an OpenSim .mot/.sto file") from None


def _storage_table(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """An OpenSim Storage file's header lines (before ``endheader``), column names and data [T, C]."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionFileError(f"cannot read motion file {path}: {exc}") from exc
    try:
        end = storage_header_end(lines)
    except MotionFileError as exc:
        raise MotionFileError(f"{path}: {exc}") from None
    columns = [c.strip() for c in lines[end + 1].split("\t")] if len(lines) > end + 1 else []
    if not columns or columns[0].lower() != "time":
        raise MotionFileError(f"{path}: first column must be 'time', got {columns[:1]}")
    try:
        data = np.loadtxt([ln for ln in lines[end + 2 :] if ln.strip()], ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise MotionFileError(f"{path}: malformed numeric data: {exc}") from exc
    if data.shape[0] == 0 or data.shape[1] != len(columns):
        raise MotionFileError(f"{path}: expected {len(columns)} columns of data, got shape {data.shape}")
    return lines[:end], columns, data


def read_sto_columns(path: str | Path) -> dict[str, np.ndarray]:
    """Every column of a .mot/.sto by its header name, as stored (no unit conversion): ``time`` and the
    rest (OpenSim's marker-error and other reports as well as motions)."""
    _, columns, data = _storage_table(Path(path))
    return {c: data[:, i] for i, c in enumerate(columns)}


def read_mot(path: str | Path, definition: ModelDefinition | None = None) -> Motion:
    """Read a .mot/.sto in degrees or radians into model order (rad / m).

    Coordinates missing from the file take the model's default value; extra columns are ignored.
    """
    md = definition or load_definition()
    path = Path(path)
    header, raw_columns, data = _storage_table(path)
    in_degrees = any(line.replace(" ", "").lower() == "indegrees=yes" for line in header)
    columns = [_column_name(c) for c in raw_columns]
    names = md.coordinate_names
    known = [n for n in columns[1:] if n in names]
    if not known:
        raise MotionFileError(f"{path}: no column matches a coordinate of model {md.name}")
    coords = np.tile(np.array([c.default for c in md.coordinates]), (data.shape[0], 1))
    angular = _angular_mask(md, names)
    for j, col in enumerate(columns[1:], start=1):
        if col in names:
            i = names.index(col)
            coords[:, i] = np.radians(data[:, j]) if (in_degrees and angular[i]) else data[:, j]
    return Motion(times_s=data[:, 0].copy(), coords=coords, names=names)


#: .trc units: the file's ``Units`` field, the factor from metres, and the number format.
TRC_UNITS = {"mm": (1000.0, "%.4f"), "m": (1.0, "%.6f")}


def write_trc(
    path: str | Path,
    times_s: np.ndarray,
    points_m: np.ndarray,
    names: Sequence[str],
    rate_hz: float,
    units: str = "mm",
) -> Path:
    """Write point trajectories ``points_m`` [T, N, 3] (metres, ground frame) as a .trc in ``units``
    (``mm``, the default, as results are written, or ``m``, as OpenSim's tools read virtual markers here)."""
    if units not in TRC_UNITS:
        raise ValueError(f"units must be one of {', '.join(TRC_UNITS)}, got {units!r}")
    factor, fmt = TRC_UNITS[units]
    pts = np.asarray(points_m, dtype=np.float64)
    times_s = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if pts.ndim != 3 or pts.shape[0] != times_s.size or pts.shape[1] != len(names) or pts.shape[2] != 3:
        raise ValueError(f"points must be [T={times_s.size}, N={len(names)}, 3], got {pts.shape}")
    path = Path(path)
    t, n = pts.shape[:2]
    head = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate_hz:.6g}\t{rate_hz:.6g}\t{t}\t{n}\t{units}\t{rate_hz:.6g}\t1\t{t}",
        "Frame#\tTime\t" + "\t\t\t".join(names) + "\t\t",
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, n + 1)),
        "",
    ]
    body = np.column_stack([np.arange(1, t + 1), times_s, pts.reshape(t, n * 3) * factor])
    with path.open("w") as fh:
        fh.write("\n".join(head) + "\n")
        np.savetxt(fh, body, fmt=["%d", "%.6f", *([fmt] * (n * 3))], delimiter="\t")
    return path
