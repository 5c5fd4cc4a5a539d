"""Stage ``cameras``' rule for a calibration, on the file's checked values alone (no numpy): the two
cameras by name (:func:`~model_store.geometry.calibration_file.choose_cameras`), each calibrated at
its video's size. The API's upload check applies it before a job is queued, and
:func:`worker.pipeline.geometry.rig.select_cameras` builds the pipeline's cameras from its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from model_store.geometry.calibration_file import (
    CalibrationError,
    CameraCalibration,
    CameraNotFound,
    choose_cameras,
    read_calibration_toml,
)
from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError

#: Largest relative difference between a camera's calibrated image size and its video's (per side).
SIZE_TOLERANCE = 0.02


@dataclass
class CalibratedPair:
    """The front and side cameras of a calibration, and what the size check accepted with a warning."""

    front: CameraCalibration
    side: CameraCalibration
    warnings: list[str] = field(default_factory=list)


def _check_size(cam: CameraCalibration, size: tuple[int, int], warnings: list[str]) -> None:
    cw, ch = cam.image_size
    w, h = size
    if (cw, ch) == (w, h):
        return
    if abs(cw - w) / cw > SIZE_TOLERANCE or abs(ch - h) / ch > SIZE_TOLERANCE:
        raise PipelineError(
            ErrorCode.CALIBRATION_INVALID,
            f"camera {cam.name} was calibrated at {cw}×{ch} px but its video is {w}×{h} px",
        )
    warnings.append(f"camera {cam.name}: calibrated at {cw}×{ch} px, video is {w}×{h} px (accepted)")


def calibrated_pair(
    calibration: Path, front_name: str | None, side_name: str | None,
    front_size: tuple[int, int], side_size: tuple[int, int],
) -> CalibratedPair:
    """The named cameras of ``calibration`` for the two videos (sizes are the upright video sizes, px).
    Raises :class:`~worker.pipeline.contract.PipelineError`: ``calibration_invalid`` (an unusable file,
    or a camera calibrated at another image size) or ``camera_not_found``."""
    try:
        cams = read_calibration_toml(calibration)
    except CalibrationError as exc:
        raise PipelineError(ErrorCode.CALIBRATION_INVALID, str(exc)) from exc
    try:
        front, side = choose_cameras(cams, front_name, side_name)
    except CameraNotFound as exc:
        raise PipelineError(ErrorCode.CAMERA_NOT_FOUND, str(exc)) from exc
    warnings: list[str] = []
    _check_size(front, front_size, warnings)
    _check_size(side, side_size, warnings)
    return CalibratedPair(front, side, warnings)
