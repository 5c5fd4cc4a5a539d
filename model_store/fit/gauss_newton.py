"""Gauss-Newton normal equations of the clip objective, exploiting its structure.

Unknowns are ordered frame by frame (the ``m`` free coordinates of frame 0, then frame 1, …) and
then the ``k`` fitted log body scales (``ClipObjective.scale_index``). Keypoint, prior and range
terms couple coordinates only within a frame; the smoothness term couples the same coordinate over
five consecutive frames; scales couple everything. So the coordinate block is banded (half-bandwidth
``2m``) and the scales are eliminated by a Schur complement: one banded Cholesky factorisation
(LAPACK via SciPy) with k + 1 right-hand sides per solve. The robust keypoint term and the robust
prior enter by iteratively reweighted least squares: their gradients are exact, their Hessians the
usual Gauss-Newton approximation with Cauchy weights (``2c / (1 + u)`` for keypoints). The priors
on the pelvis's orientation (:meth:`ClipObjective.posture_residuals`) are nonlinear in a frame's
pelvis and lumbar coordinates; their Jacobians come from autograd, one backward pass per residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from model_store.biomech.jacobian import point_jacobians
from model_store.fit.objective import ClipObjective
from model_store.keypoints.landmarks import standing_height_m


@dataclass
class Linearization:
    """Gradient and Gauss-Newton Hessian at a point (unnormalised: the objective × frames).

    ``g_x`` [T, m] and ``h_tt`` [T, m, m] per frame; ``smooth`` [3, T, m] the smoothness Hessian's
    diagonals at frame offsets 0, 1, 2 (already included in nothing else); ``h_ts`` [T, m, k];
    ``g_s`` [k]; ``h_ss`` [k, k] over the k fitted scale factors (``ClipObjective.scale_index``). All
    numpy float64.
    """

    g_x: np.ndarray
    h_tt: np.ndarray
    smooth: np.ndarray
    h_ts: np.ndarray
    g_s: np.ndarray
    h_ss: np.ndarray
    h_tt_prior: np.ndarray  # [T, m, m] the prior + range part of h_tt
    residual_variance: float  # observed / assumed per-axis keypoint residual variance (IRLS-weighted)


def _second_difference_gram(t: int) -> np.ndarray:
    """Diagonals [3, T] of DᵀD for the second-difference operator D [(T−2), T] (offsets 0, 1, 2)."""
    out = np.zeros((3, t))
    if t < 3:
        return out
    coef = np.array([1.0, -2.0, 1.0])
    for r in range(t - 2):
        for a in range(3):
            out[0, r + a] += coef[a] ** 2
            if a < 2:
                out[1, r + a] += coef[a] * coef[a + 1]
        out[2, r] += coef[0] * coef[2]
    return out


#: Frames linearised at once (bounds the memory of the per-point Jacobians on long clips).
LINEARIZE_CHUNK = 256


def _keypoint_block(
    obj: ClipObjective, q: torch.Tensor, s: torch.Tensor, free: torch.Tensor, a: int, b: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float, float]:
    """The robust keypoint term of frames ``a:b`` (``q`` holds those frames): g_x, h_tt, h_ts for
    them, their contributions to g_s and h_ss, and the sums of the IRLS weights w and of w·u."""
    t = q.shape[0]
    s_b = s[None].expand(t, -1, -1)
    out = obj.fk(q, s_b, with_frames=True)
    active = obj.scale_index
    pos, jq, js = point_jacobians(obj.fk, out, obj.lm.body_index, obj.lm.local_points, s_b, active)
    jq = jq[..., free]  # [T, P, 3, m]
    js = js * s.flatten()[active]  # d/d log s: [T, P, 3, k]
    # projection Jacobians d px / d point, per view, by autograd on independent points
    v = obj.rig.n_views
    pts = pos.detach()[None].expand(v, -1, -1, -1).clone().requires_grad_(True)
    px, _ = obj.rig.project_views(pts)
    dproj = torch.stack([torch.autograd.grad(px[..., i].sum(), pts, retain_graph=i == 0)[0] for i in range(2)], -2)
    px = px.detach()
    norm = obj.height_px[:, a:b, None, None] * obj.keypoint_sigma  # [V, T, 1, 1]
    e = (px - obj.keypoints[:, a:b]) / norm  # [V, T, P, 2]
    u = (e * e).sum(-1)
    w = 2.0 * obj.weight[:, a:b] / (1.0 + u)  # IRLS weights [V, T, P]
    # Chain rule through the 3-D points: per point, the weighted residual pulled back to 3-D and the
    # 3 × 3 information matrix Σ_views,axes w Jπᵀ Jπ; then the coordinate and scale Jacobians.
    dproj = dproj / norm[..., None]  # [V, T, P, 2, 3] d e / d point
    r3 = torch.einsum("vtp,vtpi,vtpij->tpj", w, e, dproj)  # [T, P, 3]
    info = torch.einsum("vtp,vtpij,vtpik->tpjk", w, dproj, dproj)  # [T, P, 3, 3]
    g_x = torch.einsum("tpj,tpjc->tc", r3, jq)
    g_s = torch.einsum("tpj,tpjc->c", r3, js)
    m_q = (info @ jq).reshape(t, -1, jq.shape[-1])  # [T, 3P, m]
    m_s = (info @ js).reshape(t, -1, js.shape[-1])  # [T, 3P, k]
    jq_rows = jq.reshape(t, -1, jq.shape[-1])
    h_tt = jq_rows.transpose(1, 2) @ m_q
    h_ts = jq_rows.transpose(1, 2) @ m_s
    h_ss = js.reshape(-1, js.shape[-1]).T @ m_s.reshape(-1, js.shape[-1])
    return g_x, h_tt, h_ts, g_s, h_ss, float(w.sum()), float((w * u).sum())


def linearize(obj: ClipObjective, q: torch.Tensor, log_s: torch.Tensor, free: torch.Tensor) -> Linearization:
    """Gradient and Hessian blocks of the objective at (``q`` [T, 39], ``log_s`` [22, 3])."""
    s_cfg = obj.settings
    t = q.shape[0]
    s = torch.exp(log_s)
    active = obj.scale_index
    m, k = int(free.sum()) if free.dtype == torch.bool else int(free.numel()), int(active.numel())
    g_x = q.new_zeros(t, m)
    h_tt = q.new_zeros(t, m, m)
    h_ts = q.new_zeros(t, m, k)
    g_s = q.new_zeros(k)
    h_ss = q.new_zeros(k, k)
    wsum, wu_sum = 0.0, 0.0
    # The keypoint term couples nothing across frames: it is linearised LINEARIZE_CHUNK frames at a
    # time, so memory stays bounded on long clips (the per-point Jacobians are ~100 KB per frame).
    for a in range(0, t, LINEARIZE_CHUNK):
        b = min(a + LINEARIZE_CHUNK, t)
        gx_c, htt_c, hts_c, gs_c, hss_c, w_c, wu_c = _keypoint_block(obj, q[a:b], s, free, a, b)
        g_x[a:b], h_tt[a:b], h_ts[a:b] = gx_c, htt_c, hts_c
        g_s += gs_c
        h_ss += hss_c
        wsum += w_c
        wu_sum += wu_c
    # prior and ranges: diagonal per frame
    qf = q[:, free]
    d = qf - obj.prior_q[:, free]
    d = torch.atan2(torch.sin(d), torch.cos(d))
    inv_p = obj.prior_inv_sigma[free] * obj.prior_frames[:, None] ** 0.5  # [T, m]
    robust = 1.0 / (1.0 + (d * inv_p) ** 2 / s_cfg.prior_robust_k**2)  # Cauchy weights of the prior
    g_x = g_x + robust * inv_p**2 * d
    diag = robust * inv_p**2
    lo, hi = obj.ranges[free, 0], obj.ranges[free, 1]
    ranged = obj.ranged[free]
    over, under = torch.relu(qf - hi) * ranged, torch.relu(lo - qf) * ranged
    inv_r2 = 1.0 / s_cfg.range_sigma_rad**2
    g_x = g_x + inv_r2 * (over - under)
    diag = diag + inv_r2 * ((over > 0) | (under > 0)).to(q.dtype)
    g_post, h_post = _posture_block(obj, q, free)
    g_x = g_x + g_post
    h_prior = torch.diag_embed(diag) + h_post
    h_tt = h_tt + h_prior
    variance = wu_sum / max(wsum, 1e-12) if wsum > 0 else 1.0  # assumed: ½ per axis → u = 1
    # smoothness: second differences per coordinate
    inv_a2 = obj.inv_acc[free] ** 2
    smooth = torch.as_tensor(_second_difference_gram(t), dtype=q.dtype, device=q.device)[..., None] * inv_a2
    if t >= 3:
        acc = qf[2:] - 2 * qf[1:-1] + qf[:-2]
        r = acc * inv_a2
        g_smooth = torch.zeros_like(qf)
        g_smooth[2:] += r
        g_smooth[1:-1] -= 2 * r
        g_smooth[:-2] += r
        g_x = g_x + g_smooth
    # scale priors
    ls = log_s.reshape(-1)
    inv_s2 = obj.inv_scale_sigma.reshape(-1)[active] ** 2
    g_s = g_s + (ls[active] - obj.log_s_net.reshape(-1)[active]) * inv_s2
    h_ss = h_ss + torch.diag(inv_s2)
    lo, hi = np.log(s_cfg.scale_bounds[0]), np.log(s_cfg.scale_bounds[1])
    outside = torch.relu(ls[active] - hi) - torch.relu(lo - ls[active])
    inv_b2 = 1.0 / s_cfg.scale_bound_softness**2
    g_s = g_s + outside * inv_b2
    h_ss = h_ss + torch.diag((outside != 0).to(ls.dtype) * inv_b2)
    slot = {int(f): k for k, f in enumerate(active)}
    k_sym = 1.0 / s_cfg.symmetry_sigma**2
    for r_i, l_i in zip(obj.sym_r, obj.sym_l, strict=True):
        for a in range(3):
            i, j = slot.get(r_i * 3 + a), slot.get(l_i * 3 + a)
            if i is None or j is None:
                continue
            diff = (ls[r_i * 3 + a] - ls[l_i * 3 + a]) * k_sym
            g_s[i] += diff
            g_s[j] -= diff
            h_ss[i, i] += k_sym
            h_ss[j, j] += k_sym
            h_ss[i, j] -= k_sym
            h_ss[j, i] -= k_sym
    if obj.height_m is not None:
        ls_var = log_s.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            h = standing_height_m(obj.fk, torch.exp(ls_var)[None])[0]
            grad = torch.autograd.grad(h, ls_var)[0].reshape(-1)[active]
        e_h = (float(h.detach()) / obj.height_m - 1.0) / s_cfg.height_sigma
        j_h = grad / (obj.height_m * s_cfg.height_sigma)
        g_s = g_s + e_h * j_h
        h_ss = h_ss + torch.outer(j_h, j_h)
    g_x_, h_tt_, smooth_, h_ts_, g_s_, h_ss_, h_prior_ = (
        x.detach().cpu().numpy() for x in (g_x, h_tt, smooth, h_ts, g_s, h_ss, h_prior))
    return Linearization(g_x_, h_tt_, smooth_, h_ts_, g_s_, h_ss_, h_prior_, residual_variance=variance)


def _posture_block(obj: ClipObjective, q: torch.Tensor, free: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient [T, m] and Gauss-Newton Hessian [T, m, m] of the robust pelvis priors over the free
    coordinates: Cauchy weights w = 1 / (1 + r² / k²) on the whitened residuals r [T, K], Jacobians J
    [T, K, m] by autograd (each frame's residuals depend on its own coordinates only)."""
    cols = list(obj.posture.coordinates)
    sub = q[:, cols].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        full = q.detach().clone()
        full[:, cols] = sub
        r = obj.posture_residuals(full)  # [T, K]
        jac = torch.stack([torch.autograd.grad(r[:, k].sum(), sub, retain_graph=k + 1 < r.shape[1])[0]
                           for k in range(r.shape[1])], 1)  # [T, K, len(cols)]
    r = r.detach()
    w = 1.0 / (1.0 + r**2 / obj.settings.prior_robust_k**2)
    free_idx = torch.nonzero(free).flatten() if free.dtype == torch.bool else free
    slot = {int(c): i for i, c in enumerate(free_idx)}  # model index → index among the free coordinates
    keep = [i for i, c in enumerate(cols) if c in slot]
    jf = q.new_zeros(*jac.shape[:2], len(slot))
    jf[..., [slot[cols[i]] for i in keep]] = jac[..., keep]
    g = torch.einsum("tk,tk,tkm->tm", w, r, jf)
    h = torch.einsum("tk,tkm,tkn->tmn", w, jf, jf)
    return g, h


