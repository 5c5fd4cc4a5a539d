"""The detect stage's child processes, one per view, and the typed line protocol between them and the parent.

A child is ``python -m worker.pipeline.detectors.protocol VIDEO TARGET_FPS MAX_SIDE MAX_SECONDS
INPUT_SIZE OUT.npz``. Why processes, and why by hand: MediaPipe holds the GIL, so threads would not
run two views at once, and Celery's pool processes are daemonic, which ``multiprocessing`` refuses to
start children from; a plain subprocess works there.

One message per line. Child → parent (stdout): :class:`SurveyReport` (``C <json>``: the view's people),
:class:`Progress` (``P <frames done>``), :class:`Done` (``D``: the track is saved) and
:class:`ChildError` (``E <json code/message>``: a problem with the input, exit status 2). Parent →
child (stdin): :class:`MotionRequest` (``M``: follow the people's motion and report again) or
:class:`Seed` (``S <json box or null>``: whom to track). The track itself goes through files: the
arrays in ``OUT.npz``, the crops in ``OUT.crops.f32`` (written as they come, so the child's memory
stays flat).
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from model_store.keypoints.detections import ViewTrack
from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError
from worker.pipeline.detectors.survey import needs_motion, survey_motion, survey_view
from worker.pipeline.detectors.tracking import TrackedView, make_detector, track_view
from worker.pipeline.people.subject import Person, SubjectChoice, Survey
from worker.pipeline.stages.decode import VideoStream, open_video

#: Chooses the subject from the two views' surveys (see :func:`worker.pipeline.people.subject.choose_subject`).
Chooser = Callable[[tuple[Survey, Survey]], SubjectChoice]


@dataclass(frozen=True)
class SurveyReport:
    """The people a child's view shows (``frame``: the survey frame, −1 when nobody was found)."""

    frame: int
    people: list[Person]

    def line(self) -> str:
        return "C " + json.dumps({"frame": self.frame, "people": [p.to_json() for p in self.people]})


@dataclass(frozen=True)
class Progress:
    """Frames of the view tracked so far."""

    frames: int

    def line(self) -> str:
        return f"P {self.frames}"


@dataclass(frozen=True)
class Done:
    """The track is saved."""

    def line(self) -> str:
        return "D"


@dataclass(frozen=True)
class ChildError:
    """A problem with the input (a :class:`PipelineError`'s code and message)."""

    code: str
    message: str

    def line(self) -> str:
        return "E " + json.dumps({"code": self.code, "message": self.message})


@dataclass(frozen=True)
class MotionRequest:
    """Parent → child: follow the surveyed people's motion, then report the survey again."""

    def line(self) -> str:
        return "M"


@dataclass(frozen=True)
class Seed:
    """Parent → child: track the person in ``box`` (full-resolution px), or the detector's pick (None)."""

    box: list[float] | None

    def line(self) -> str:
        return "S " + json.dumps(self.box)


ChildMessage = SurveyReport | Progress | Done | ChildError
ParentMessage = MotionRequest | Seed


def parse_child(line: str) -> ChildMessage | None:
    """A child's line as its message; None for end of output (the child closed without a result)."""
    if line.startswith("C "):
        data = json.loads(line[2:])
        return SurveyReport(int(data["frame"]), [Person.from_json(p) for p in data["people"]])
    if line.startswith("P "):
        return Progress(int(line[2:]))
    if line.startswith("E "):
        data = json.loads(line[2:])
        return ChildError(data["code"], data["message"])
    if line.startswith("D"):
        return Done()
    if line == "":
        return None
    raise ValueError(f"not a detection child's message: {line!r}")


def parse_parent(line: str) -> ParentMessage | None:
    """The parent's line as its message; None when the parent went away."""
    if line.startswith("M"):
        return MotionRequest()
    if line.startswith("S "):
        box = json.loads(line[2:])
        return Seed(None if box is None else [float(v) for v in box])
    return None


def send(stream: IO[str], message: ChildMessage | ParentMessage) -> None:
    """Write one message as a line and flush it."""
    stream.write(message.line() + "\n")
    stream.flush()


def crops_path(path: Path) -> Path:
    """Where a child writes the crops of the track it saves at ``path``."""
    return path.with_suffix(".crops.f32")


def save_tracked(path: Path, tracked: TrackedView) -> None:
    """Everything but the crops, which a spilling sink has already written to :func:`crops_path`."""
    t = tracked.track
    np.savez(path, keypoints=t.keypoints, person_found=t.person_found, boxes=t.boxes, fps=t.fps,
             image_size=np.array(t.image_size), input_size=t.crop_masks.shape[-1],
             seconds=np.array([tracked.decode_s, tracked.wall_s]))


