"""Stage ``detect`` — person detection: a mask and 33 keypoints per frame for the subject, streamed.

Default detector: MediaPipe 0.10.21 Pose with segmentation (models inside the wheel, offline).
Subject choice: on the first frame where anyone is found, MediaPipe's pick is kept if it is the
most central-and-large candidate it offers (it tracks one person); afterwards the subject is
*tracked* by running the detector on a region around the previous box, so a bystander elsewhere
in the frame is never picked up. Frames without the subject are marked ``person_found = False``.
Ultralytics YOLOv8-seg is used instead when a weights file is configured (optional extra).
All pixel coordinates are full-resolution frame pixels.

Frames arrive one at a time (:class:`~worker.pipeline.decode.VideoStream`) and each result goes to
a *sink*: :class:`TrackSink` keeps what the later stages read (keypoints, crop box, the mask crop at
the network's input size: memory independent of frame size), :class:`DetectionsSink` keeps
full-frame masks (the detections file format, for tools). :func:`track_views` runs the two views
in two processes at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from model_store.crops import network_crop
from model_store.detections import N_LANDMARKS, ViewDetections, ViewTrack
from worker.pipeline import motion_match
from worker.pipeline.contract import PipelineError
from worker.pipeline.decode import DecodedVideo, VideoStream, open_video
from worker.pipeline.mediapipe_pose import MediaPipeDetector
from worker.pipeline.subject import (
    SURVEY_SECONDS,
    SURVEY_STEP,
    Person,
    SubjectChoice,
    Survey,
    everyone,
    find_people,
)
from worker.settings import get_settings

ROI_MARGIN = 1.6  # tracked region = previous box enlarged by this factor


class Sink(Protocol):
    def add(self, mask: np.ndarray | None, keypoints: np.ndarray | None) -> None:
        """One frame: a full-frame uint8 mask [H, W] and keypoints [33, 3] in full-frame px, or
        (None, None) when the subject was not found."""


class TrackSink:
    """Keeps a :class:`ViewTrack`: per frame the keypoints, the crop box of the full-frame mask and
    the mask crop resampled to ``input_size`` px (the network's input). With ``spill`` the crops
    (float32, 16 KB a frame at 64 px) are appended to that file as they come instead of being kept
    (the detection subprocesses: their memory then stays flat however long the clip)."""

    def __init__(self, input_size: int, fps: float, image_size: tuple[int, int], spill: Path | None = None) -> None:
        self.input_size, self.fps, self.image_size = input_size, fps, image_size
        self._kps: list[np.ndarray] = []
        self._found: list[bool] = []
        self._boxes: list[np.ndarray] = []
        self._crops: list[np.ndarray] = []
        self._empty = np.zeros((input_size, input_size), np.float32)
        self._spill = spill.open("wb") if spill is not None else None
        self._spill_path = spill

    def add(self, mask: np.ndarray | None, keypoints: np.ndarray | None) -> None:
        box, crop = network_crop(mask, self.input_size) if mask is not None else (None, None)
        self._found.append(keypoints is not None)
        self._kps.append(keypoints if keypoints is not None else np.zeros((N_LANDMARKS, 3), np.float32))
        self._boxes.append(box if box is not None else np.full(3, np.nan))
        self._crops.append(crop if crop is not None else self._empty)
        if self._spill is not None and len(self._crops) >= SPILL_FRAMES:
            self._flush()

    def _flush(self) -> None:
        assert self._spill is not None
        for crop in self._crops:
            self._spill.write(np.ascontiguousarray(crop, np.float32).tobytes())
        self._crops.clear()

    def result(self) -> ViewTrack:
        s = self.input_size
        if self._spill is not None:
            self._flush()
            self._spill.close()
            assert self._spill_path is not None
            n = len(self._found)
            crops = (np.memmap(self._spill_path, np.float32, "r", shape=(n, s, s)) if n else
                     np.zeros((0, s, s), np.float32))
        else:
            crops = np.array(self._crops, np.float32).reshape(-1, s, s)
        return ViewTrack(
            keypoints=np.array(self._kps, np.float32).reshape(-1, N_LANDMARKS, 3),
            person_found=np.array(self._found, bool), boxes=np.array(self._boxes, np.float64).reshape(-1, 3),
            crop_masks=crops, fps=self.fps, image_size=self.image_size,
        )


#: Crops a spilling :class:`TrackSink` holds before writing them out.
SPILL_FRAMES = 64


class DetectionsSink:
    """Keeps full-frame :class:`ViewDetections` (memory grows with frame size × length: tools only)."""

    def __init__(self, fps: float, image_size: tuple[int, int]) -> None:
        self.fps, self.image_size = fps, image_size
        self._masks: list[np.ndarray] = []
        self._kps: list[np.ndarray] = []
        self._found: list[bool] = []

    def add(self, mask: np.ndarray | None, keypoints: np.ndarray | None) -> None:
        w, h = self.image_size
        self._masks.append(mask if mask is not None else np.zeros((h, w), np.uint8))
        self._kps.append(keypoints if keypoints is not None else np.zeros((N_LANDMARKS, 3), np.float32))
        self._found.append(keypoints is not None)

    def result(self) -> ViewDetections:
        w, h = self.image_size
        return ViewDetections(np.array(self._masks, np.uint8).reshape(-1, h, w),
                              np.array(self._kps, np.float32).reshape(-1, N_LANDMARKS, 3),
                              np.array(self._found, bool), self.fps, self.image_size)


def track_from_detections(det: ViewDetections, input_size: int) -> ViewTrack:
    """The :class:`ViewTrack` of full-frame detections (precomputed or rendered ones)."""
    sink = TrackSink(input_size, det.fps, det.image_size)
    for i in range(det.n_frames):
        found = bool(det.person_found[i])
        sink.add(det.masks[i] if found else None, det.keypoints[i] if found else None)
    return sink.result()


def _box(mask: np.ndarray, thresh: float = 0.5) -> np.ndarray | None:
    ys, xs = np.nonzero(mask > thresh)
    if ys.size < 20:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def _roi(box: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1]) * ROI_MARGIN / 2
    return (int(max(cx - half, 0)), int(max(cy - half, 0)), int(min(cx + half, w)), int(min(cy + half, h)))


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _near(box: np.ndarray, anchor: np.ndarray, lost_frames: int) -> float:
    """Distance between box centres in units of the anchor's size, relaxed by 1 per 30 frames lost."""
    size = max(anchor[2] - anchor[0], anchor[3] - anchor[1], 1.0)
    return float(np.linalg.norm(_centre(box) - _centre(anchor)) / size / (1.0 + lost_frames / 30.0))


def detect_frames(
    frames: Iterable[np.ndarray], scale: float, full_size: tuple[int, int], sink: Sink,
    detector: Callable | None = None, progress: Callable[[int], None] | None = None,
    seed: np.ndarray | None = None,
) -> None:
    """Run the detector over ``frames`` (upright RGB, ``scale`` full-resolution px per image px) with
    subject tracking and hand each frame's result (full-resolution mask and keypoints) to ``sink``;
    ``progress`` gets the number of frames done.

    ``seed`` (a box, full-res px) starts tracking on the subject chosen among several people
    (:mod:`worker.pipeline.subject`) and turns on the guard against swapping: a detection whose
    centre is more than half a body size away from the subject's last box is not the subject, and
    after a loss only a person near where it was last seen is taken back."""
    own = detector is None
    detector = detector or make_detector()
    full_w, full_h = full_size
    prev: np.ndarray | None = None if seed is None else np.asarray(seed, np.float64) / scale
    guard = seed is not None
    lost = 0
    try:
        for i, image in enumerate(frames):
            h, w = image.shape[:2]
            x0, y0, x1, y1 = _roi(prev, w, h) if prev is not None else (0, 0, w, h)
            res = detector(np.ascontiguousarray(image[y0:y1, x0:x1]))
            full: np.ndarray | None = None
            box: np.ndarray | None = None
            if res is not None:
                full = np.zeros((h, w), np.float32)
                full[y0:y1, x0:x1] = res[0]
                box = _box(full)
                if guard and box is not None and prev is not None and _near(box, prev, lost) > 0.5:
                    res = None  # someone else stepped into the subject's region
            if res is None and prev is not None:  # lost: look at the whole frame again
                x0, y0, x1, y1 = 0, 0, w, h
                if guard:
                    res, full, box = _reacquire(image, detector, prev, lost)
                else:
                    res = detector(image)
                    full, box = (res[0], _box(res[0])) if res is not None else (None, None)
            added = False
            if res is not None and full is not None and box is not None:
                kp = res[1]
                prev = box
                lost = 0
                kp = kp.copy()
                kp[:, 0] += x0
                kp[:, 1] += y0
                kp[:, :2] *= scale
                sink.add(cv2.resize((full * 255).astype(np.uint8), (full_w, full_h)), kp)
                added = True
            if not added:
                lost += 1
                sink.add(None, None)
            if progress is not None:
                progress(i + 1)
    finally:
        if own and hasattr(detector, "close"):
            detector.close()


def _reacquire(
    image: np.ndarray, detector: Callable, anchor: np.ndarray, lost: int,
) -> tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None, np.ndarray | None]:
    """After a loss with several people about: everyone in the frame, and the one nearest the
    subject's last box if near enough; (result, full-frame mask, box) or Nones."""
    best: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
    for mask, kp, box in everyone(image, detector, _box):
        d = _near(box, anchor, lost)
        if d <= 1.0 and (best is None or d < best[0]):
            best = (d, mask, kp, box)
    if best is None:
        return None, None, None
    return (best[1], best[2]), best[1], best[3]


