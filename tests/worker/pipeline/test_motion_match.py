"""Matching people across uncalibrated views by their motion (worker.pipeline.people.motion_match and the
uncalibrated branch of worker.pipeline.people.subject.choose_subject), on synthetic keypoint series."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.worker.pipeline.motion_people import moving_person
from worker.pipeline.contract import PipelineError
from worker.pipeline.people import motion_match as mm
from worker.pipeline.people.subject import Person, Survey, choose_subject
from worker.pipeline.people.subject_hint import parse_subject

SIZE = (1920, 1080)


def _sim(a: Person, b: Person, offset: int | None = None) -> float:
    return mm.similarity(mm.signals(a.motion), mm.signals(b.motion), mm.lag_range(0, 0, offset))


def test_the_same_motion_seen_twice_is_alike_and_other_motion_is_not():
    front = moving_person(1.0, 0.0, 500, 600, seed=1)
    side = moving_person(1.0, 0.0, 350, 900, seed=2)  # the same body, smaller and elsewhere in the other view
    assert _sim(front, side) > 0.8
    assert _sim(front, moving_person(0.6, 1.0, 400, 300, seed=3)) < 0.4  # a slower walker
    assert _sim(front, moving_person(1.5, 1.0, 400, 300, seed=3)) < 0.4  # a faster one
    assert _sim(front, moving_person(1.0, 0.0, 400, 300, seed=4, still=True)) < 0.3  # someone standing
    assert np.isnan(_sim(moving_person(1, 0, 400, 300, 5, still=True), moving_person(1, 0, 400, 300, 6, still=True)))


def test_the_same_pace_out_of_phase_is_told_apart_only_with_a_given_offset():
    front = moving_person(1.0, 0.0, 500, 600, seed=1)
    other = moving_person(1.0, 2.0, 400, 300, seed=4)
    assert _sim(front, other) > 0.8  # some lag within the sync range lines them up
    assert _sim(front, other, offset=0) < 0.3
    assert _sim(front, moving_person(1.0, 0.0, 350, 900, seed=2), offset=0) > 0.8


def test_the_lag_range_follows_the_survey_frames_and_the_offset():
    assert mm.lag_range(0, 0, None) == range(-8, 9)  # ±0.5 s at 15 samples a second
    assert mm.lag_range(40, 0, None) == range(2, 19)
    assert mm.lag_range(0, 0, 12) == range(2, 5)


def test_best_match_needs_a_clear_winner():
    assert mm.best_match(np.array([0.9, 0.2])) == (0, True)
    assert mm.best_match(np.array([0.9, 0.8])) == (0, False)  # too close to the runner-up
    assert mm.best_match(np.array([0.3, np.nan])) == (0, False)  # too weak
    assert mm.best_match(np.array([np.nan, 0.7])) == (1, True)


def test_a_bigger_bystander_in_the_front_view_only_is_not_followed():
    subject_f, subject_s = moving_person(1.0, 0.0, 500, 600, 1), moving_person(1.0, 0.0, 350, 900, 2)
    bystander = moving_person(0.6, 1.0, 650, 1300, 3)  # larger: the "largest" rule alone would take them
    choice = choose_subject((Survey(0, [bystander, subject_f], SIZE), Survey(0, [subject_s], SIZE)), None)
    assert np.array_equal(choice.boxes[0], subject_f.box) and np.array_equal(choice.boxes[1], subject_s.box)
    assert choice.summary["matched_by"] == "motion" and choice.summary["chosen"]["front"] == 1
    assert "matched across the views by motion" in choice.warnings[0]


def test_two_people_in_both_views_are_paired_by_motion():
    a_f, a_s = moving_person(1.0, 0.0, 600, 600, 1), moving_person(1.0, 0.0, 300, 1200, 2)
    b_f, b_s = moving_person(0.6, 1.0, 400, 1300, 3), moving_person(0.6, 1.0, 500, 500, 4)
    surveys = (Survey(0, [a_f, b_f], SIZE), Survey(0, [b_s, a_s], SIZE))  # in the side view b looks bigger
    largest = choose_subject(surveys, None)
    assert np.array_equal(largest.boxes[0], a_f.box) and np.array_equal(largest.boxes[1], a_s.box)
    x, y = (b_f.box[:2] + b_f.box[2:]) / 2
    pointed = choose_subject(surveys, None, parse_subject(f"{x:.0f},{y:.0f}"))
    assert np.array_equal(pointed.boxes[0], b_f.box) and np.array_equal(pointed.boxes[1], b_s.box)


def test_two_alike_people_in_both_views_are_ambiguous_unless_the_offset_tells():
    a_f, a_s = moving_person(1.0, 0.0, 600, 600, 1), moving_person(1.0, 0.0, 300, 1200, 2)
    b_f, b_s = moving_person(1.0, 2.0, 400, 1300, 3), moving_person(1.0, 2.0, 500, 500, 4)
    surveys = (Survey(0, [a_f, b_f], SIZE), Survey(0, [b_s, a_s], SIZE))
    with pytest.raises(PipelineError) as err:
        choose_subject(surveys, None)
    assert err.value.code == "subject_ambiguous" and "calibration" in err.value.message
    given = choose_subject(surveys, None, offset_frames=0)
    assert np.array_equal(given.boxes[0], a_f.box) and np.array_equal(given.boxes[1], a_s.box)


def test_a_bystander_moving_like_the_subject_is_ambiguous_until_pointed_at():
    subject_f, subject_s = moving_person(1.0, 0.0, 500, 600, 1), moving_person(1.0, 0.0, 350, 900, 2)
    twin = moving_person(1.0, 0.0, 300, 1400, 3)
    surveys = (Survey(0, [twin, subject_f], SIZE), Survey(0, [subject_s], SIZE))
    with pytest.raises(PipelineError) as err:
        choose_subject(surveys, None)
    assert err.value.code == "subject_ambiguous" and "subject=x,y" in err.value.message
    x, y = (subject_f.box[:2] + subject_f.box[2:]) / 2
    pointed = choose_subject(surveys, None, parse_subject(f"{x:.0f},{y:.0f}"))
    assert np.array_equal(pointed.boxes[0], subject_f.box) and pointed.summary["matched_by"] == "subject point"


def test_several_people_standing_still_in_one_view_are_ambiguous():
    """Nobody moves: nothing to match by, so the side view's several people are not guessed at."""
    still = [moving_person(1.0, 0.0, h, x, seed, still=True) for seed, (h, x) in enumerate([(500, 600), (300, 1300)])]
    with pytest.raises(PipelineError) as err:
        choose_subject((Survey(0, [still[0]], SIZE), Survey(0, still, SIZE)), None)
    assert err.value.code == "subject_ambiguous" and "calibration" in err.value.message


def test_people_with_their_motion_travel_as_json():
    p = moving_person(1.0, 0.0, 500, 600, 1)
    p.motion[3:5] = np.nan  # not found at two samples
    back = Person.from_json(json.loads(json.dumps(p.to_json())))
    assert back.motion is not None and back.motion.shape == p.motion.shape
    assert np.isnan(back.motion[3:5]).all() and np.allclose(back.motion[5:], p.motion[5:], atol=0.01)
    assert Person.from_json(json.loads(json.dumps(Person(p.box, p.keypoints).to_json()))).motion is None
