"""The 33 MediaPipe Pose landmarks, each defined as a point on a model body (data, not code).

Definitions live in ``model_store/data/landmarks.json`` (unscaled body frames, metres). The order
is MediaPipe's landmark index order, shared by the detector, the renderer and the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import torch

from model_store.biomech import FKOutput, ForwardKinematics, load_definition
from model_store.keypoints.skeleton import KEYPOINTS


@dataclass(frozen=True)
class LandmarkSet:
    names: tuple[str, ...]
    bodies: tuple[str, ...]
    body_index: torch.Tensor  # [33] long, model body order
    local_points: torch.Tensor  # [33, 3] float64, unscaled body frames (m)
    fit_weights: torch.Tensor  # [33] float64, relative weight of each keypoint in the per-clip fit

    def index(self, name: str) -> int:
        return self.names.index(name)

    def positions(self, out: FKOutput, scales: torch.Tensor | None = None) -> torch.Tensor:
        """Landmarks in ground [B, 33, 3] (m) from an FK result computed with ``scales`` [B, 22, 3]."""
        return out.points_in_ground(self.body_index, self.local_points, scales)


@cache
def load_landmarks() -> LandmarkSet:
    doc = json.loads((resources.files("model_store") / "data" / "landmarks.json").read_text())
    names = load_definition().body_names
    lm = doc["landmarks"]
    if tuple(x["name"] for x in lm) != KEYPOINTS:
        raise ValueError("landmarks.json does not list the detector's keypoints in their index order")
    return LandmarkSet(
        names=tuple(x["name"] for x in lm),
        bodies=tuple(x["body"] for x in lm),
        body_index=torch.tensor([names.index(x["body"]) for x in lm]),
        local_points=torch.tensor([x["location"] for x in lm], dtype=torch.float64),
        fit_weights=torch.tensor([x.get("fit_weight", 1.0) for x in lm], dtype=torch.float64),
    )


#: Head top above the nose landmark (m, unscaled; scales with the torso's y factor).
HEAD_ABOVE_NOSE_M = 0.10


def standing_height_m(fk: ForwardKinematics, scales: torch.Tensor) -> torch.Tensor:
    """Standing height (m) of the model in its default pose, heel to head top, for scales [B, 22, 3] → [B].

    Differentiable in ``scales``; the head top is :data:`HEAD_ABOVE_NOSE_M` above the nose landmark.
    """
    lm = load_landmarks()
    q = fk.default_coordinates.to(scales)[None].expand(scales.shape[0], -1)
    pts = lm.positions(fk(q, scales), scales)
    torso_y = scales[:, fk.body_names.index("torso"), 1]
    heels = pts[:, [lm.index("left_heel"), lm.index("right_heel")], 1].min(1).values
    return pts[:, lm.index("nose"), 1] + HEAD_ABOVE_NOSE_M * torso_y - heels