def survey_view(video: VideoStream, detector: Callable) -> Survey:
    """The people on the view's first frame with anyone, trying every :data:`SURVEY_STEP`-th frame
    for the first :data:`SURVEY_SECONDS` (see :mod:`worker.pipeline.subject`)."""
    size = (video.info.width, video.info.height)
    last = int(SURVEY_SECONDS * video.target_fps)
    for k, image in video.frames():
        if k > last:
            break
        if k % SURVEY_STEP:
            continue
        people = find_people(image, video.scale, detector, _box)
        if people:
            return Survey(k, people, size)
    return Survey(-1, [], size)


def survey_motion(video: VideoStream, detector: Callable, survey: Survey) -> Survey:
    """The survey with each person's keypoints followed for
    :data:`~worker.pipeline.motion_match.MOTION_SECONDS` from the survey frame, every ``MOTION_STEP``-th
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
            _follow_people(find_people(image, video.scale, detector, _box), boxes, series, step)
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


def detect_view(
    video: DecodedVideo, detector: Callable | None = None, progress: Callable[[float], None] | None = None
) -> ViewDetections:
    """Full-frame detections of a decoded video (tools; the pipeline streams with :func:`track_view`)."""
    t = video.frames.shape[0]
    full = (video.info.width, video.info.height)
    fps = 1.0 / float(video.times_s[1] - video.times_s[0]) if t > 1 else 60.0
    sink = DetectionsSink(fps, full)
    detect_frames(iter(video.frames), video.scale, full, sink, detector,
                  None if progress is None else (lambda i: progress(i / t)))
    return sink.result()


@dataclass
class TrackedView:
    """A view's track plus where the time went (s): decoding and detection (decode included)."""

    track: ViewTrack
    decode_s: float
    wall_s: float


