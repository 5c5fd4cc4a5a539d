"""Stage ``detect`` — person detection for both views: a mask and 33 keypoints per frame for the subject, streamed.

First each view is surveyed (:mod:`worker.pipeline.detectors.survey`: the people on its first frame
with anyone), the subject is chosen from both surveys (:mod:`worker.pipeline.people.subject`), then
each view is decoded and tracked in one streamed pass (:mod:`worker.pipeline.detectors.tracking`),
the two views in two child processes at once (:mod:`worker.pipeline.detectors.protocol`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from worker.pipeline.detectors.protocol import Chooser, child_command, follow_children, load_tracked
from worker.pipeline.detectors.survey import needs_motion, survey_motion, survey_view
from worker.pipeline.detectors.tracking import (
    TrackedView,
    detect_view,
    make_detector,
    track_from_detections,
    track_view,
)
from worker.pipeline.people.subject import SubjectChoice, Survey
from worker.pipeline.stages.decode import VideoStream
from worker.settings import get_settings

__all__ = ["detect_processes", "detect_view", "track_from_detections", "track_views"]


def detect_processes() -> int:
    """How many views to detect at once: ``DETECT_PROCESSES`` (1 or 2, see :class:`~worker.settings.Settings`)
    or, by default, 2 when the machine has at least two CPU cores."""
    value = get_settings().detect_processes
    if value is not None:
        return value
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _frames_done(progress: Callable[[float], None], done_before: int, total: int) -> Callable[[int], None]:
    """A per-view frame counter feeding ``progress`` with the fraction done over both views."""
    return lambda i: progress((done_before + i) / total)


def track_views(
    videos: tuple[VideoStream, VideoStream], input_size: int, progress: Callable[[float], None] | None = None,
    processes: int | None = None, choose: Chooser | None = None, motion_survey: bool = False,
) -> tuple[list[TrackedView], SubjectChoice]:
    """Survey both views, choose the subject (``choose``; default: the detector's own choice in each
    view), then decode + detect both views. With ``processes`` = 2 (default:
    :func:`detect_processes`) each view runs in its own child process (see
    :mod:`worker.pipeline.detectors.protocol`). ``progress`` gets the fraction of frames done over
    both views; an exception it raises (a cancelled job) or from ``choose`` stops both children.
    ``motion_survey``: when a view shows several people, both surveys also follow each person's
    motion (:func:`~worker.pipeline.detectors.survey.survey_motion`; for uncalibrated views)."""
    processes = detect_processes() if processes is None else processes
    choose = choose or (lambda surveys: SubjectChoice((None, None)))
    if processes < 2:
        return _track_in_process(videos, input_size, progress, choose, motion_survey)
    with tempfile.TemporaryDirectory(prefix="detect-") as tmp:
        outs = [Path(tmp) / f"view{j}.npz" for j in range(len(videos))]
        logs = [(Path(tmp) / f"view{j}.log").open("w") for j in range(len(videos))]
        children: list[subprocess.Popen] = []
        try:
            for v, out, log in zip(videos, outs, logs, strict=True):
                children.append(subprocess.Popen(child_command(v, input_size, out), stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1))
            choice = follow_children(children, [v.n_frames for v in videos], progress, videos, choose, motion_survey)
            return [load_tracked(out) for out in outs], choice
        finally:
            for c in children:
                if c.poll() is None:
                    c.kill()
                c.wait()
                for pipe in (c.stdin, c.stdout):
                    if pipe is not None:
                        with contextlib.suppress(OSError):
                            pipe.close()
            for log in logs:
                log.close()


def _track_in_process(
    videos: tuple[VideoStream, VideoStream], input_size: int, progress: Callable[[float], None] | None,
    choose: Chooser, motion_survey: bool,
) -> tuple[list[TrackedView], SubjectChoice]:
    """:func:`track_views` one view after the other in this process (``DETECT_PROCESSES=1``)."""
    total = sum(v.n_frames for v in videos)
    detector = make_detector()
    try:
        surveys: tuple[Survey, Survey] = (survey_view(videos[0], detector), survey_view(videos[1], detector))
        if motion_survey and needs_motion(surveys):
            surveys = (survey_motion(videos[0], detector, surveys[0]), survey_motion(videos[1], detector, surveys[1]))
        choice = choose(surveys)
        results = []
        for j, v in enumerate(videos):
            done_before = sum(x.n_frames for x in videos[:j])
            view_progress = None if progress is None else _frames_done(progress, done_before, total)
            results.append(track_view(v, input_size, detector, view_progress, choice.boxes[j]))
    finally:
        if hasattr(detector, "close"):
            detector.close()
    return results, choice
