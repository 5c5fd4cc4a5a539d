"""Upload checks once the files are on disk (app.upload_stream receives them): name, container, codec,
duration, calibration. The pipeline's own light checks (PyAV's probe, the calibration file's reader and
the camera rule), so nothing here loads numpy, OpenCV or torch."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.errors import ApiError
from model_store.geometry.calibration_file import (
    CalibrationError,
    CameraNotFound,
    choose_cameras,
    read_calibration_toml,
)
from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError
from worker.pipeline.geometry.named_cameras import calibrated_pair
from worker.pipeline.people.subject_hint import check_point_in_frame, parse_subject
from worker.pipeline.stages.probe import VideoInfo, probe_video
from worker.settings import Settings

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")


def video_name(filename: str, field: str) -> str:
    """``front.mp4``-style name for an upload of ``field``; 415 unless the client's file name has a video suffix."""
    suffix = Path(filename).suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        raise ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                       f"{field}: {filename!r} is not a supported video file ({', '.join(VIDEO_EXTENSIONS)})")
    return f"{field}{suffix}"


def check_video(path: Path, field: str, settings: Settings) -> VideoInfo:
    try:
        return probe_video(path, settings.max_video_seconds, settings.max_video_side, settings.max_video_fps)
    except PipelineError as exc:
        raise ApiError(exc.code.status or 400, exc.code, f"{field}: {exc.message}") from exc


def check_durations(front: VideoInfo, side: VideoInfo, settings: Settings) -> None:
    diff = abs(front.duration_s - side.duration_s)
    if diff > settings.max_duration_mismatch_s:
        raise ApiError(400, ErrorCode.DURATION_MISMATCH,
                       f"the videos last {front.duration_s:.1f} s and {side.duration_s:.1f} s; they must show the "
                       f"same take (at most {settings.max_duration_mismatch_s:.1f} s apart)")


def check_calibration(path: Path, front_camera: str | None, side_camera: str | None) -> None:
    try:
        cams = read_calibration_toml(path)
    except CalibrationError as exc:
        raise ApiError(400, ErrorCode.CALIBRATION_INVALID, str(exc).replace(str(path.parent) + "/", "")) from exc
    try:
        choose_cameras(cams, front_camera, side_camera)
    except CameraNotFound as exc:
        raise ApiError(400, ErrorCode.CAMERA_NOT_FOUND, str(exc)) from exc


def check_subject(subject: str | None, front: VideoInfo) -> None:
    """A subject point must lie on the front video's frame (422, as any invalid form field)."""
    try:
        check_point_in_frame(parse_subject(subject), front.width, front.height)
    except PipelineError as exc:
        raise ApiError(422, exc.code, f"subject: {exc.message}") from exc


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def check_rig(calibration: Path | None, front_camera: str | None, side_camera: str | None,
              infos: tuple[VideoInfo, VideoInfo]) -> None:
    """What the pipeline checks first, before anything is queued: camera names need a calibration,
    and each named camera must have been calibrated at its video's size (the pipeline's own rule)."""
    if calibration is None:
        if front_camera is not None or side_camera is not None:
            raise ApiError(422, ErrorCode.INVALID_REQUEST,
                           "front_camera and side_camera name cameras of a calibration: "
                           "upload the calibration too, or leave the names out")
        return
    try:
        calibrated_pair(calibration, front_camera, side_camera, (infos[0].width, infos[0].height),
                        (infos[1].width, infos[1].height))
    except PipelineError as exc:
        raise ApiError(400, exc.code, exc.message) from exc