def track_view(
    video: VideoStream, input_size: int, detector: Callable | None = None,
    progress: Callable[[int], None] | None = None, seed: np.ndarray | None = None, spill: Path | None = None,
) -> TrackedView:
    """Decode and detect one view in one streamed pass (``seed``: see :func:`detect_frames`);
    memory does not grow with frame size."""
    t0 = time.perf_counter()
    decode_s = 0.0
    sink = TrackSink(input_size, video.target_fps, (video.info.width, video.info.height), spill)

    def timed_frames() -> Iterable[np.ndarray]:
        nonlocal decode_s
        frames = video.frames()
        while True:
            t = time.perf_counter()
            item = next(frames, None)
            decode_s += time.perf_counter() - t
            if item is None:
                return
            yield item[1]

    detect_frames(timed_frames(), video.scale, (video.info.width, video.info.height), sink, detector, progress, seed)
    return TrackedView(sink.result(), round(decode_s, 3), round(time.perf_counter() - t0, 3))


def detect_processes() -> int:
    """How many views to detect at once: ``DETECT_PROCESSES`` (1 or 2, see :class:`~worker.settings.Settings`)
    or, by default, 2 when the machine has at least two CPU cores."""
    value = get_settings().detect_processes
    if value is not None:
        return value
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _crops_path(path: Path) -> Path:
    return path.with_suffix(".crops.f32")


