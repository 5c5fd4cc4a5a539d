"""The ``subject`` parameter: who to follow when several people are in view (a rule, or a point on the
person in the front video). Parsed here without the people tracker's libraries, so the API checks the
form field with the same rule the pipeline applies (:mod:`worker.pipeline.people.subject`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError

#: The named rules: the biggest person (default), or the one nearest the frame centres.
SUBJECT_RULES = ("largest", "center")


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
    parts = text.split(",")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        x = y = float("nan")
    if len(parts) != 2 or not (math.isfinite(x) and math.isfinite(y) and x >= 0 and y >= 0):
        raise PipelineError(ErrorCode.INVALID_REQUEST, f"subject must be 'largest', 'center' or a point 'x,y' in "
                            f"full-resolution pixels of the front video, got {value!r}")
    return SubjectHint(point=(x, y))
