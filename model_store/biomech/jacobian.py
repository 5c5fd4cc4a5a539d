"""Exact Jacobians of points fixed on model bodies, from one FK pass (no autograd, no differencing).

For a point ``p`` downstream of a joint, a rotation θ about a ground axis ω through the joint's
child-side origin ``o`` moves it by ``ω × (p − o) dθ``; a joint translation moves it along its
ground direction. Coordinates drive these through their functions (linear, SimmSpline), so
``∂p/∂q = Σ f'(q) (ω × (p − o))`` plus translation terms; coupled coordinates pass their column to
their driver. Body scales enter positions linearly for a fixed pose (joint offsets scale with the
body they sit on, joint translations with the parent, points with their body), which gives
``∂p/∂s`` from the same frames. Units: metres per radian (or per metre) and metres per unit scale;
ground frame. All terms are gathered into stacked tensors and contracted at once (no per-joint
scatter), which keeps this a few milliseconds for hundreds of frames.
"""

from __future__ import annotations

from functools import cache

import torch

from model_store.biomech.fk import FKOutput, ForwardKinematics


@cache
def _subtree_masks(fk: ForwardKinematics) -> torch.Tensor:
    """[J, N] float64: 1 where body n lies at or below joint j's child (joints in FK order)."""
    n = len(fk.body_names)
    parent = {jt["child"]: jt["parent"] for jt in fk._joints}
    masks = torch.zeros(len(fk._joints), n, dtype=torch.float64)
    for j, jt in enumerate(fk._joints):
        for b in range(n):
            node = b
            while node >= 0:
                if node == jt["child"]:
                    masks[j, b] = 1.0
                    break
                node = parent.get(node, -1)
    return masks


def point_jacobians(
    fk: ForwardKinematics,
    out: FKOutput,
    body_index: torch.Tensor,
    local_points: torch.Tensor,
    scales: torch.Tensor,
    scale_columns: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions and Jacobians of points given in unscaled body frames.

    ``out`` must come from ``fk(coords, scales, with_frames=True)``; ``body_index`` [P] (long),
    ``local_points`` [P, 3] (m, unscaled), ``scales`` [B, N, 3]. Returns positions [B, P, 3] (m),
    ``d position / d coordinates`` [B, P, 3, C] and ``d position / d scales`` [B, P, 3, K] for the
    flattened (body × 3 + axis) ``scale_columns`` (default: all N × 3, in that order).
    """
    if out.frames is None:
        raise ValueError("point_jacobians needs fk(..., with_frames=True)")
    rot = out.body_rotations[:, body_index]  # [B, P, 3, 3]
    local = local_points.to(rot)
    pos = out.body_origins[:, body_index] + (rot @ (local * scales[:, body_index])[..., None])[..., 0]
    b, p = pos.shape[:2]
    n_c, n_b = out.coords.shape[1], len(fk.body_names)
    mask = _subtree_masks(fk).to(pos)[:, body_index]  # [J, P]
    # coordinates: every rotation term (ω × (p − o)) and translation term of every joint, for the
    # (term, point) pairs where the point lies below the joint, weighted by d angle / d coordinate
    jq = pos.new_zeros(b, n_c * p, 3)
    for kind in ("rotations", "translations"):
        rows: list[int] = []
        cols: list[int] = []
        vecs: list[torch.Tensor] = []
        origins: list[torch.Tensor] = []
        dfs: list[torch.Tensor] = []
        for j, fr in enumerate(out.frames):
            for c, vec, df in getattr(fr, kind):
                rows.append(j)
                vecs.append(vec)
                origins.append(fr.o_gm)
                dfs.append(df)
                cols.append(c)
        if not rows:
            continue
        term, point = torch.nonzero(mask[rows] > 0, as_tuple=True)  # pairs
        vec = torch.stack(vecs, 1)[:, term]  # [B, pairs, 3]
        df = torch.stack(dfs, 1)[:, term, None]
        if kind == "rotations":
            moved = df * torch.linalg.cross(vec, pos[:, point] - torch.stack(origins, 1)[:, term])
        else:
            moved = df * vec
        jq.index_add_(1, torch.tensor(cols, device=pos.device)[term] * p + point, moved)
    jq = jq.reshape(b, n_c, p, 3).permute(0, 2, 3, 1)  # [B, P, 3, C]
    for dep, f in fk._couplers:
        spline = f.spline.to(pos) if f.spline is not None else None
        jq[..., f.index] += jq[..., dep] * f.derivative(out.coords, spline)[:, None, None]
        jq[..., dep] = 0.0
    # scales: per joint, the parent-side offset and translation (parent's factors) and the child-side
    # offset (child's factors, subtracted); per point, its own offset (its body's factors)
    if scale_columns is None:
        scale_columns = torch.arange(n_b * 3, device=pos.device)
    col_body, col_axis = scale_columns // 3, scale_columns % 3
    d_parent, d_child, par, chi = [], [], [], []
    for jt, fr in zip(fk._joints, out.frames, strict=True):
        r_parent = out.body_rotations[:, fr.parent] if fr.parent >= 0 else None
        d_parent.append(torch.zeros_like(fr.r_gf) if r_parent is None
                        else r_parent * jt["p_pf"].to(pos)[None, None, :] + fr.r_gf @ fr.p_fm_axes)
        d_child.append(out.body_rotations[:, fr.child] * jt["p_cm"].to(pos)[None, None, :])
        par.append(fr.parent)
        chi.append(fr.child)
    sel_p = (torch.tensor(par, device=pos.device)[:, None] == col_body[None]).to(pos)  # [J, K]
    sel_c = (torch.tensor(chi, device=pos.device)[:, None] == col_body[None]).to(pos)
    d = (torch.stack(d_parent, 1).index_select(3, col_axis) * sel_p[None, :, None]
         - torch.stack(d_child, 1).index_select(3, col_axis) * sel_c[None, :, None])  # [B, J, 3, K]
    js = torch.einsum("jp,bjxk->bpxk", mask, d)
    own = rot[..., col_axis] * local[:, col_axis][None, :, None, :]  # [B, P, 3, K]
    js = js + own * (body_index[:, None] == col_body[None]).to(pos)[None, :, None, :]
    return pos, jq, js