def _save_tracked(path: Path, tracked: TrackedView) -> None:
    """Everything but the crops, which a spilling sink has already written to :func:`_crops_path`."""
    t = tracked.track
    np.savez(path, keypoints=t.keypoints, person_found=t.person_found, boxes=t.boxes, fps=t.fps,
             image_size=np.array(t.image_size), input_size=t.crop_masks.shape[-1],
             seconds=np.array([tracked.decode_s, tracked.wall_s]))


def _load_tracked(path: Path) -> TrackedView:
    with np.load(path) as z:
        s = int(z["input_size"])
        crops = np.fromfile(_crops_path(path), np.float32).reshape(-1, s, s)
        size = z["image_size"].tolist()
        track = ViewTrack(z["keypoints"], z["person_found"], z["boxes"], crops, float(z["fps"]),
                          (int(size[0]), int(size[1])))
        return TrackedView(track, float(z["seconds"][0]), float(z["seconds"][1]))


def _report_survey(survey: Survey) -> str:  # pragma: no cover - runs in a subprocess
    """Print the survey as a ``C`` line for the parent; its answer (a line from stdin)."""
    print("C " + json.dumps({"frame": survey.frame, "people": [p.to_json() for p in survey.people]}), flush=True)
    return sys.stdin.readline()


def _child_main(argv: list[str]) -> int:  # pragma: no cover - runs in a subprocess (tested through track_views)
    """``python -m worker.pipeline.detect VIDEO TARGET_FPS MAX_SIDE MAX_SECONDS INPUT_SIZE OUT.npz``: one
    view. Prints ``C <json survey>``; reads ``M`` (then surveys the people's motion and prints ``C``
    again) or ``S <json seed box or null>`` from stdin, then tracks, printing ``P <frames done>`` lines
    and ``D`` once the track is saved; an input problem is ``E <json code/message>`` with exit status 2."""
    path, fps, max_side, max_seconds, input_size, out = argv
    detector = None
    try:
        video = open_video(path, float(fps), int(max_side) if max_side != "none" else None, float(max_seconds))
        detector = make_detector()
        survey = survey_view(video, detector)
        answer = _report_survey(survey)
        if answer.startswith("M"):  # the parent needs the people's motion to match the views
            answer = _report_survey(survey_motion(video, detector, survey))
        if not answer.startswith("S "):
            return 1  # the parent went away
        seed = json.loads(answer[2:])
        last = [0.0]

        def report(i: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 0.25 or i == video.n_frames:
                last[0] = now
                print(f"P {i}", flush=True)

        tracked = track_view(video, int(input_size), detector, report, None if seed is None else np.array(seed),
                             spill=_crops_path(Path(out)))
        _save_tracked(Path(out), tracked)
    except PipelineError as exc:
        print("E " + json.dumps({"code": exc.code, "message": exc.message}), flush=True)
        return 2
    finally:
        if detector is not None and hasattr(detector, "close"):
            detector.close()
    print("D", flush=True)
    return 0


def _frames_done(progress: Callable[[float], None], done_before: int, total: int) -> Callable[[int], None]:
    """A per-view frame counter feeding ``progress`` with the fraction done over both views."""
    return lambda i: progress((done_before + i) / total)


#: Chooses the subject from the two views' surveys (see :func:`worker.pipeline.subject.choose_subject`).
Chooser = Callable[[tuple[Survey, Survey]], SubjectChoice]


def track_views(
    videos: tuple[VideoStream, VideoStream], input_size: int, progress: Callable[[float], None] | None = None,
    processes: int | None = None, choose: Chooser | None = None, motion_survey: bool = False,
) -> tuple[list[TrackedView], SubjectChoice]:
    """Survey both views, choose the subject (``choose``; default: the detector's own choice in each
    view), then decode + detect both views. With ``processes`` = 2 (default:
    :func:`detect_processes`) each view runs in its own Python subprocess (MediaPipe holds the GIL,
    so threads would not help; a subprocess, unlike ``multiprocessing``, also works inside Celery's
    daemonic pool processes). ``progress`` gets the fraction of frames done over both views; an
    exception it raises (a cancelled job) or from ``choose`` stops both children. ``motion_survey``:
    when a view shows several people, both surveys also follow each person's motion
    (:func:`survey_motion`; for uncalibrated views)."""
    processes = detect_processes() if processes is None else processes
    choose = choose or (lambda surveys: SubjectChoice((None, None)))
    total = sum(v.n_frames for v in videos)
    if processes < 2:
        detector = make_detector()
        try:
            surveys = (survey_view(videos[0], detector), survey_view(videos[1], detector))
            if motion_survey and _needs_motion(surveys):
                surveys = (survey_motion(videos[0], detector, surveys[0]),
                           survey_motion(videos[1], detector, surveys[1]))
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
    with tempfile.TemporaryDirectory(prefix="detect-") as tmp:
        outs = [Path(tmp) / f"view{j}.npz" for j in range(len(videos))]
        logs = [(Path(tmp) / f"view{j}.log").open("w") for j in range(len(videos))]
        children: list[subprocess.Popen] = []
        try:
            for v, out, log in zip(videos, outs, logs, strict=True):
                cmd = [sys.executable, "-m", "worker.pipeline.detect", str(v.path), repr(v.target_fps),
                       str(v.max_side) if v.max_side else "none", repr(v.max_seconds), str(input_size), str(out)]
                children.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                                 text=True, bufsize=1))
            choice = _follow(children, [v.n_frames for v in videos], progress, videos, choose, motion_survey)
            return [_load_tracked(out) for out in outs], choice
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


