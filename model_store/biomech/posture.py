"""Heading-invariant posture angles of the pelvis and the trunk, differentiable (torch).

Why not the coordinates themselves: ``pelvis_tilt`` turns the pelvis about the *ground's* Z axis,
before list and rotation (OpenSim's body-fixed Z-X-Y order). For a person facing along +X that is the
pelvis's anterior/posterior tilt; for one facing along Z it is a sideways lean. Every clip has its own
heading, so the quantities a prior or an error report can speak of are the angles a segment makes
with the horizontal whatever way the person faces:

- **anatomical tilt** of a body: the elevation of its forward (+X) axis above the horizontal plane
  (ground Y up), ``asin(R[1, 0])`` for its rotation ``R`` in ground. For the pelvis with no list or
  rotation it equals ``pelvis_tilt``; positive is a posterior tilt (forward axis pointing up).
- the trunk's **lean** is the same angle of the torso (negative leaning forward).

Trunk lean is what keypoints see well (shoulders and head against hips); how it splits into pelvis
tilt and lumbar extension they barely see (both turn about nearly the same axis through the hips).

Rotations are built from the model definition's ``ground_pelvis`` and ``back`` joints (their axes,
coordinates and frame orientations), so nothing here re-types the model. Only rotations about axes
with a linear function of one coordinate are supported, as those two joints have.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

from model_store.biomech.definition import JointDef, ModelDefinition, load_definition
from model_store.biomech.rotations import axis_angle_matrix, body_fixed_xyz

PELVIS_JOINT = "ground_pelvis"
BACK_JOINT = "back"


@dataclass(frozen=True)
class _Chain:
    """One joint's rotation: parent frame orientation, then rotations about axes by coordinates, then
    the child frame's orientation undone."""

    parent: torch.Tensor  # [3, 3]
    child_t: torch.Tensor  # [3, 3] (transpose of the child frame's orientation)
    axes: tuple[torch.Tensor, ...]
    coords: tuple[int, ...]
    slopes: tuple[float, ...]
    intercepts: tuple[float, ...]

    @classmethod
    def of(cls, joint: JointDef, names: tuple[str, ...]) -> _Chain:
        axes, coords, slopes, intercepts = [], [], [], []
        for ax in joint.spatial_transform:
            if ax.kind != "rotation" or not ax.coordinates:
                continue
            fn = ax.function
            if fn is None or fn.type != "LinearFunction" or len(ax.coordinates) != 1:
                raise ValueError(f"joint {joint.name}: only linear one-coordinate rotations are supported")
            axes.append(torch.tensor(ax.axis, dtype=torch.float64))
            coords.append(names.index(ax.coordinates[0]))
            slopes.append(fn.slope)
            intercepts.append(fn.intercept)
        return cls(body_fixed_xyz(joint.parent_frame.orientation), body_fixed_xyz(joint.child_frame.orientation).T,
                   tuple(axes), tuple(coords), tuple(slopes), tuple(intercepts))

    def __call__(self, q: torch.Tensor) -> torch.Tensor:
        """Rotation of the child in the parent [..., 3, 3] for coordinates ``q`` [..., n] (rad)."""
        r = self.parent.to(dtype=q.dtype, device=q.device).expand(*q.shape[:-1], 3, 3)
        for axis, c, k, b in zip(self.axes, self.coords, self.slopes, self.intercepts, strict=True):
            r = r @ axis_angle_matrix(axis.to(dtype=q.dtype, device=q.device), k * q[..., c] + b)
        return r @ self.child_t.to(dtype=q.dtype, device=q.device)


class Posture:
    """Pelvis and torso orientation in ground, and their heading-invariant angles, for coordinates
    [..., 39] (rad / m, model order)."""

    def __init__(self, definition: ModelDefinition) -> None:
        names = definition.coordinate_names
        joints = {j.name: j for j in definition.joints}
        self.pelvis_chain = _Chain.of(joints[PELVIS_JOINT], names)
        self.back_chain = _Chain.of(joints[BACK_JOINT], names)
        #: the coordinates these angles depend on (model indices), for Jacobians
        self.coordinates = tuple(sorted({*self.pelvis_chain.coords, *self.back_chain.coords}))

    def pelvis(self, q: torch.Tensor) -> torch.Tensor:
        """The pelvis's rotation in ground [..., 3, 3]."""
        return self.pelvis_chain(q)

    def torso(self, q: torch.Tensor) -> torch.Tensor:
        """The torso's rotation in ground [..., 3, 3]."""
        return self.pelvis_chain(q) @ self.back_chain(q)

    def pelvis_tilt(self, q: torch.Tensor) -> torch.Tensor:
        """The pelvis's anatomical tilt [...] (rad; positive posterior), whatever the heading."""
        return elevation(self.pelvis(q))

    def trunk_lean(self, q: torch.Tensor) -> torch.Tensor:
        """The torso's anatomical tilt [...] (rad; negative leaning forward), whatever the heading."""
        return elevation(self.torso(q))


def elevation(rotation: torch.Tensor) -> torch.Tensor:
    """Angle (rad) of a body's forward (+X) axis above the ground's horizontal plane (Y up), for its
    rotation in ground [..., 3, 3]."""
    return torch.asin(rotation[..., 1, 0].clamp(-1.0, 1.0))


def rotation_log(rotation: torch.Tensor) -> torch.Tensor:
    """The rotation vector [..., 3] (axis × angle, rad) of rotation matrices [..., 3, 3]; smooth near
    the identity (where a prior's residual lives) and exact up to 180°."""
    m = rotation
    v = 0.5 * torch.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1)
    s = v.norm(dim=-1)
    c = 0.5 * (m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2] - 1.0)
    angle = torch.atan2(s, c)
    small = s < 1e-6
    factor = torch.where(small, 1.0 + s * s / 6.0, angle / torch.where(small, torch.ones_like(s), s))
    return v * factor[..., None]


@cache
def default_posture() -> Posture:
    """:class:`Posture` of the bundled model, built once per process."""
    return Posture(load_definition())


__all__ = ["Posture", "default_posture", "elevation", "rotation_log"]
