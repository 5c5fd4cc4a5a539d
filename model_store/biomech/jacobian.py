"""Exact Jacobians of points fixed on model bodies, from one FK pass (no autograd, no differencing).

For a point ``p`` downstream of a joint, a rotation θ about a ground axis ω through the joint's
child-side origin ``o`` moves it by ``ω × (p − o) dθ``; a joint translation moves it along its
ground direction. Coordinates drive these through their functions (linear, SimmSpline), so
``∂p/∂q = Σ f'(q) (ω × (p − o))`` plus translation terms; coupled coordinates pass their column to
their driver. Body scales enter positions linearly for a fixed pose (joint offsets scale with the
body they sit on, joint translations with the parent, points with their body), which gives
``∂p/∂s`` from the same frames. Units: metres per radian (or per metre) and metres per unit scale;
ground frame.
"""

from __future__ import annotations

from functools import cache

import torch

from model_store.biomech.fk import FKOutput, ForwardKinematics


@cache
def _subtree_masks(fk: ForwardKinematics) -> torch.Tensor:
    """[J, N] bool: body n lies at or below joint j's child (joints in FK order)."""
    n = len(fk.body_names)
    parent = {jt["child"]: jt["parent"] for jt in fk._joints}
    masks = torch.zeros(len(fk._joints), n, dtype=torch.bool)
    for j, jt in enumerate(fk._joints):
        for b in range(n):
            node = b
            while node >= 0:
                if node == jt["child"]:
                    masks[j, b] = True
                    break
                node = parent.get(node, -1)
    return masks


def point_jacobians(
    fk: ForwardKinematics,
    out: FKOutput,
    body_index: torch.Tensor,
    local_points: torch.Tensor,
    scales: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions and Jacobians of points given in unscaled body frames.

    ``out`` must come from ``fk(coords, scales, with_frames=True)``; ``body_index`` [P] (long),
    ``local_points`` [P, 3] (m, unscaled), ``scales`` [B, N, 3]. Returns positions [B, P, 3] (m),
    ``d position / d coordinates`` [B, P, 3, C] and ``d position / d scales`` [B, P, 3, N, 3].
    """
    if out.frames is None:
        raise ValueError("point_jacobians needs fk(..., with_frames=True)")
    rot = out.body_rotations[:, body_index]  # [B, P, 3, 3]
    pts_local = local_points.to(rot) * scales[:, body_index]
    pos = out.body_origins[:, body_index] + (rot @ pts_local[..., None])[..., 0]
    b, p = pos.shape[:2]
    n_c = out.coords.shape[1]
    n_b = len(fk.body_names)
    jq = pos.new_zeros(b, p, 3, n_c)
    js = pos.new_zeros(b, p, 3, n_b, 3)
    masks = _subtree_masks(fk).to(pos.device)[:, body_index]  # [J, P]
    for j, (jt, fr) in enumerate(zip(fk._joints, out.frames, strict=True)):
        sel = masks[j]
        if not bool(sel.any()):
            continue
        rel = pos[:, sel] - fr.o_gm[:, None]
        for c, omega, df in fr.rotations:
            jq[:, sel, :, c] += df[:, None, None] * torch.cross(omega[:, None].expand_as(rel), rel, dim=-1)
        for c, direction, df in fr.translations:
            jq[:, sel, :, c] += (df[:, None] * direction)[:, None]
        if fr.parent >= 0:
            r_parent = out.body_rotations[:, fr.parent]
            d_parent = r_parent * jt["p_pf"].to(pos)[None, None, :] + fr.r_gf @ fr.p_fm_axes
            js[:, sel, :, fr.parent, :] += d_parent[:, None]
        r_child = out.body_rotations[:, fr.child]
        js[:, sel, :, fr.child, :] -= (r_child * jt["p_cm"].to(pos)[None, None, :])[:, None]
    own = rot * local_points.to(rot)[None, :, None, :]  # [B, P, 3, 3]: column e = R[:, e] ℓ_e
    js[:, torch.arange(p, device=pos.device), :, body_index, :] += own.permute(1, 0, 2, 3)
    for dep, f in fk._couplers:
        spline = f.spline.to(pos) if f.spline is not None else None
        jq[..., f.index] += jq[..., dep] * f.derivative(out.coords, spline)[:, None, None]
        jq[..., dep] = 0.0
    return pos, jq, js
