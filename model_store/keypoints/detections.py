"""Per-view person detections: the format the detection stage produces and the synthetic clip
writer emits (so the pipeline can run on exact detections).

A view's detections are one compressed ``.npz`` with ``masks`` uint8 [T, H, W] (soft full-frame
person mask, 0–255), ``keypoints`` float32 [T, 33, 3] (x, y in full-frame px, visibility 0–1;
MediaPipe Pose landmark order), ``person_found`` bool [T], ``fps`` and ``image_size`` (w, h). A
clip stores them as ``detections/front.npz`` and ``detections/side.npz``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.sizes import N_LANDMARKS


class DetectionsError(ValueError):
    """A detections file that is missing or malformed (names the file and the problem)."""


def _check_frames(t: int, keypoints: np.ndarray, person_found: np.ndarray, fps: float) -> None:
    """The per-frame arrays every view record holds: keypoints [T, 33, 3], person_found [T], fps > 0."""
    if keypoints.shape != (t, N_LANDMARKS, 3):
        raise DetectionsError(f"keypoints must be [{t}, {N_LANDMARKS}, 3], got {keypoints.shape}")
    if person_found.shape != (t,):
        raise DetectionsError(f"person_found must be [{t}], got {person_found.shape}")
    if not fps > 0:
        raise DetectionsError(f"fps must be positive, got {fps}")


@dataclass
class ViewDetections:
    masks: np.ndarray
    keypoints: np.ndarray
    person_found: np.ndarray
    fps: float
    image_size: tuple[int, int]  # (width, height) px

    def __post_init__(self) -> None:
        t = self.masks.shape[0] if self.masks.ndim == 3 else -1
        w, h = self.image_size
        if self.masks.ndim != 3 or self.masks.shape[1:] != (h, w) or self.masks.dtype != np.uint8:
            raise DetectionsError(f"masks must be uint8 [T, {h}, {w}], got {self.masks.dtype} {self.masks.shape}")
        _check_frames(t, self.keypoints, self.person_found, self.fps)

    @property
    def n_frames(self) -> int:
        return int(self.masks.shape[0])

    def take(self, index: np.ndarray | slice) -> ViewDetections:
        """The frames at ``index`` (a slice, or indices for resampling), same fps and image size."""
        return ViewDetections(self.masks[index], self.keypoints[index], self.person_found[index], self.fps,
                              self.image_size)


@dataclass
class ViewTrack:
    """One view's subject as the pipeline keeps it after detection: everything later stages read,
    and nothing of frame size, so memory grows by ~16 KB per frame (at a 64 px network input)
    instead of a full-frame mask.

    ``boxes`` [T, 3] float64 are the crop boxes ``(x0, y0, scale)`` of :func:`model_store.keypoints.crops.crop_box`
    around the full-frame mask (NaN where the mask is empty); ``crop_masks`` [T, S, S] float32 in
    [0, 1] are those crops resampled to the network's input size ``S`` (0 where no box).
    ``keypoints``, ``person_found``, ``fps`` and ``image_size`` are as in :class:`ViewDetections`.
    """

    keypoints: np.ndarray
    person_found: np.ndarray
    boxes: np.ndarray
    crop_masks: np.ndarray
    fps: float
    image_size: tuple[int, int]  # (width, height) px

    def __post_init__(self) -> None:
        t = self.keypoints.shape[0]
        _check_frames(t, self.keypoints, self.person_found, self.fps)
        if self.boxes.shape != (t, 3):
            raise DetectionsError(f"boxes must be [{t}, 3], got {self.boxes.shape}")
        if self.crop_masks.ndim != 3 or self.crop_masks.shape[0] != t or self.crop_masks.dtype != np.float32:
            raise DetectionsError(f"crop_masks must be float32 [{t}, S, S], got {self.crop_masks.dtype} "
                                  f"{self.crop_masks.shape}")

    @property
    def n_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def has_crop(self) -> np.ndarray:
        """bool [T]: the person was found and the mask gave a crop box."""
        return self.person_found & np.isfinite(self.boxes).all(1)

    def take(self, index: np.ndarray | slice) -> ViewTrack:
        """The frames at ``index`` (a slice, or indices for resampling), same fps and image size."""
        return ViewTrack(self.keypoints[index], self.person_found[index], self.boxes[index], self.crop_masks[index],
                         self.fps, self.image_size)


def save_view_detections(path: str | Path, det: ViewDetections) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, masks=det.masks, keypoints=det.keypoints.astype(np.float32), person_found=det.person_found.astype(bool),
        fps=np.float64(det.fps), image_size=np.array(det.image_size, np.int32),
    )
    return path


def load_view_detections(path: str | Path) -> ViewDetections:
    path = Path(path)
    if not path.is_file():
        raise DetectionsError(f"detections file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"masks", "keypoints", "person_found", "fps", "image_size"} - set(z.files)
            if missing:
                raise DetectionsError(f"{path}: missing arrays {', '.join(sorted(missing))}")
            size = z["image_size"].tolist()
            return ViewDetections(
                masks=z["masks"], keypoints=z["keypoints"].astype(np.float32),
                person_found=z["person_found"].astype(bool), fps=float(z["fps"]),
                image_size=(int(size[0]), int(size[1])),
            )
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DetectionsError):
            raise
        raise DetectionsError(f"{path}: not a readable detections file ({exc})") from exc


def load_clip_detections(directory: str | Path) -> tuple[ViewDetections, ViewDetections]:
    """``DIR/front.npz`` and ``DIR/side.npz``."""
    d = Path(directory)
    return load_view_detections(d / "front.npz"), load_view_detections(d / "side.npz")


#: What the stages after detection read (keypoints, person_found, fps, image_size, n_frames, take).
PersonTrack = ViewDetections | ViewTrack