def _needs_motion(surveys: tuple[Survey, Survey]) -> bool:
    """Several people in a view, and somebody in both: the subject's partner must be found by motion."""
    counts = [len(s.people) for s in surveys]
    return max(counts) > 1 and min(counts) > 0


def _follow(
    children: list[subprocess.Popen], n_frames: list[int], progress: Callable[[float], None] | None,
    videos: tuple[VideoStream, VideoStream], choose: Chooser, motion_survey: bool = False,
) -> SubjectChoice:
    """Collect both surveys (asking both children for their people's motion first when
    ``motion_survey`` and :func:`_needs_motion`), send each child its seed, then read progress lines
    until both are done; raise the children's input errors as :class:`PipelineError` and a crash (no
    ``D`` line) as an internal error."""
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
                line = key.fileobj.readline()  # type: ignore[union-attr]
                if line.startswith("C "):
                    data = json.loads(line[2:])
                    surveys[j] = Survey(data["frame"], [Person.from_json(p) for p in data["people"]],
                                        (videos[j].info.width, videos[j].info.height))
                    if len(surveys) == len(children) and motion_survey and _needs_motion((surveys[0], surveys[1])):
                        motion_survey = False  # ask once; the children answer with a second C line
                        surveys.clear()
                        for c in children:
                            assert c.stdin is not None
                            c.stdin.write("M\n")
                            c.stdin.flush()
                    elif len(surveys) == len(children):
                        choice = choose((surveys[0], surveys[1]))
                        for c, box in zip(children, choice.boxes, strict=True):
                            assert c.stdin is not None
                            c.stdin.write("S " + json.dumps(None if box is None else [float(v) for v in box]) + "\n")
                            c.stdin.flush()
                elif line.startswith("P "):
                    frames[j] = int(line[2:])
                    if progress is not None:
                        progress(sum(frames) / max(sum(n_frames), 1))
                elif line.startswith("E "):
                    err = json.loads(line[2:])
                    raise PipelineError(err["code"], err["message"])
                elif line.startswith("D"):
                    finished.add(j)
                    sel.unregister(key.fileobj)
                elif line == "":  # closed without a result
                    code = children[j].wait()
                    raise PipelineError("internal", f"detection of the {('front', 'side')[j]} view stopped "
                                        f"unexpectedly (exit status {code}; out of memory?)")
    finally:
        sel.close()
    assert choice is not None
    return choice


def make_detector() -> Callable:
    """YOLOv8-seg when ``KINEMATICS_YOLO_WEIGHTS`` names an existing file (and ultralytics is
    installed); otherwise the embedded MediaPipe detector. Nothing is ever downloaded."""
    weights = get_settings().kinematics_yolo_weights
    if weights is not None:
        if not weights.is_file():
            raise PipelineError("internal", f"KINEMATICS_YOLO_WEIGHTS={weights} does not exist")
        from worker.pipeline.yolo import YoloDetector

        return YoloDetector(weights)
    return MediaPipeDetector()


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))
