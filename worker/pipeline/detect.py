"""Stage 3 — person detection: a mask and 33 keypoints per frame for the subject, streamed.

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
from worker.pipeline.contract import PipelineError
from worker.pipeline.decode import DecodedVideo, VideoStream, open_video

ROI_MARGIN = 1.6  # tracked region = previous box enlarged by this factor
YOLO_WEIGHTS_ENV = "KINEMATICS_YOLO_WEIGHTS"


class MediaPipeDetector:
    """MediaPipe Pose (+ segmentation) on one image; returns (mask float [h, w], keypoints [33, 3]) or None."""

    def __init__(self, model_complexity: int = 1) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=model_complexity, enable_segmentation=True,
            min_detection_confidence=0.5,
        )

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        res = self._pose.process(rgb)
        if res.pose_landmarks is None or res.segmentation_mask is None:
            return None
        h, w = rgb.shape[:2]
        kp = np.array([[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark], np.float32)
        return res.segmentation_mask.astype(np.float32), kp

    def close(self) -> None:
        self._pose.close()


class Sink(Protocol):
    def add(self, mask: np.ndarray | None, keypoints: np.ndarray | None) -> None:
        """One frame: a full-frame uint8 mask [H, W] and keypoints [33, 3] in full-frame px, or
        (None, None) when the subject was not found."""


class TrackSink:
    """Keeps a :class:`ViewTrack`: per frame the keypoints, the crop box of the full-frame mask and
    the mask crop resampled to ``input_size`` px (the network's input)."""

    def __init__(self, input_size: int, fps: float, image_size: tuple[int, int]) -> None:
        self.input_size, self.fps, self.image_size = input_size, fps, image_size
        self._kps: list[np.ndarray] = []
        self._found: list[bool] = []
        self._boxes: list[np.ndarray] = []
        self._crops: list[np.ndarray] = []
        self._empty = np.zeros((input_size, input_size), np.float32)

    def add(self, mask: np.ndarray | None, keypoints: np.ndarray | None) -> None:
        box, crop = network_crop(mask, self.input_size) if mask is not None else (None, None)
        self._found.append(keypoints is not None)
        self._kps.append(keypoints if keypoints is not None else np.zeros((N_LANDMARKS, 3), np.float32))
        self._boxes.append(box if box is not None else np.full(3, np.nan))
        self._crops.append(crop if crop is not None else self._empty)

    def result(self) -> ViewTrack:
        s = self.input_size
        return ViewTrack(
            keypoints=np.array(self._kps, np.float32).reshape(-1, N_LANDMARKS, 3),
            person_found=np.array(self._found, bool), boxes=np.array(self._boxes, np.float64).reshape(-1, 3),
            crop_masks=np.array(self._crops, np.float32).reshape(-1, s, s), fps=self.fps, image_size=self.image_size,
        )


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


def detect_frames(
    frames: Iterable[np.ndarray], scale: float, full_size: tuple[int, int], sink: Sink,
    detector: Callable | None = None, progress: Callable[[int], None] | None = None,
) -> None:
    """Run the detector over ``frames`` (upright RGB, ``scale`` full-resolution px per image px) with
    subject tracking and hand each frame's result (full-resolution mask and keypoints) to ``sink``;
    ``progress`` gets the number of frames done."""
    own = detector is None
    detector = detector or make_detector()
    full_w, full_h = full_size
    prev: np.ndarray | None = None
    try:
        for i, image in enumerate(frames):
            h, w = image.shape[:2]
            x0, y0, x1, y1 = _roi(prev, w, h) if prev is not None else (0, 0, w, h)
            res = detector(np.ascontiguousarray(image[y0:y1, x0:x1]))
            if res is None and prev is not None:  # lost: look at the whole frame again
                x0, y0, x1, y1 = 0, 0, w, h
                res = detector(image)
            added = False
            if res is not None:
                m, kp = res
                full = np.zeros((h, w), np.float32)
                full[y0:y1, x0:x1] = m
                box = _box(full)
                if box is not None:
                    prev = box
                    kp = kp.copy()
                    kp[:, 0] += x0
                    kp[:, 1] += y0
                    kp[:, :2] *= scale
                    sink.add(cv2.resize((full * 255).astype(np.uint8), (full_w, full_h)), kp)
                    added = True
            if not added:
                sink.add(None, None)
            if progress is not None:
                progress(i + 1)
    finally:
        if own and hasattr(detector, "close"):
            detector.close()


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
    progress: Callable[[int], None] | None = None,
) -> TrackedView:
    """Decode and detect one view in one streamed pass; memory does not grow with frame size."""
    t0 = time.perf_counter()
    decode_s = 0.0
    sink = TrackSink(input_size, video.target_fps, (video.info.width, video.info.height))

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

    detect_frames(timed_frames(), video.scale, (video.info.width, video.info.height), sink, detector, progress)
    return TrackedView(sink.result(), round(decode_s, 3), round(time.perf_counter() - t0, 3))


