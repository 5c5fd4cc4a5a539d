"""One home for error codes: every code the product raises is an ErrorCode with its HTTP status and
meaning, an unknown code is refused where it is raised, and docs/api.md shows the generated table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.core.errors import HTTP_CODES, ApiError
from worker.errors import DOC, END, START, ErrorCode, error_code, markdown_table
from worker.pipeline.contract import PipelineError

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_raised_anywhere_is_defined():
    """Scan the sources: string codes handed to FitError (model_store cannot import the worker's enum)
    and every ErrorCode member named in app/ and worker/ exist."""
    defined = {c.value for c in ErrorCode}
    named = set()
    for pkg in ("app", "worker", "model_store"):
        for path in (ROOT / pkg).rglob("*.py"):
            text = path.read_text()
            named |= {m.lower() for m in re.findall(r"ErrorCode\.([A-Z_]+)", text)}
            named |= set(re.findall(r'(?:FitError|PipelineError|error_body)\("([a-z_]+)"', text))
            named |= set(re.findall(r'ApiError\((?:\d+|None), "([a-z_]+)"', text))
    assert named, "the scan found no codes at all"
    assert named <= defined, sorted(named - defined)


def test_an_unknown_code_is_refused_where_it_is_raised():
    with pytest.raises(ValueError, match="unknown error code 'no_persn'"):
        PipelineError("no_persn", "typo")
    with pytest.raises(ValueError, match="unknown error code"):
        ApiError(400, "oops", "typo")
    err = PipelineError("no_person", "nobody in the front view")
    assert err.code is ErrorCode.NO_PERSON and err.code == "no_person"
    assert error_code("video_too_long").status == 413


def test_api_errors_take_their_codes_status():
    assert ApiError(None, ErrorCode.PAYLOAD_TOO_LARGE, "big").status == 413
    assert ApiError(400, ErrorCode.VIDEO_TOO_LONG, "long").status == 400  # an explicit status wins
    with pytest.raises(ValueError, match="no HTTP status"):
        ApiError(None, ErrorCode.NO_PERSON, "a job-only code")
    assert all(code.status == status for status, code in HTTP_CODES.items())


def test_the_api_page_shows_the_generated_table():
    text = DOC.read_text()
    assert START in text and END in text
    shown = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == markdown_table(), "regenerate it: python -m worker.errors --write"
    assert all(f"`{c.value}`" in shown for c in ErrorCode)
