"""Detect the subject frame by frame and keep what the later stages read: tracking and its sinks.

Default detector: MediaPipe 0.10.21 Pose with segmentation (models inside the wheel, offline);
Ultralytics YOLOv8-seg instead when a weights file is configured (optional extra). On the first frame
the detector's own pick is the subject unless a *seed* box says who it is
(:mod:`worker.pipeline.people.subject`); afterwards the subject is *tracked* by running the detector
on a region around the previous box, so a bystander elsewhere in the frame is never picked up. Frames
without the subject are marked ``person_found = False``. All pixel coordinates are full-resolution
frame pixels.

Frames arrive one at a time (:class:`~worker.pipeline.stages.decode.VideoStream`) and each result goes
to a *sink*: :class:`TrackSink` keeps what the later stages read (keypoints, crop box, the mask crop at
the network's input size: memory independent of frame size), :class:`DetectionsSink` keeps full-frame
masks (the detections file format, for tools).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from model_store.keypoints.crops import network_crop
from model_store.keypoints.detections import N_LANDMARKS, ViewDetections, ViewTrack
from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError
from worker.pipeline.detectors.mediapipe_pose import MediaPipeDetector
from worker.pipeline.people.subject import everyone
from worker.pipeline.stages.decode import DecodedVideo, VideoStream
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


def box_of_mask(mask: np.ndarray, thresh: float = 0.5) -> np.ndarray | None:
    """The box (x0, y0, x1, y1, px) of a mask's pixels above ``thresh``; None for fewer than 20 pixels."""
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
    (:mod:`worker.pipeline.people.subject`) and turns on the guard against swapping: a detection whose
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
                box = box_of_mask(full)
                if guard and box is not None and prev is not None and _near(box, prev, lost) > 0.5:
                    res = None  # someone else stepped into the subject's region
            if res is None and prev is not None:  # lost: look at the whole frame again
                x0, y0, x1, y1 = 0, 0, w, h
                if guard:
                    res, full, box = _reacquire(image, detector, prev, lost)
                else:
                    res = detector(image)
                    full, box = (res[0], box_of_mask(res[0])) if res is not None else (None, None)
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
    for mask, kp, box in everyone(image, detector, box_of_mask):
        d = _near(box, anchor, lost)
        if d <= 1.0 and (best is None or d < best[0]):
            best = (d, mask, kp, box)
    if best is None:
        return None, None, None
    return (best[1], best[2]), best[1], best[3]


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


def make_detector() -> Callable:
    """YOLOv8-seg when ``KINEMATICS_YOLO_WEIGHTS`` names an existing file (and ultralytics is
    installed); otherwise the embedded MediaPipe detector. Nothing is ever downloaded."""
    weights = get_settings().kinematics_yolo_weights
    if weights is not None:
        if not weights.is_file():
            raise PipelineError(ErrorCode.INTERNAL, f"KINEMATICS_YOLO_WEIGHTS={weights} does not exist")
        from worker.pipeline.detectors.yolo import YoloDetector

        return YoloDetector(weights)
    return MediaPipeDetector()
