"""A body surface of capsules attached to the model's segments.

Each capsule joins two points given in *unscaled* body frames (possibly on different bodies, e.g.
hip centre on the femur to knee centre on the tibia), so it follows the FK and the segment
scales. Radii (m) scale with the mean transverse (x, z) scale of the first body, a per-subject
girth factor, and an optional clothing inflation for the trunk and thighs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from model_store.biomech import FKOutput, load_definition

# (name, body_a, point_a, body_b, point_b, radius_m, clothed); right side, left mirrored (z → −z)
_CENTRAL = [
    ("hips", "pelvis", (-0.06, -0.06, 0.08), "pelvis", (-0.06, -0.06, -0.08), 0.10, True),
    ("lower_trunk", "pelvis", (-0.07, 0.0, 0.0), "torso", (0.0, 0.05, 0.0), 0.115, True),
    ("abdomen", "torso", (0.0, 0.05, 0.0), "torso", (0.0, 0.30, 0.0), 0.12, True),
    ("chest", "torso", (0.0, 0.29, 0.085), "torso", (0.0, 0.29, -0.085), 0.105, True),
    ("shoulder_girdle", "torso", (0.0, 0.37, 0.14), "torso", (0.0, 0.37, -0.14), 0.055, True),
    ("neck", "torso", (0.0, 0.40, 0.0), "torso", (0.015, 0.50, 0.0), 0.05, False),
    ("head", "torso", (0.025, 0.585, 0.0), "torso", (0.025, 0.625, 0.0), 0.092, False),
]
_SIDED = [
    ("thigh", "femur", (0.0, 0.0, 0.0), "femur", (-0.008, -0.40, -0.003), 0.072, True),
    ("shank", "tibia", (0.0, 0.0, 0.0), "tibia", (-0.01, -0.39, 0.0), 0.047, False),
    ("foot", "calcn", (0.01, 0.025, 0.0), "toes", (0.045, 0.0, -0.005), 0.033, False),
    ("upper_arm", "humerus", (0.0, 0.0, 0.0), "humerus", (0.013, -0.28, -0.01), 0.045, False),
    ("forearm", "ulna", (0.0, 0.0, 0.0), "radius", (-0.009, -0.23, 0.014), 0.035, False),
    ("hand", "hand", (0.0, 0.0, 0.0), "hand", (0.0, -0.075, 0.0), 0.03, False),
]


@dataclass(frozen=True)
class CapsuleSet:
    names: tuple[str, ...]
    body_a: torch.Tensor  # [C] long
    point_a: torch.Tensor  # [C, 3] unscaled body frame (m)
    body_b: torch.Tensor
    point_b: torch.Tensor
    radius: torch.Tensor  # [C] m, generic subject
    clothed: torch.Tensor  # [C] bool

    def endpoints(self, out: FKOutput, scales: torch.Tensor) -> torch.Tensor:
        """Capsule end points in ground [B, C, 2, 3] (m) for an FK result computed with ``scales``."""
        pa = self._points(out, scales, self.body_a, self.point_a)
        pb = self._points(out, scales, self.body_b, self.point_b)
        return torch.stack([pa, pb], 2)

    @staticmethod
    def _points(out: FKOutput, scales: torch.Tensor, idx: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        return out.points_in_ground(idx, local, scales)

    def radii(self, scales: np.ndarray, girth: float, clothing: float) -> np.ndarray:
        """Per-subject radii [C] (m): ``scales`` [22, 3] of the subject, girth and clothing factors."""
        transverse = scales[self.body_a.numpy()][:, [0, 2]].mean(1)
        r = self.radius.numpy() * transverse * girth
        return np.where(self.clothed.numpy(), r * clothing, r)


def build_capsules() -> CapsuleSet:
    names = load_definition().body_names
    rows = list(_CENTRAL)
    for side, sign in (("r", 1.0), ("l", -1.0)):
        for name, ba, pa, bb, pb, r, c in _SIDED:
            rows.append((f"{name}_{side}", f"{ba}_{side}", (pa[0], pa[1], sign * pa[2]),
                         f"{bb}_{side}", (pb[0], pb[1], sign * pb[2]), r, c))
    return CapsuleSet(
        names=tuple(r[0] for r in rows),
        body_a=torch.tensor([names.index(r[1]) for r in rows]),
        point_a=torch.tensor([r[2] for r in rows], dtype=torch.float64),
        body_b=torch.tensor([names.index(r[3]) for r in rows]),
        point_b=torch.tensor([r[4] for r in rows], dtype=torch.float64),
        radius=torch.tensor([r[5] for r in rows], dtype=torch.float64),
        clothed=torch.tensor([r[6] for r in rows]),
    )
