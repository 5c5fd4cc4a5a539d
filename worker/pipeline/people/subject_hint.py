"""The ``subject`` parameter: who to follow when several people are in view (a rule, or a point on the
person in the front video). Parsed here without the people tracker's libraries, so the API checks the
form field with the same rule the pipeline applies (:mod:`worker.pipeline.people.subject`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError

#: The named rules: the biggest person (default), or the one nearest the frame centres.
SUBJECT_RULES = ("largest", "center")
#: Largest coordinate of a subject point (px): the largest image side a calibration may have.
MAX_COORDINATE = 16384
_COORDINATE = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


@dataclass(frozen=True)
class SubjectHint:
    """The user's ``subject`` parameter: a rule, or a point (full-res px) in the front view."""

    rule: str = "largest"
    point: tuple[float, float] | None = None


def parse_subject(value: str | None) -> SubjectHint:
    """``None``/``largest``/``center``/``x,y`` → hint; anything else is an ``invalid_request``."""
    if value is None or value.strip() == "":
        return SubjectHint()
    text = value.strip().lower()
    if text in SUBJECT_RULES:
        return SubjectHint(rule=text)
    parts = [p.strip() for p in text.split(",")]
    x = y = math.nan
    if len(parts) == 2 and all(_COORDINATE.fullmatch(p) for p in parts):  # float() would also take 1e308 or 5_0
        x, y = float(parts[0]), float(parts[1])
    if not (0 <= x <= MAX_COORDINATE and 0 <= y <= MAX_COORDINATE):
        raise PipelineError(ErrorCode.INVALID_REQUEST, f"subject must be 'largest', 'center' or a point 'x,y' in "
                            f"full-resolution pixels of the front video (0–{MAX_COORDINATE}), got {value!r}")
    return SubjectHint(point=(x, y))


def check_point_in_frame(hint: SubjectHint, width: int, height: int) -> None:
    """A subject point must lie on the front video's frame (``width`` × ``height`` px, upright): one
    off it would silently follow whoever is nearest. ``invalid_request`` otherwise."""
    if hint.point is not None and not (hint.point[0] <= width and hint.point[1] <= height):
        x, y = hint.point
        raise PipelineError(ErrorCode.INVALID_REQUEST, f"subject point ({x:g}, {y:g}) is outside the front video's "
                            f"{width}×{height} px frame")