def load_tracked(path: Path) -> TrackedView:
    """The track a child saved at ``path`` (and :func:`crops_path`)."""
    with np.load(path) as z:
        s = int(z["input_size"])
        crops = np.fromfile(crops_path(path), np.float32).reshape(-1, s, s)
        size = z["image_size"].tolist()
        track = ViewTrack(z["keypoints"], z["person_found"], z["boxes"], crops, float(z["fps"]),
                          (int(size[0]), int(size[1])))
        return TrackedView(track, float(z["seconds"][0]), float(z["seconds"][1]))


def child_command(video: VideoStream, input_size: int, out: Path) -> list[str]:
    """The command line of one view's child (see the module docstring)."""
    return [sys.executable, "-m", __name__, str(video.path), repr(video.target_fps),
            str(video.max_side) if video.max_side else "none", repr(video.max_seconds), str(input_size), str(out)]


def child_main(argv: list[str]) -> int:  # pragma: no cover - runs in a subprocess (tested through track_views)
    """One view, as a child (see the module docstring)."""
    path, fps, max_side, max_seconds, input_size, out = argv
    detector = None
    try:
        video = open_video(path, float(fps), int(max_side) if max_side != "none" else None, float(max_seconds))
        detector = make_detector()
        survey = survey_view(video, detector)
        send(sys.stdout, SurveyReport(survey.frame, survey.people))
        answer = parse_parent(sys.stdin.readline())
        if isinstance(answer, MotionRequest):  # the parent needs the people's motion to match the views
            survey = survey_motion(video, detector, survey)
            send(sys.stdout, SurveyReport(survey.frame, survey.people))
            answer = parse_parent(sys.stdin.readline())
        if not isinstance(answer, Seed):
            return 1  # the parent went away
        last = [0.0]

        def report(i: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 0.25 or i == video.n_frames:
                last[0] = now
                send(sys.stdout, Progress(i))

        tracked = track_view(video, int(input_size), detector, report,
                             None if answer.box is None else np.array(answer.box), spill=crops_path(Path(out)))
        save_tracked(Path(out), tracked)
    except PipelineError as exc:
        send(sys.stdout, ChildError(exc.code, exc.message))
        return 2
    finally:
        if detector is not None and hasattr(detector, "close"):
            detector.close()
    send(sys.stdout, Done())
    return 0


def follow_children(
    children: list[subprocess.Popen], n_frames: list[int], progress: Callable[[float], None] | None,
    videos: tuple[VideoStream, VideoStream], choose: Chooser, motion_survey: bool = False,
) -> SubjectChoice:
    """The parent's side: collect both surveys (asking both children for their people's motion first
    when ``motion_survey`` and :func:`~worker.pipeline.detectors.survey.needs_motion`), send each child
    its seed, then read progress until both are done; raise the children's input errors as
    :class:`PipelineError` and a crash (output closed without :class:`Done`) as an internal error."""
    sel = selectors.DefaultSelector()
    for j, c in enumerate(children):
        assert c.stdout is not None
        sel.register(c.stdout, selectors.EVENT_READ, j)
    frames = [0] * len(children)
    surveys: dict[int, Survey] = {}
    choice: SubjectChoice | None = None
    finished: set[int] = set()
    try:
        while len(finished) < len(children):
            for key, _ in sel.select(timeout=1.0):
                j = key.data
                message = parse_child(key.fileobj.readline())  # type: ignore[union-attr]
                if isinstance(message, SurveyReport):
                    surveys[j] = Survey(message.frame, message.people, (videos[j].info.width, videos[j].info.height))
                    if len(surveys) == len(children) and motion_survey and needs_motion((surveys[0], surveys[1])):
                        motion_survey = False  # ask once; the children answer with a second report
                        surveys.clear()
                        for c in children:
                            assert c.stdin is not None
                            send(c.stdin, MotionRequest())
                    elif len(surveys) == len(children):
                        choice = choose((surveys[0], surveys[1]))
                        for c, box in zip(children, choice.boxes, strict=True):
                            assert c.stdin is not None
                            send(c.stdin, Seed(None if box is None else [float(v) for v in box]))
                elif isinstance(message, Progress):
                    frames[j] = message.frames
                    if progress is not None:
                        progress(sum(frames) / max(sum(n_frames), 1))
                elif isinstance(message, ChildError):
                    raise PipelineError(message.code, message.message)
                elif isinstance(message, Done):
                    finished.add(j)
                    sel.unregister(key.fileobj)
                else:  # closed without a result
                    code = children[j].wait()
                    raise PipelineError(ErrorCode.INTERNAL, f"detection of the {('front', 'side')[j]} view stopped "
                                        f"unexpectedly (exit status {code}; out of memory?)")
    finally:
        sel.close()
    assert choice is not None
    return choice


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
