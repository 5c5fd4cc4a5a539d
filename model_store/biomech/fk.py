"""Batched, differentiable forward kinematics of an OpenSim model definition (torch).

Conventions (all OpenSim's):
- ``coords`` [B, C]: generalized coordinates in OpenSim order, radians for rotational and
  coupled coordinates, metres for translational ones. Coupled coordinates (e.g.
  ``knee_angle_r_beta``) are overwritten from their drivers, as OpenSim's constraint enforces.
- ``scales`` [B, N, 3]: per-body, per-axis scale factors (1 = generic model). As in OpenSim's
  ``Model::scale``: joint-frame offsets scale with the body they sit on, CustomJoint translation
  functions scale with the parent body's factor along their axis, marker/point locations scale
  with their body.
- Outputs are in the ground frame (Y up), metres; rotations map body → ground.
- CustomJoint rotations compose body-fixed in axis order (R = R1 R2 R3); its translation is
  expressed in the parent joint frame. PinJoint rotates about Z, UniversalJoint about X then Y.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model_store.biomech.definition import FunctionDef, JointDef, ModelDefinition
from model_store.biomech.rotations import axis_angle_matrix, body_fixed_xyz
from model_store.biomech.spline import (
    evaluate_spline,
    evaluate_spline_derivative,
    simm_spline_coefficients,
    spline_tensor,
)


@dataclass
class FKOutput:
    """Forward-kinematics result; all positions in metres, ground frame."""

    body_origins: torch.Tensor  # [B, N, 3]
    body_rotations: torch.Tensor  # [B, N, 3, 3] body → ground
    joint_centers: torch.Tensor  # [B, N, 3] child-side parent-joint frame origin of each body
    coords: torch.Tensor  # [B, C] coordinates actually used (couplers applied)
    frames: list[JointFrames] | None = None  # per joint, only with ``forward(..., with_frames=True)``

    def points_in_ground(
        self, body_index: torch.Tensor, local_points: torch.Tensor, scales: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Points given in the *unscaled* body frames → ground [B, P, 3] (m): the one body-point
        transform (landmarks, capsule ends, markers). ``body_index`` [P] (long), ``local_points``
        [P, 3] or [B, P, 3] (m); ``scales`` [B, N, 3], those this result was computed with, stretch
        the local points first."""
        rot = self.body_rotations[:, body_index]  # [B, P, 3, 3]
        org = self.body_origins[:, body_index]
        pts = local_points.to(org)
        if pts.ndim == 2:
            pts = pts.expand(org.shape[0], -1, -1)
        if scales is not None:
            pts = pts * scales[:, body_index].to(org)
        return org + (rot @ pts[..., None])[..., 0]


@dataclass
class JointFrames:
    """What point Jacobians need of one joint (ground frame, metres): ``r_gf`` [B, 3, 3] the parent-side
    joint frame's orientation, ``o_gm`` [B, 3] the child-side joint frame's origin (rotations turn about
    it), ``rotations`` (coordinate index, axis in ground [B, 3], d angle / d coordinate [B]) and
    ``translations`` (coordinate index, direction in ground [B, 3] incl. the parent's scale, d value /
    d coordinate [B]), and ``p_fm_axes`` [B, 3, 3] = Σ f(q) a aᵀ over translation axes (for scales)."""

    parent: int
    child: int
    r_gf: torch.Tensor
    o_gm: torch.Tensor
    rotations: list[tuple[int, torch.Tensor, torch.Tensor]]
    translations: list[tuple[int, torch.Tensor, torch.Tensor]]
    p_fm_axes: torch.Tensor


class _Function:
    """A Python-side evaluator of one OpenSim function of a single coordinate."""

    def __init__(self, fn: FunctionDef, coord_index: int | None) -> None:
        self.fn = fn
        self.index = coord_index
        self.spline = None
        base = fn.inner if fn.type == "MultiplierFunction" else fn
        assert base is not None
        self.base = base
        self.multiplier = fn.scale if fn.type == "MultiplierFunction" else 1.0
        if base.type == "SimmSpline":
            self.spline = spline_tensor(simm_spline_coefficients(base.x, base.y))
        if base.type not in ("Constant", "LinearFunction", "SimmSpline"):
            raise ValueError(f"unsupported function {base.type}")

    @property
    def is_constant(self) -> bool:
        return self.base.type == "Constant" or self.index is None

    def __call__(self, coords: torch.Tensor, spline: torch.Tensor | None) -> torch.Tensor:
        if self.is_constant:
            value = self.base.value if self.base.type == "Constant" else self.base.intercept
            return coords.new_full(coords.shape[:1], value * self.multiplier)
        q = coords[:, self.index]
        if self.base.type == "LinearFunction":
            return (self.base.slope * q + self.base.intercept) * self.multiplier
        assert spline is not None
        return evaluate_spline(spline, q) * self.multiplier

    def derivative(self, coords: torch.Tensor, spline: torch.Tensor | None) -> torch.Tensor:
        """d value / d coordinate, [B] (zero for constants)."""
        if self.is_constant:
            return coords.new_zeros(coords.shape[:1])
        q = coords[:, self.index]
        if self.base.type == "LinearFunction":
            return torch.full_like(q, self.base.slope * self.multiplier)
        assert spline is not None
        return evaluate_spline_derivative(spline, q) * self.multiplier


