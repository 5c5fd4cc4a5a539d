"""The detect stage's line protocol between the parent and its per-view child processes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from worker.pipeline.detectors.protocol import (
    ChildError,
    Done,
    MotionRequest,
    Progress,
    Seed,
    SurveyReport,
    parse_child,
    parse_parent,
    send,
)
from worker.pipeline.people.subject import Person


def _roundtrip(message, parse):
    stream = io.StringIO()
    send(stream, message)
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1  # one message, one line
    return parse(text)


def test_every_message_survives_its_line():
    person = Person(np.array([10.0, 20.0, 110.0, 420.0]), np.arange(99, dtype=np.float64).reshape(33, 3))
    report = _roundtrip(SurveyReport(12, [person]), parse_child)
    assert isinstance(report, SurveyReport) and report.frame == 12 and len(report.people) == 1
    np.testing.assert_allclose(report.people[0].box, person.box)
    np.testing.assert_allclose(report.people[0].keypoints, person.keypoints)
    assert _roundtrip(Progress(37), parse_child) == Progress(37)
    assert _roundtrip(Done(), parse_child) == Done()
    assert _roundtrip(ChildError("video_undecodable", "front: no frame"), parse_child) == ChildError(
        "video_undecodable", "front: no frame")
    assert _roundtrip(MotionRequest(), parse_parent) == MotionRequest()
    assert _roundtrip(Seed([1.0, 2.0, 3.0, 4.0]), parse_parent) == Seed([1.0, 2.0, 3.0, 4.0])
    assert _roundtrip(Seed(None), parse_parent) == Seed(None)


def test_end_of_output_and_strangers():
    assert parse_child("") is None  # the child closed without a result
    assert parse_parent("") is None  # the parent went away
    with pytest.raises(ValueError, match="not a detection child's message"):
        parse_child("hello\n")
