"""Evaluation metrics (degrees, percent, millimetres) by coordinate names from the model definition."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from model_store.biomech import ForwardKinematics
from model_store.network.outputs import ROTATIONAL_COORDINATES, assemble_coordinates

#: Sagittal lower-limb coordinates: the headline figure (they move most in gait).
LOWER_LIMB_SAGITTAL = (
    "hip_flexion_r", "hip_flexion_l", "knee_angle_r", "knee_angle_l", "ankle_angle_r", "ankle_angle_l",
)

GROUPS: dict[str, tuple[str, ...]] = {
    "pelvis": ("pelvis_tilt", "pelvis_list", "pelvis_rotation"),
    "hips": tuple(f"hip_{m}_{s}" for s in "rl" for m in ("flexion", "adduction", "rotation")),
    "knees": ("knee_angle_r", "knee_angle_l"),
    "ankles": tuple(f"{j}_angle_{s}" for s in "rl" for j in ("ankle", "subtalar", "mtp")),
    "lumbar": ("lumbar_extension", "lumbar_bending", "lumbar_rotation"),
    "shoulders": tuple(f"arm_{m}_{s}" for s in "rl" for m in ("flex", "add", "rot")),
    "elbows": tuple(f"{j}_{s}" for s in "rl" for j in ("elbow_flex", "pro_sup")),
    "wrists": tuple(f"wrist_{m}_{s}" for s in "rl" for m in ("flex", "dev")),
}


def angle_errors_deg(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|wrapped difference| in degrees; arrays [..., 36] radians in ROTATIONAL_COORDINATES order."""
    d = np.remainder(pred - truth + np.pi, 2 * np.pi) - np.pi
    return np.degrees(np.abs(d))


def heading_aligned(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``pred`` points [N, J, 3] (OpenSim ground, Y up) turned about the vertical by the one angle that
    brings them closest to ``truth`` (least squares over all frames): the heading a clip without a
    calibration cannot know."""
    a = pred[..., [0, 2]].reshape(-1, 2)
    b = truth[..., [0, 2]].reshape(-1, 2)
    angle = np.arctan2(float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()), float((a * b).sum()))
    c, s = np.cos(angle), np.sin(angle)
    out = pred.copy()
    out[..., 0] = c * pred[..., 0] - s * pred[..., 2]
    out[..., 2] = s * pred[..., 0] + c * pred[..., 2]
    return out


def summarize(
    pred_angles: np.ndarray,
    true_angles: np.ndarray,
    pred_scales: np.ndarray,
    true_scales: np.ndarray,
    fk: ForwardKinematics,
) -> dict[str, Any]:
    """Metrics over N frames: angles [N, 36] rad; scales [N, 22, 3] (per frame's sequence)."""
    err = angle_errors_deg(pred_angles, true_angles)
    col = {n: i for i, n in enumerate(ROTATIONAL_COORDINATES)}
    by_group = {g: float(err[:, [col[n] for n in names]].mean()) for g, names in GROUPS.items()}
    by_coord = {n: float(err[:, i].mean()) for n, i in col.items()}
    zeros = np.zeros((pred_angles.shape[0], 3))
    with torch.no_grad():
        pj = fk(torch.tensor(assemble_coordinates(pred_angles.astype(np.float64), zeros)), torch.tensor(pred_scales))
        tj = fk(torch.tensor(assemble_coordinates(true_angles.astype(np.float64), zeros)), torch.tensor(true_scales))
    pjc = pj.joint_centers - pj.body_origins[:, :1]
    tjc = tj.joint_centers - tj.body_origins[:, :1]
    mpjpe = float((pjc - tjc).norm(dim=-1).mean()) * 1000.0
    turned = heading_aligned(pjc.numpy(), tjc.numpy())
    return {
        "ll_mae_deg": float(err[:, [col[n] for n in LOWER_LIMB_SAGITTAL]].mean()),
        "mae_deg": float(err.mean()),
        "mae_deg_by_group": by_group,
        "mae_deg_by_coordinate": by_coord,
        "scale_err_pct": float((np.abs(pred_scales - true_scales) / np.abs(true_scales)).mean() * 100.0),
        "mpjpe_mm": mpjpe,
        "mpjpe_heading_mm": float(np.linalg.norm(turned - tjc.numpy(), axis=-1).mean()) * 1000.0,
        "frames": int(pred_angles.shape[0]),
    }
