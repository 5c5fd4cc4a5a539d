"""The detector's keypoint set by name: MediaPipe Pose's (BlazePose) 33 keypoints in its index order.

Torch-free and dependency-free, so every module that needs a keypoint's index — the API's light
checks, camera estimation, motion matching, the renderer — looks it up here by name instead of
typing numbers. Where each keypoint sits on the model is :mod:`model_store.keypoints.landmarks`
(same order, checked).
"""

from __future__ import annotations

#: MediaPipe Pose's keypoints, in its index order.
KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_INDEX = {name: i for i, name in enumerate(KEYPOINTS)}


def index(name: str) -> int:
    """The index of keypoint ``name`` (``"left_knee"`` → 25)."""
    try:
        return _INDEX[name]
    except KeyError:
        raise KeyError(f"no keypoint named {name!r}") from None


def pair(part: str) -> tuple[int, int]:
    """The (left, right) indices of a paired keypoint: ``pair("hip")`` → (23, 24)."""
    return index(f"left_{part}"), index(f"right_{part}")


def indices(*names: str) -> tuple[int, ...]:
    """The indices of several keypoints, in the order given."""
    return tuple(index(n) for n in names)


def mirror_permutation(names: tuple[str, ...] = KEYPOINTS) -> list[int]:
    """For each keypoint, the index of its mirror image (left ↔ right; midline keypoints map to themselves)."""
    def mirrored(n: str) -> str:
        if n.startswith("left_") or "_left" in n:
            return n.replace("left", "right")
        if n.startswith("right_") or "_right" in n:
            return n.replace("right", "left")
        return n

    return [names.index(mirrored(n)) for n in names]


__all__ = ["KEYPOINTS", "index", "indices", "mirror_permutation", "pair"]
