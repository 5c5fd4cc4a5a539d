"""Training losses of the seed, on our network outputs.

Terms (all means over valid frames): angle distance on (sin, cos); scale error (pooled and
per-frame); FK joint-position error through the model core (pelvis-aligned joint centres, metres);
out-of-range penalty on predicted angles (rad; the pelvis's global orientation is unbounded);
scale range and smoothness regularisers; temporal smoothness (second differences of sin/cos).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from model_store.biomech import ForwardKinematics
from model_store.network import NetworkOutputs
from model_store.network.outputs import ROTATIONAL_COORDINATES, assemble_coordinates, rotational_indices

SCALE_RANGE = (0.7, 1.3)


@dataclass(frozen=True)
class LossWeights:
    angle: float = 1.0
    scale: float = 2.0
    fk: float = 5.0  # per metre of mean joint-centre error
    range: float = 1.0
    scale_reg: float = 1.0
    scale_smooth: float = 1.0
    temporal: float = 0.5


def _masked_mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` [B, T, ...] over frames where ``valid`` [B, T] is true."""
    w = valid.to(x.dtype).reshape(*valid.shape, *([1] * (x.ndim - 2)))
    denom = (w.sum() * (x[0, 0].numel() if x.ndim > 2 else 1)).clamp(min=1.0)
    return (x * w).sum() / denom


def kinematics_loss(
    out: NetworkOutputs,
    coords: torch.Tensor,
    scales: torch.Tensor,
    fk: ForwardKinematics,
    valid: torch.Tensor | None = None,
    weights: LossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its terms. ``coords`` [B, T, 39] rad/m truth, ``scales`` [B, 22, 3] truth."""
    w = weights or LossWeights()
    b, t = coords.shape[:2]
    valid = torch.ones(b, t, dtype=torch.bool, device=coords.device) if valid is None else valid
    rot = rotational_indices()
    true_angles = coords[..., rot]
    true_sc = torch.stack([torch.sin(true_angles), torch.cos(true_angles)], -1)
    terms: dict[str, torch.Tensor] = {}
    # The pelvis triple is compared in canonical form (|list| <= 90°): its alias (tilt + π, π − list,
    # rotation + π) is the same orientation, so it must not be penalised (nor rewarded) differently.
    canon = out.angles[..., :3]
    pred_sc = torch.cat([torch.stack([torch.sin(canon), torch.cos(canon)], -1), out.sincos[..., 3:, :]], -2)
    terms["angle"] = _masked_mean(((pred_sc - true_sc) ** 2).sum(-1), valid)
    terms["scale"] = (out.scales - scales).abs().mean() + _masked_mean(
        (out.frame_scales - scales[:, None]).abs(), valid
    )
    pred_angles = out.angles
    zeros = torch.zeros(b, t, 3, dtype=coords.dtype, device=coords.device)
    pred_q = assemble_coordinates(pred_angles.reshape(b * t, -1), zeros.reshape(b * t, 3))
    true_q = assemble_coordinates(true_angles.reshape(b * t, -1), zeros.reshape(b * t, 3))
    pred_j = fk(pred_q, out.scales[:, None].expand(b, t, -1, -1).reshape(b * t, -1, 3)).joint_centers
    true_j = fk(true_q, scales[:, None].expand(b, t, -1, -1).reshape(b * t, -1, 3)).joint_centers
    terms["fk"] = _masked_mean((pred_j - true_j).norm(dim=-1).reshape(b, t, -1), valid)
    lo, hi = fk.coordinate_ranges[rot, 0].to(coords), fk.coordinate_ranges[rot, 1].to(coords)
    bounded = torch.tensor([not n.startswith("pelvis_") for n in ROTATIONAL_COORDINATES], device=coords.device)
    outside = (torch.relu(lo - pred_angles) + torch.relu(pred_angles - hi)) * bounded
    terms["range"] = _masked_mean(outside, valid)
    s_lo, s_hi = SCALE_RANGE
    terms["scale_reg"] = (torch.relu(s_lo - out.frame_scales) + torch.relu(out.frame_scales - s_hi)).mean()
    terms["scale_smooth"] = (out.frame_scales - out.scales[:, None]).pow(2).mean()
    if t >= 3:
        acc = out.sincos[:, 2:] - 2 * out.sincos[:, 1:-1] + out.sincos[:, :-2]
        terms["temporal"] = _masked_mean(acc.pow(2).sum(-1), valid[:, 2:] & valid[:, 1:-1] & valid[:, :-2])
    else:
        terms["temporal"] = coords.new_zeros(())
    total = sum(getattr(w, name) * value for name, value in terms.items())
    assert isinstance(total, torch.Tensor)
    return total, {k: float(v.detach()) for k, v in terms.items()}