def detect_processes() -> int:
    """How many views to detect at once: ``DETECT_PROCESSES`` (1 or 2) or, by default, 2 when the
    machine has at least two CPU cores."""
    value = os.environ.get("DETECT_PROCESSES")
    if value in ("1", "2"):
        return int(value)
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _save_tracked(path: Path, tracked: TrackedView) -> None:
    t = tracked.track
    np.save(path.with_suffix(".crops.npy"), t.crop_masks)
    np.savez(path, keypoints=t.keypoints, person_found=t.person_found, boxes=t.boxes, fps=t.fps,
             image_size=np.array(t.image_size), seconds=np.array([tracked.decode_s, tracked.wall_s]))


def _load_tracked(path: Path) -> TrackedView:
    crops = np.load(path.with_suffix(".crops.npy"))
    with np.load(path) as z:
        size = z["image_size"].tolist()
        track = ViewTrack(z["keypoints"], z["person_found"], z["boxes"], crops, float(z["fps"]),
                          (int(size[0]), int(size[1])))
        return TrackedView(track, float(z["seconds"][0]), float(z["seconds"][1]))


def _child_main(argv: list[str]) -> int:  # pragma: no cover - runs in a subprocess (tested through track_views)
    """``python -m worker.pipeline.detect VIDEO TARGET_FPS MAX_SIDE MAX_SECONDS INPUT_SIZE OUT.npz``:
    one view, streamed; prints ``P <frames done>`` lines, then ``D`` once the track is saved, or
    ``E <json code/message>`` with exit status 2 for an input problem."""
    path, fps, max_side, max_seconds, input_size, out = argv
    try:
        video = open_video(path, float(fps), int(max_side) if max_side != "none" else None, float(max_seconds))
        last = [0.0]

        def report(i: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 0.25 or i == video.n_frames:
                last[0] = now
                print(f"P {i}", flush=True)

        _save_tracked(Path(out), track_view(video, int(input_size), progress=report))
    except PipelineError as exc:
        print("E " + json.dumps({"code": exc.code, "message": exc.message}), flush=True)
        return 2
    print("D", flush=True)
    return 0


def track_views(
    videos: tuple[VideoStream, VideoStream], input_size: int, progress: Callable[[float], None] | None = None,
    processes: int | None = None,
) -> list[TrackedView]:
    """Decode + detect both views; with ``processes`` = 2 (default: :func:`detect_processes`) each view
    runs in its own Python subprocess (MediaPipe holds the GIL, so threads would not help; a
    subprocess, unlike ``multiprocessing``, also works inside Celery's daemonic pool processes).
    ``progress`` gets the fraction of frames done over both views; an exception it raises (a
    cancelled job) stops both children."""
    processes = detect_processes() if processes is None else processes
    total = sum(v.n_frames for v in videos)
    if processes < 2:
        results = []
        for j, v in enumerate(videos):
            done_before = sum(x.n_frames for x in videos[:j])
            results.append(track_view(v, input_size, progress=None if progress is None else
                                      (lambda i, d=done_before: progress((d + i) / total))))
        return results
    with tempfile.TemporaryDirectory(prefix="detect-") as tmp:
        outs = [Path(tmp) / f"view{j}.npz" for j in range(len(videos))]
        logs = [(Path(tmp) / f"view{j}.log").open("w") for j in range(len(videos))]
        children: list[subprocess.Popen] = []
        try:
            for v, out, log in zip(videos, outs, logs, strict=True):
                cmd = [sys.executable, "-m", "worker.pipeline.detect", str(v.path), repr(v.target_fps),
                       str(v.max_side) if v.max_side else "none", repr(v.max_seconds), str(input_size), str(out)]
                children.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1))
            _follow(children, [v.n_frames for v in videos], progress)
            return [_load_tracked(out) for out in outs]
        finally:
            for c in children:
                if c.poll() is None:
                    c.kill()
                c.wait()
                if c.stdout is not None:
                    c.stdout.close()
            for log in logs:
                log.close()


def _follow(children: list[subprocess.Popen], n_frames: list[int], progress: Callable[[float], None] | None) -> None:
    """Read the children's progress lines until both are done; raise their input errors as
    :class:`PipelineError` and a crash (no ``D`` line) as an internal error."""
    sel = selectors.DefaultSelector()
    for j, c in enumerate(children):
        assert c.stdout is not None
        sel.register(c.stdout, selectors.EVENT_READ, j)
    frames = [0] * len(children)
    finished: set[int] = set()
    try:
        while len(finished) < len(children):
            for key, _ in sel.select(timeout=1.0):
                j = key.data
                line = key.fileobj.readline()  # type: ignore[union-attr]
                if line.startswith("P "):
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


def make_detector() -> Callable:
    """YOLOv8-seg when ``KINEMATICS_YOLO_WEIGHTS`` names an existing file (and ultralytics is
    installed); otherwise the embedded MediaPipe detector. Nothing is ever downloaded."""
    weights = os.environ.get(YOLO_WEIGHTS_ENV)
    if weights:
        if not Path(weights).is_file():
            raise PipelineError("internal", f"{YOLO_WEIGHTS_ENV}={weights} does not exist")
        from worker.pipeline.yolo import YoloDetector

        return YoloDetector(Path(weights))
    return MediaPipeDetector()


if __name__ == "__main__":
    raise SystemExit(_child_main(sys.argv[1:]))
