"""Who is in view before tracking starts: each view's people on its first frame with anyone, and,
for matching uncalibrated views, each person's keypoints followed for a couple of seconds
(:mod:`worker.pipeline.people.subject`, :mod:`worker.pipeline.people.motion_match`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from model_store.keypoints.detections import N_LANDMARKS
from worker.pipeline.detectors.tracking import box_of_mask
from worker.pipeline.people import motion_match
from worker.pipeline.people.subject import SURVEY_SECONDS, SURVEY_STEP, Person, Survey, find_people
from worker.pipeline.stages.decode import VideoStream


def survey_view(video: VideoStream, detector: Callable) -> Survey:
    """The people on the view's first frame with anyone, trying every :data:`SURVEY_STEP`-th frame
    for the first :data:`SURVEY_SECONDS` (see :mod:`worker.pipeline.people.subject`)."""
    size = (video.info.width, video.info.height)
    last = int(SURVEY_SECONDS * video.target_fps)
    for k, image in video.frames():
        if k > last:
            break
        if k % SURVEY_STEP:
            continue
        people = find_people(image, video.scale, detector, box_of_mask)
        if people:
            return Survey(k, people, size)
    return Survey(-1, [], size)


def survey_motion(video: VideoStream, detector: Callable, survey: Survey) -> Survey:
    """The survey with each person's keypoints followed for
    :data:`~worker.pipeline.people.motion_match.MOTION_SECONDS` from the survey frame, every ``MOTION_STEP``-th
    frame (for matching people across uncalibrated views by motion; asked for only when a view shows
    several people, as it runs the detector once per person and sample)."""
    if survey.frame < 0:
        return survey
    samples = int(motion_match.MOTION_SECONDS * video.target_fps) // motion_match.MOTION_STEP + 1
    series = [np.full((samples, N_LANDMARKS, 3), np.nan) for _ in survey.people]
    for s, p in zip(series, survey.people, strict=True):
        s[0] = p.keypoints
    boxes = [p.box for p in survey.people]
    for k, image in video.frames():
        step, rest = divmod(k - survey.frame, motion_match.MOTION_STEP)
        if step >= samples:
            break
        if step > 0 and rest == 0:
            _follow_people(find_people(image, video.scale, detector, box_of_mask), boxes, series, step)
    people = [Person(p.box, p.keypoints, s) for p, s in zip(survey.people, series, strict=True)]
    return Survey(survey.frame, people, survey.image_size)


def _follow_people(detected: list[Person], boxes: list[np.ndarray], series: list[np.ndarray], step: int) -> None:
    """Give each followed person (last box in ``boxes``) the nearest unclaimed detection within half
    their height, writing its keypoints at ``series[i][step]``; the biggest people choose first."""
    free = list(range(len(detected)))
    for i in sorted(range(len(boxes)), key=lambda n: -(boxes[n][3] - boxes[n][1])):
        centre, height = (boxes[i][:2] + boxes[i][2:]) / 2, boxes[i][3] - boxes[i][1]
        dist = [float(np.linalg.norm((detected[d].box[:2] + detected[d].box[2:]) / 2 - centre)) for d in free]
        if dist and min(dist) <= 0.5 * height:
            d = free.pop(int(np.argmin(dist)))
            boxes[i] = detected[d].box
            series[i][step] = detected[d].keypoints


def needs_motion(surveys: tuple[Survey, Survey]) -> bool:
    """Several people in a view, and somebody in both: the subject's partner must be found by motion."""
    counts = [len(s.people) for s in surveys]
    return max(counts) > 1 and min(counts) > 0