class ForwardKinematics(nn.Module):
    """Forward kinematics for a :class:`ModelDefinition`. Device/dtype follow the inputs."""

    coordinate_ranges: torch.Tensor  # [n_coordinates, 2] buffer (rad or m)
    default_coordinates: torch.Tensor  # [n_coordinates] buffer (rad or m)

    def __init__(self, definition: ModelDefinition) -> None:
        super().__init__()
        self.definition = definition
        self.body_names: tuple[str, ...] = definition.body_names
        self.coordinate_names: tuple[str, ...] = definition.coordinate_names
        cidx = {n: i for i, n in enumerate(self.coordinate_names)}
        bidx = {n: i for i, n in enumerate(self.body_names)}
        self.register_buffer(
            "coordinate_ranges",
            torch.tensor([c.range for c in definition.coordinates], dtype=torch.float64),
            persistent=False,
        )
        self.register_buffer(
            "default_coordinates",
            torch.tensor([c.default for c in definition.coordinates], dtype=torch.float64),
            persistent=False,
        )
        self._couplers = [
            (cidx[c.dependent], _Function(c.function, cidx[c.independent[0]])) for c in definition.couplers
        ]
        self._joints: list[dict] = []
        splines: list[torch.Tensor] = []
        for j in definition.joints:
            self._joints.append(self._compile_joint(j, cidx, bidx, splines))
        for k, s in enumerate(splines):
            self.register_buffer(f"_spline{k}", s, persistent=False)
        self._n_splines = len(splines)
        n = len(self.body_names)
        order = [bidx[j.child] for j in definition.joints]
        self._joint_of_body = [order.index(b) for b in range(n)]

    def _compile_joint(self, j: JointDef, cidx: dict, bidx: dict, splines: list) -> dict:
        def fn(f: FunctionDef | None, names: tuple[str, ...]) -> tuple[_Function, int | None] | None:
            if f is None:
                return None
            ev = _Function(f, cidx[names[0]] if names else None)
            slot = None
            if ev.spline is not None and not ev.is_constant:
                slot = len(splines)
                splines.append(ev.spline)
            return ev, slot

        rot: list[tuple[torch.Tensor, tuple[_Function, int | None]]] = []
        trans: list[tuple[torch.Tensor, tuple[_Function, int | None]]] = []
        if j.type == "CustomJoint":
            for ax in j.spatial_transform:
                entry = (torch.tensor(ax.axis, dtype=torch.float64), fn(ax.function, ax.coordinates))
                if entry[1] is None:
                    continue
                axis = entry[0] / entry[0].norm()
                (rot if ax.kind == "rotation" else trans).append((axis, entry[1]))
        elif j.type in ("PinJoint", "UniversalJoint"):
            unit = torch.eye(3, dtype=torch.float64)
            axes = [unit[2]] if j.type == "PinJoint" else [unit[0], unit[1]]
            for axis, name in zip(axes, j.coordinates, strict=True):
                rot.append((axis, (_Function(FunctionDef("LinearFunction"), cidx[name]), None)))
        elif j.type != "WeldJoint":
            raise ValueError(f"unsupported joint type {j.type}")
        return {
            "name": j.name,
            "parent": bidx.get(j.parent, -1),
            "child": bidx[j.child],
            "R_pf": body_fixed_xyz(j.parent_frame.orientation),
            "p_pf": torch.tensor(j.parent_frame.translation, dtype=torch.float64),
            "R_cm": body_fixed_xyz(j.child_frame.orientation),
            "p_cm": torch.tensor(j.child_frame.translation, dtype=torch.float64),
            "rot": rot,
            "trans": trans,
        }

    def apply_couplers(self, coords: torch.Tensor) -> torch.Tensor:
        """Return a copy of ``coords`` with coupled coordinates set from their drivers."""
        if not self._couplers:
            return coords
        coords = coords.clone()
        for dep, f in self._couplers:
            coords[:, dep] = f(coords, None)
        return coords

    def forward(self, coords: torch.Tensor, scales: torch.Tensor | None = None, with_frames: bool = False) -> FKOutput:
        """Run FK. ``coords`` [B, C] (rad / m), ``scales`` [B, N, 3] or None (= ones).

        ``with_frames`` also records each joint's frames and axes (:class:`JointFrames`), which
        :mod:`model_store.biomech.jacobian` turns into exact point Jacobians.
        """
        if coords.ndim != 2 or coords.shape[1] != len(self.coordinate_names):
            raise ValueError(f"coords must be [B, {len(self.coordinate_names)}], got {tuple(coords.shape)}")
        b, n = coords.shape[0], len(self.body_names)
        dt, dev = coords.dtype, coords.device
        if scales is None:
            scales = coords.new_ones(b, n, 3)
        if scales.shape != (b, n, 3):
            raise ValueError(f"scales must be [{b}, {n}, 3], got {tuple(scales.shape)}")
        scales = scales.to(dev, dt)
        coords = self.apply_couplers(coords)
        splines = [getattr(self, f"_spline{k}").to(dev, dt) for k in range(self._n_splines)]
        rots: list[torch.Tensor | None] = [None] * n
        origins: list[torch.Tensor | None] = [None] * n
        centers: list[torch.Tensor | None] = [None] * n
        frames: list[JointFrames] = []
        for jt in self._joints:
            p, c = jt["parent"], jt["child"]
            s_parent = scales[:, p] if p >= 0 else coords.new_ones(b, 3)
            r_pf = jt["R_pf"].to(dev, dt)
            p_pf = jt["p_pf"].to(dev, dt) * s_parent  # [B, 3] in parent body frame
            if p >= 0:
                r_gp, o_gp = rots[p], origins[p]
                assert r_gp is not None and o_gp is not None
                r_gf = r_gp @ r_pf
                o_gf = o_gp + (r_gp @ p_pf[..., None])[..., 0]
            else:
                r_gf = r_pf.expand(b, 3, 3)
                o_gf = p_pf
            r_fm = torch.eye(3, dtype=dt, device=dev).expand(b, 3, 3)
            rot_terms: list[tuple[int, torch.Tensor, torch.Tensor]] = []
            for axis, (f, slot) in jt["rot"]:
                spline = splines[slot] if slot is not None else None
                angle = f(coords, spline)
                if with_frames and not f.is_constant:
                    omega = (r_gf @ r_fm @ axis.to(dev, dt)[:, None])[..., 0]
                    rot_terms.append((f.index, omega, f.derivative(coords, spline)))
                r_fm = r_fm @ axis_angle_matrix(axis.to(dev, dt), angle)
            p_fm = coords.new_zeros(b, 3)
            trans_terms: list[tuple[int, torch.Tensor, torch.Tensor]] = []
            p_fm_axes = coords.new_zeros(b, 3, 3)
            for axis, (f, slot) in jt["trans"]:
                a = axis.to(dev, dt)
                spline = splines[slot] if slot is not None else None
                fv = f(coords, spline)
                value = fv * (s_parent @ a)
                p_fm = p_fm + value[:, None] * a
                if with_frames:
                    p_fm_axes = p_fm_axes + fv[:, None, None] * torch.outer(a, a)
                    if not f.is_constant:
                        direction = (r_gf @ a[:, None])[..., 0] * (s_parent @ a)[:, None]
                        trans_terms.append((f.index, direction, f.derivative(coords, spline)))
            r_gm = r_gf @ r_fm
            o_gm = o_gf + (r_gf @ p_fm[..., None])[..., 0]
            r_gb = r_gm @ jt["R_cm"].to(dev, dt).T
            p_cm = jt["p_cm"].to(dev, dt) * scales[:, c]
            rots[c] = r_gb
            origins[c] = o_gm - (r_gb @ p_cm[..., None])[..., 0]
            centers[c] = o_gm
            if with_frames:
                frames.append(JointFrames(p, c, r_gf, o_gm, rot_terms, trans_terms, p_fm_axes))
        return FKOutput(
            body_origins=torch.stack(origins, 1),  # type: ignore[arg-type]
            body_rotations=torch.stack(rots, 1),  # type: ignore[arg-type]
            joint_centers=torch.stack(centers, 1),  # type: ignore[arg-type]
            coords=coords,
            frames=frames if with_frames else None,
        )
