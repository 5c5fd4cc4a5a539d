"""Every error code the product answers with, in one place: the API's error responses, a failed job's
``error_code`` and the CLI's ``error [code]: message`` line.

Each :class:`ErrorCode` carries the HTTP status the API answers it with (``None`` for codes only a
job can end with, after its upload was accepted), where it occurs and what it means. Nothing here
imports anything heavy: the API process and the workers both read it. ``docs/api.md`` holds the table
this module generates::

    python -m worker.errors              # print the table
    python -m worker.errors --write      # write it into docs/api.md (between its markers)
"""

from __future__ import annotations

import argparse
import sys
from enum import StrEnum
from pathlib import Path

#: Where a code occurs: an HTTP answer of the API, a job's end, the CLI's exit.
REQUEST, UPLOAD, JOB = "request", "upload check", "job"


class ErrorCode(StrEnum):
    """A stable error code with its HTTP ``status`` (None: a job's end only), ``where`` it occurs and
    its ``description``. Members compare equal to their strings (``ErrorCode.NO_PERSON == "no_person"``)."""

    status: int | None
    where: tuple[str, ...]
    description: str

    def __new__(cls, value: str, status: int | None, where: tuple[str, ...], description: str) -> ErrorCode:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.status = status
        obj.where = where
        obj.description = description
        return obj

    # --- the request itself
    BAD_REQUEST = "bad_request", 400, (REQUEST,), "the request is not well-formed HTTP or multipart"
    UPLOAD_INCOMPLETE = "upload_incomplete", 400, (REQUEST,), "the upload ended before the body was complete"
    UNAUTHORIZED = "unauthorized", 401, (REQUEST,), "no API key, or not a valid one"
    FORBIDDEN = "forbidden", 403, (REQUEST,), "the key may not do this"
    NOT_FOUND = "not_found", 404, (REQUEST,), "no such job, result or route (or another key's job)"
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, (REQUEST,), "the path does not serve this method (see Allow)"
    REQUEST_TIMEOUT = "request_timeout", 408, (REQUEST,), "the request head or body arrived too slowly"
    CONFLICT = "conflict", 409, (REQUEST,), "the job is not in a state that allows this"
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, (REQUEST,), "a file or field is over its size limit"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, (REQUEST,), "a file is not a supported video type"
    INVALID_REQUEST = "invalid_request", 422, (REQUEST, JOB), "a form field or query parameter is invalid"
    REQUEST_HEADER_TOO_LARGE = "request_header_too_large", 431, (REQUEST,), "the request head is over 64 KiB"
    UNAVAILABLE = "unavailable", 503, (REQUEST,), "job storage (Redis) is unreachable; retry shortly"
    # --- the uploaded files (checked before a job is queued; the CLI and a job check them again)
    VIDEO_EMPTY = "video_empty", 400, (UPLOAD, JOB), "a video file is empty or has no frames"
    VIDEO_UNDECODABLE = "video_undecodable", 400, (UPLOAD, JOB), "a video cannot be read or decoded"
    VIDEO_TOO_LONG = "video_too_long", 413, (UPLOAD, JOB), "a video is longer than MAX_VIDEO_SECONDS"
    VIDEO_TOO_SHORT = "video_too_short", 400, (UPLOAD, JOB), "a video has fewer than 30 frames or lasts under 0.5 s"
    VIDEO_SPARSE = "video_sparse", 400, (UPLOAD, JOB), "a video's frames leave long holes in its duration"
    VIDEO_FRAME_RATE = "video_frame_rate", 400, (UPLOAD, JOB), "a video has fewer than 5 frames per second"
    VIDEO_FRAME_RATE_TOO_HIGH = ("video_frame_rate_too_high", 400, (UPLOAD,),
                                 "a video has more than MAX_VIDEO_FPS frames per second")
    VIDEO_RESOLUTION = "video_resolution", 400, (UPLOAD,), "a video is wider or taller than MAX_VIDEO_SIDE px"
    DURATION_MISMATCH = "duration_mismatch", 400, (UPLOAD, JOB), "the two videos' durations differ too much"
    CALIBRATION_INVALID = "calibration_invalid", 400, (UPLOAD, JOB), "the calibration file cannot be used"
    CAMERA_NOT_FOUND = "camera_not_found", 400, (UPLOAD, JOB), "a named camera is not in the calibration"
    DETECTIONS_INVALID = "detections_invalid", 400, (JOB,), "precomputed detections (CLI --detections) are unusable"
    # --- the job
    NO_PERSON = "no_person", None, (JOB,), "no person was found in a view"
    SUBJECT_AMBIGUOUS = ("subject_ambiguous", None, (JOB,),
                         "several people and no way to tell the subject (pass subject), or the person followed "
                         "changes mid-clip (the message names the frames)")
    NO_CHECKPOINT = "no_checkpoint", None, (JOB,), "no trained network is installed"
    NETWORK_FAILED = "network_failed", None, (JOB,), "the network could not run on these inputs"
    FIT_NO_KEYPOINTS = "fit_no_keypoints", None, (JOB,), "a view has no usable keypoint for the fit"
    FIT_DIVERGED = "fit_diverged", None, (JOB,), "the fit's solver could not reach a finite answer"
    FIT_INVALID_INPUT = "fit_invalid_input", None, (JOB,), "the fit got non-finite coordinates or scales"
    GEOMETRY_DEGENERATE = ("geometry_degenerate", None, (JOB,),
                           "the cameras and keypoints give no solvable 3D geometry (check the calibration)")
    WORKER_LOST = "worker_lost", None, (JOB,), "the job's worker stopped answering MAX_ATTEMPTS times"
    INTERNAL = "internal", 500, (REQUEST, JOB), "a bug: please report it with the job id"


_BY_VALUE: dict[str, ErrorCode] = {c.value: c for c in ErrorCode}


def error_code(code: str) -> ErrorCode:
    """``code`` as an :class:`ErrorCode`; :class:`ValueError` for a code the product does not define."""
    try:
        return _BY_VALUE[str(code)]
    except KeyError:
        raise ValueError(f"unknown error code {code!r}; add it to worker.errors.ErrorCode") from None


def markdown_table() -> str:
    """The table of every code: code, HTTP status, where it occurs, meaning."""
    lines = ["| code | HTTP status | where | meaning |", "| --- | --- | --- | --- |"]
    for c in ErrorCode:
        status = str(c.status) if c.status is not None else "— (job only)"
        lines.append(f"| `{c.value}` | {status} | {', '.join(c.where)} | {c.description} |")
    return "\n".join(lines)


DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
START, END = "<!-- error-codes -->", "<!-- /error-codes -->"


def write_table(path: Path = DOC) -> None:
    """Replace the text between the error-code markers of ``path`` with :func:`markdown_table`."""
    text = path.read_text()
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"{path} has no {START} … {END} markers")
    path.write_text(f"{head}{START}\n{markdown_table()}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"write the table into {DOC.name}")
    args = ap.parse_args(argv)
    if args.write:
        write_table()
    else:
        print(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
