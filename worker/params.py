"""The job's parameters, one typed contract for the API, the CLI and the Celery task.

``JobForm`` is what a user chooses (the text fields of ``POST /jobs``, the CLI's options);
``JobParams`` is what a job record keeps (the form plus the stored input file names); the task turns
it into a :class:`~worker.pipeline.contract.PipelineRequest`. Units: ``height_m`` metres,
``mass_kg`` kilograms, ``offset_frames`` frames of the videos' own rate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from worker.pipeline.contract import REFINE_MODES, PipelineError, PipelineRequest
from worker.pipeline.people.subject_hint import parse_subject

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _null_is_absent(value: object) -> object:
    """Optional numeric form fields sent as a literal ``null`` mean "not given"."""
    return None if isinstance(value, str) and value.strip().lower() in ("", "null") else value


def _plain(pattern: re.Pattern[str], what: str) -> Callable[[object], object]:
    """A numeric form field sent as text must be a plain number: Python's ``int()``/``float()`` also take
    ``5_0`` (50), which no client means."""
    def check(value: object) -> object:
        value = _null_is_absent(value)
        if isinstance(value, str) and not pattern.fullmatch(value.strip()):
            raise ValueError(f"expected {what}, got {value[:40]!r}")
        return value
    return check


_plain_int = _plain(_INTEGER, "a whole number of digits (e.g. 12 or -3)")
_plain_float = _plain(_DECIMAL, "a decimal number (e.g. 1.75)")


class JobForm(BaseModel):
    """The text fields of ``POST /jobs`` (multipart form fields beside the ``front``/``side``/``calibration``
    files). A field sent empty means "not given", as in an HTML form."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    front_camera: str | None = Field(None, max_length=200, examples=["cam01"],
                                     description="the front view's camera in the calibration")
    side_camera: str | None = Field(None, max_length=200, examples=["cam04"],
                                    description="the side view's camera in the calibration")
    offset_frames: Annotated[int | None, BeforeValidator(_plain_int)] = Field(
        None, ge=-600, le=600, description="frame f of front = frame f+K of side")
    height_m: Annotated[float | None, BeforeValidator(_plain_float)] = Field(
        None, ge=0.5, le=2.5, description="subject height, metres")
    mass_kg: Annotated[float | None, BeforeValidator(_plain_float)] = Field(
        None, ge=10.0, le=300.0, description="subject mass, kilograms")
    refine: str = Field("fit", json_schema_extra={"enum": list(REFINE_MODES)},
                        description="'fit' (fit the model to both views' keypoints, default) or 'none' "
                                    "(the network's answer only)")
    overlay: bool = Field(True, description="also write overlay.mp4 and overlay.png (both views with the "
                                            "detected keypoints and the model drawn on them)")
    subject: Annotated[str | None, BeforeValidator(_null_is_absent)] = Field(
        None, max_length=40, examples=["largest", "center", "540,900"],
        description="who to follow when several people are in view: 'largest' (default), 'center', or a point "
                    "'x,y' (full-resolution px) on the person in the front video's first frames")

    @field_validator("subject")
    @classmethod
    def _known_subject(cls, value: str | None) -> str | None:
        try:
            parse_subject(value)
        except PipelineError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("refine")
    @classmethod
    def _known_refine(cls, value: str) -> str:
        if value not in REFINE_MODES:
            raise ValueError(f"refine must be one of {', '.join(REFINE_MODES)}")
        return value


class JobParams(JobForm):
    """What a job record keeps: the form plus the stored input names (files in the job's ``input/``)."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    front_file: str
    side_file: str
    calibration: bool = False

    def request(self, job_dir: Path) -> PipelineRequest:
        """The pipeline request for a job whose folder is ``job_dir``."""
        inp = job_dir / "input"
        return PipelineRequest(
            front_video=inp / self.front_file, side_video=inp / self.side_file, out_dir=job_dir / "output",
            calibration=inp / "calibration.toml" if self.calibration else None, front_camera=self.front_camera,
            side_camera=self.side_camera, offset_frames=self.offset_frames, height_m=self.height_m,
            mass_kg=self.mass_kg, refine=self.refine, overlay=self.overlay, subject=self.subject,
        )
