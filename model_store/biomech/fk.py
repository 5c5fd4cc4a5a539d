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
from model_store.biomech.functions import CoordinateFunction
from model_store.biomech.rotations import body_fixed_xyz
from model_store.biomech.spline import evaluate_spline


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


@dataclass
class _Tables:
    """The model's constants laid out for evaluating all joints at once (one dtype and device).

    Axis functions are numbered in joint order, each joint's rotation axes then its translation
    axes ("columns", A in all, plus one padding column whose value is 0); ``trans_slots`` [J, 3] gives
    each joint's translation axes in order, padded with the padding axis (zero translation);
    ``ForwardKinematics._rot_axes_of`` lists each joint's rotation axes (rows of ``rot_*``)."""

    lin_index: torch.Tensor  # [L] long: coordinate of each linear function
    lin_slope: torch.Tensor  # [L]
    lin_intercept: torch.Tensor  # [L]
    lin_multiplier: torch.Tensor  # [L]
    const_value: torch.Tensor  # [1, K]: constant functions' values (the padding column last)
    value_order: torch.Tensor  # [A + 1] long: (linear, constant, spline) order → column order
    rot_columns: torch.Tensor  # [R] long: column of each rotation axis
    rot_axes: torch.Tensor  # [R, 3] unit axes
    skew: torch.Tensor  # [R, 3, 3] cross-product matrix of each axis
    skew2: torch.Tensor  # [R, 3, 3] skew @ skew
    trans_columns: torch.Tensor  # [T + 1] long
    trans_axes: torch.Tensor  # [T + 1, 3] unit axes (padding: 0)
    trans_slots: torch.Tensor  # [J, 3] long
    parent_rows: torch.Tensor  # [J] long: parent body, N (a row of ones) for ground
    child_index: torch.Tensor  # [J] long
    r_pf: torch.Tensor  # [J, 3, 3] parent-side joint frame in the parent body
    p_pf: torch.Tensor  # [J, 3] (unscaled, m)
    r_cm_t: torch.Tensor  # [J, 3, 3] transpose of the child-side frame's orientation in the child
    p_cm: torch.Tensor  # [J, 3] (unscaled, m)
    eye: torch.Tensor  # [3, 3]

    def to(self, dtype: torch.dtype, device: torch.device) -> _Tables:
        """A copy in ``dtype`` (floating fields) on ``device``; ``skew2`` recomputed in ``dtype``."""
        out = _Tables(**{k: v.to(device) if not v.is_floating_point() else v.to(device, dtype)
                         for k, v in vars(self).items()})
        out.skew2 = out.skew @ out.skew
        return out


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
            (cidx[c.dependent], CoordinateFunction(c.function, cidx[c.independent[0]])) for c in definition.couplers
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
        self._tables64, self._spline_axes, self._rot_axes_of = self._build_tables()
        self._tables: dict[tuple[torch.dtype, torch.device], _Tables] = {}

    def _build_tables(self) -> tuple[_Tables, list[tuple[int, int, float]], list[list[int]]]:
        """The float64 :class:`_Tables`, the spline axis functions (coordinate, spline slot,
        multiplier) in the order their values follow the linear and constant ones, and each joint's
        rotation axes (rows of the tables' ``rot_*``) in order."""
        lin: list[tuple[int, float, float, float, int]] = []  # index, slope, intercept, multiplier, column
        const: list[tuple[float, int]] = []
        spl: list[tuple[int, int, float, int]] = []
        rot_cols: list[int] = []
        rot_axes: list[torch.Tensor] = []
        trans_cols: list[int] = []
        trans_axes: list[torch.Tensor] = []
        n_j = len(self._joints)
        rot_slots: list[list[int]] = [[] for _ in range(n_j)]
        trans_slots = [[-1] * 3 for _ in range(n_j)]
        column = 0
        for j, jt in enumerate(self._joints):
            for kind, cols, axes, slots in (("rot", rot_cols, rot_axes, rot_slots),
                                           ("trans", trans_cols, trans_axes, trans_slots)):
                if len(jt[kind]) > 3:
                    raise ValueError(f"joint {jt['name']}: more than 3 {kind} axes")
                for k, (axis, (f, slot)) in enumerate(jt[kind]):
                    if f.is_constant:
                        const.append((f.constant_value, column))
                    elif f.base.type == "LinearFunction":
                        lin.append((f.index, f.base.slope, f.base.intercept, f.multiplier, column))
                    else:
                        spl.append((f.index, slot, f.multiplier, column))
                    if kind == "rot":
                        slots[j].append(len(cols))
                    else:
                        slots[j][k] = len(cols)
                    cols.append(column)
                    axes.append(axis)
                    column += 1
        pad = column  # the padding column: a constant 0
        const.append((0.0, pad))
        order = [c for *_, c in lin] + [c for _, c in const] + [c for *_, c in spl]
        value_order = torch.tensor(order).argsort()
        trans_cols.append(pad)
        zero = torch.zeros(3, dtype=torch.float64)
        r_axes = torch.stack(rot_axes)
        kx, ky, kz = r_axes.unbind(-1)
        skew = torch.stack([torch.stack([torch.zeros_like(kx), -kz, ky], -1),
                            torch.stack([kz, torch.zeros_like(kx), -kx], -1),
                            torch.stack([-ky, kx, torch.zeros_like(kx)], -1)], -2)
        n_t = len(trans_axes)
        f64 = torch.float64
        tables = _Tables(
            lin_index=torch.tensor([i for i, *_ in lin], dtype=torch.long),
            lin_slope=torch.tensor([x[1] for x in lin], dtype=f64),
            lin_intercept=torch.tensor([x[2] for x in lin], dtype=f64),
            lin_multiplier=torch.tensor([x[3] for x in lin], dtype=f64),
            const_value=torch.tensor([[v for v, _ in const]], dtype=f64),
            value_order=value_order,
            rot_columns=torch.tensor(rot_cols),
            rot_axes=r_axes,
            skew=skew,
            skew2=skew @ skew,
            trans_columns=torch.tensor(trans_cols),
            trans_axes=torch.stack([*trans_axes, zero]),
            trans_slots=torch.tensor([[n_t if k < 0 else k for k in row] for row in trans_slots]),
            parent_rows=torch.tensor([jt["parent"] if jt["parent"] >= 0 else len(self.body_names)
                                      for jt in self._joints]),
            child_index=torch.tensor([jt["child"] for jt in self._joints]),
            r_pf=torch.stack([jt["R_pf"] for jt in self._joints]),
            p_pf=torch.stack([jt["p_pf"] for jt in self._joints]),
            r_cm_t=torch.stack([jt["R_cm"].T for jt in self._joints]),
            p_cm=torch.stack([jt["p_cm"] for jt in self._joints]),
            eye=torch.eye(3, dtype=f64),
        )
        return tables, [(i, slot, m) for i, slot, m, _ in spl], rot_slots

    def _compile_joint(self, j: JointDef, cidx: dict, bidx: dict, splines: list) -> dict:
        def fn(f: FunctionDef | None, names: tuple[str, ...]) -> tuple[CoordinateFunction, int | None] | None:
            if f is None:
                return None
            ev = CoordinateFunction(f, cidx[names[0]] if names else None)
            slot = None
            if ev.spline is not None and not ev.is_constant:
                slot = len(splines)
                splines.append(ev.spline)
            return ev, slot

        rot: list[tuple[torch.Tensor, tuple[CoordinateFunction, int | None]]] = []
        trans: list[tuple[torch.Tensor, tuple[CoordinateFunction, int | None]]] = []
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
                rot.append((axis, (CoordinateFunction(FunctionDef("LinearFunction"), cidx[name]), None)))
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

    def _tables_for(self, dtype: torch.dtype, device: torch.device) -> _Tables:
        """The joint constants and axis tables in ``dtype`` on ``device`` (made once per pair)."""
        key = (dtype, device)
        if key not in self._tables:
            self._tables[key] = self._tables64.to(dtype, device)
        return self._tables[key]

    def _axis_values(self, coords: torch.Tensor, tables: _Tables, splines: list[torch.Tensor]) -> torch.Tensor:
        """f(q) of every axis function, [B, A + 1] (rad or m), in :class:`_Tables` order; the last
        column, the padding axis, is 0."""
        lin = coords.index_select(1, tables.lin_index)
        parts = [(tables.lin_slope * lin + tables.lin_intercept) * tables.lin_multiplier,
                 tables.const_value.expand(coords.shape[0], -1)]
        parts += [evaluate_spline(splines[slot], coords[:, index])[:, None] * mult
                  for index, slot, mult in self._spline_axes]
        return torch.cat(parts, 1).index_select(1, tables.value_order)

    def forward(self, coords: torch.Tensor, scales: torch.Tensor | None = None, with_frames: bool = False) -> FKOutput:
        """Run FK. ``coords`` [B, C] (rad / m), ``scales`` [B, N, 3] or None (= ones).

        ``with_frames`` also records each joint's frames and axes (:class:`JointFrames`), which
        :mod:`model_store.biomech.jacobian` turns into exact point Jacobians.

        Every axis function and rotation is evaluated for all joints at once; only the walk down
        the tree (parent before child) is a loop. (Gathers use ``index_select``: its backward, an
        ``index_add``, is much faster on the CPU than that of advanced indexing.)
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
        tb = self._tables_for(dt, dev)
        splines = [getattr(self, f"_spline{k}").to(dev, dt) for k in range(self._n_splines)]
        values = self._axis_values(coords, tb, splines)  # [B, A + 1]
        # the rotation about every rotation axis (Rodrigues), [R, B, 3, 3] so that each is contiguous
        angle = values.index_select(1, tb.rot_columns).T[..., None, None]  # [R, B, 1, 1]
        r_axis = tb.eye + torch.sin(angle) * tb.skew[:, None] + (1.0 - torch.cos(angle)) * tb.skew2[:, None]
        # translations: Σ f(q) (s_parent · a) a over each joint's translation axes (padded with 0)
        scales_ext = torch.cat([scales, coords.new_ones(b, 1, 3)], 1)  # parent -1 → the last row, ones
        s_parent = scales_ext.index_select(1, tb.parent_rows)  # [B, J, 3]
        t_axes = tb.trans_axes[tb.trans_slots]  # [J, 3, 3]: slot, xyz
        t_value = values.index_select(1, tb.trans_columns[tb.trans_slots].reshape(-1)).view(b, -1, 3)  # [B, J, 3]
        # (explicit sums of three: torch's reductions over a short inner dimension are slow)
        sa = s_parent[:, :, None, :] * t_axes
        t_scale = sa[..., 0] + sa[..., 1] + sa[..., 2]  # [B, J, 3] = s_parent · a per slot
        step = (t_value * t_scale)[..., None] * t_axes  # [B, J, 3 slots, 3]
        p_fm = step[:, :, 0] + step[:, :, 1] + step[:, :, 2]  # [B, J, 3]
        p_pf = tb.p_pf * s_parent  # [B, J, 3] in the parent body frame
        p_cm = tb.p_cm * scales.index_select(1, tb.child_index)  # [B, J, 3] in the child body frame
        # per joint / axis views by unbind: its backward stacks the gradients once, where each
        # indexing's backward would fill a zero tensor of the whole size
        r_of_axis, p_pf_of, p_fm_of, p_cm_of = r_axis.unbind(0), p_pf.unbind(1), p_fm.unbind(1), p_cm.unbind(1)
        rots: list[torch.Tensor | None] = [None] * n
        origins: list[torch.Tensor | None] = [None] * n
        centers: list[torch.Tensor | None] = [None] * n
        frames: list[JointFrames] = []
        for j, jt in enumerate(self._joints):
            p, ch = jt["parent"], jt["child"]
            if p >= 0:
                r_gp, o_gp = rots[p], origins[p]
                assert r_gp is not None and o_gp is not None
                r_gf = r_gp @ tb.r_pf[j]
                o_gf = o_gp + (r_gp @ p_pf_of[j][..., None])[..., 0]
            else:
                r_gf = tb.r_pf[j].expand(b, 3, 3)
                o_gf = p_pf_of[j]
            axes = self._rot_axes_of[j]
            partial = [r_of_axis[a] for a in axes[:1]]  # the rotation by the joint's first k axes, k ≥ 1
            for a in axes[1:]:
                partial.append(partial[-1] @ r_of_axis[a])
            r_gm = r_gf @ partial[-1] if partial else r_gf  # R = R1 R2 R3, body-fixed
            o_gm = o_gf + (r_gf @ p_fm_of[j][..., None])[..., 0]
            r_gb = r_gm @ tb.r_cm_t[j]
            rots[ch] = r_gb
            origins[ch] = o_gm - (r_gb @ p_cm_of[j][..., None])[..., 0]
            centers[ch] = o_gm
            if with_frames:
                frames.append(self._joint_frames(j, coords, splines, r_gf, o_gm, partial, s_parent,
                                                 t_value, tb))
        return FKOutput(
            body_origins=torch.stack(origins, 1),  # type: ignore[arg-type]
            body_rotations=torch.stack(rots, 1),  # type: ignore[arg-type]
            joint_centers=torch.stack(centers, 1),  # type: ignore[arg-type]
            coords=coords,
            frames=frames if with_frames else None,
        )

    def _joint_frames(self, j: int, coords: torch.Tensor, splines: list[torch.Tensor], r_gf: torch.Tensor,
                      o_gm: torch.Tensor, partial: list[torch.Tensor], s_parent: torch.Tensor,
                      t_value: torch.Tensor, tb: _Tables) -> JointFrames:
        """Joint ``j``'s :class:`JointFrames` from the quantities :meth:`forward` computed."""
        jt = self._joints[j]
        b = coords.shape[0]
        before = [None, *partial]  # rotation by the axes before the k-th (None: I)
        rot_terms: list[tuple[int, torch.Tensor, torch.Tensor]] = []
        for k, (_, (f, slot)) in enumerate(jt["rot"]):
            if f.is_constant:
                continue
            a = tb.rot_axes[self._rot_axes_of[j][k]]
            pre = before[k]
            axis_g = (r_gf @ (a[:, None] if pre is None else pre @ a[:, None]))[..., 0]
            spline = splines[slot] if slot is not None else None
            rot_terms.append((f.index, axis_g, f.derivative(coords, spline)))
        trans_terms: list[tuple[int, torch.Tensor, torch.Tensor]] = []
        p_fm_axes = coords.new_zeros(b, 3, 3)
        for k, (_, (f, slot)) in enumerate(jt["trans"]):
            a = tb.trans_axes[tb.trans_slots[j, k]]
            p_fm_axes = p_fm_axes + t_value[:, j, k, None, None] * torch.outer(a, a)
            if not f.is_constant:
                direction = (r_gf @ a[:, None])[..., 0] * (s_parent[:, j] @ a)[:, None]
                spline = splines[slot] if slot is not None else None
                trans_terms.append((f.index, direction, f.derivative(coords, spline)))
        return JointFrames(jt["parent"], jt["child"], r_gf, o_gm, rot_terms, trans_terms, p_fm_axes)
