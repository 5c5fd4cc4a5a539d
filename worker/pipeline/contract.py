"""Typed contract between the pipeline (video → OpenSim files) and its callers (CLI, Celery task).

Units and conventions: videos are files on disk; ``offset_frames`` K means frame f of the front
video shows the same instant as frame f + K of the side video (at the videos' native rate);
``height_m`` in metres, ``mass_kg`` in kilograms; ``refine`` is ``"fit"`` (fit the model to the
keypoints of both views, starting from the network) or ``"none"`` (the network's answer only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.errors import ErrorCode, error_code

#: Stage names, in execution order. The job record and the CLI progress bar use these.
STAGES: tuple[str, ...] = ("decode", "cameras", "detect", "synchronise", "infer", "fit", "assemble")

#: Ways to turn the network's answer into the result: fit the model to the keypoints, or not.
REFINE_MODES: tuple[str, ...] = ("fit", "none")

#: ``progress(stage, fraction)`` with ``fraction`` in [0, 1] of that stage.
ProgressCallback = Callable[[str, float], None]

# The files a run writes into ``out_dir`` are named in :mod:`model_store.results`.


@dataclass(frozen=True)
class PipelineRequest:
    """Everything one run needs. Paths must exist; ``out_dir`` is created if missing."""

    front_video: Path
    side_video: Path
    out_dir: Path
    calibration: Path | None = None
    front_camera: str | None = None
    side_camera: str | None = None
    offset_frames: int | None = None
    detections_dir: Path | None = None
    height_m: float | None = None
    mass_kg: float | None = None
    refine: str = "fit"
    overlay: bool = True  # write overlay.mp4 / overlay.png (both views with keypoints and the model)
    subject: str | None = None  # who to follow when several people are in view: largest | center | "x,y" px


@dataclass
class PipelineResult:
    """What a successful run produced. ``files`` are paths relative to ``out_dir``."""

    out_dir: Path
    files: list[str]
    summary: dict[str, Any] = field(default_factory=dict)


class PipelineError(Exception):
    """A failure the user can act on: a stable ``code`` (:class:`~worker.errors.ErrorCode`, where every
    code is listed with its meaning; an unknown code is refused) plus a one-line human ``message``."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(message)
        self.code = error_code(code)
        self.message = message