def frame_sigmas(lin: Linearization, min_variance: float = 1e-2) -> np.ndarray:
    """Per-frame standard deviations [T, m] of the free coordinates (rad / m).

    The Laplace approximation of one frame given its own keypoints and the priors (the coupling to
    neighbouring frames through smoothness and to the scales is left out, so this is what a single
    frame's evidence supports). The keypoint part is rescaled by the observed residual variance
    (floored at ``min_variance``), so noisier keypoints give wider intervals.
    """
    factor = max(lin.residual_variance, min_variance)
    h = (lin.h_tt - lin.h_tt_prior) / factor + lin.h_tt_prior
    h += np.eye(h.shape[1]) * 1e-9
    cov = np.linalg.inv(h)
    return np.sqrt(np.clip(np.einsum("tcc->tc", cov), 0.0, None))


def _banded(lin: Linearization, damping: float) -> np.ndarray:
    """Upper banded storage [2m + 1, T m] of the damped coordinate block (Marquardt scaling)."""
    t, m = lin.g_x.shape
    u = 2 * m
    n = t * m
    ab = np.zeros((u + 1, n))
    blocks = lin.h_tt.copy()
    diag = np.einsum("tcc->tc", blocks) + lin.smooth[0]
    blocks[:, np.arange(m), np.arange(m)] += lin.smooth[0] + damping * np.maximum(diag, 1e-6)
    base = np.arange(t)[:, None] * m
    for off in range(m):
        c = np.arange(m - off)
        cols = (base + c + off).reshape(-1)
        ab[u - off, cols] = blocks[:, c, c + off].reshape(-1)
    for k in (1, 2):
        if t > k:
            cols = (np.arange(k, t)[:, None] * m + np.arange(m)).reshape(-1)
            ab[u - k * m, cols] += lin.smooth[k, : t - k].reshape(-1)
    return ab


def solve_step(lin: Linearization, damping: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve the damped normal equations; returns steps for coordinates [T, m] and the fitted log scales [k]."""
    t, m = lin.g_x.shape
    ab = _banded(lin, damping)
    b_mat = lin.h_ts.reshape(t * m, -1)
    rhs = np.concatenate([lin.g_x.reshape(-1, 1), b_mat], 1)
    sol = scipy.linalg.solveh_banded(ab, rhs, lower=False, check_finite=False)
    y, big_y = sol[:, 0], sol[:, 1:]
    h_ss = lin.h_ss + damping * np.diag(np.maximum(np.diag(lin.h_ss), 1e-6))
    schur = h_ss - b_mat.T @ big_y
    ds = np.linalg.solve(schur, -lin.g_s + b_mat.T @ y)
    dx = -y - big_y @ ds
    return dx.reshape(t, m), ds
