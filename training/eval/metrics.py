"""Evaluation metrics (degrees, percent, millimetres) by coordinate names from the model definition."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from model_store.biomech import ForwardKinematics, load_definition
from model_store.biomech.posture import default_posture, rotation_log
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


#: The coordinates the cameras barely separate (trunk lean's split between pelvis and lumbar, and hip
#: flexion, which inherits the pelvis's error): every clip report lists them on their own.
WEAKLY_SEEN = ("pelvis_tilt", "lumbar_extension", "hip_flexion_r", "hip_flexion_l")


def signed_errors_deg(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Wrapped difference ``pred − truth`` in degrees, in [−180, 180); arrays [..., 36] radians in
    ROTATIONAL_COORDINATES order."""
    return np.degrees(np.remainder(pred - truth + np.pi, 2 * np.pi) - np.pi)


def angle_errors_deg(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|wrapped difference| in degrees; arrays [..., 36] radians in ROTATIONAL_COORDINATES order."""
    return np.abs(signed_errors_deg(pred, truth))


def pelvis_errors_deg(pred_angles: np.ndarray, true_angles: np.ndarray) -> np.ndarray:
    """The pelvis's orientation error [N, 3] (degrees: tilt, list, rotation) in the true pelvis's own
    frame, whatever way the person faces: the rotation from the true to the predicted pelvis as a
    rotation vector, its components about the pelvis's lateral (tilt), forward (list) and vertical
    (rotation) axes. ``pelvis_tilt`` itself turns about the ground's axis, so its plain difference is a
    sideways lean for a person facing along Z. Angles [N, 36] rad in ROTATIONAL_COORDINATES order."""
    posture = default_posture()
    col = [ROTATIONAL_COORDINATES.index(n) for n in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]
    names = load_definition().coordinate_names
    model_col = [names.index(n) for n in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]
    q_pred = np.zeros((len(pred_angles), len(names)))
    q_true = np.zeros_like(q_pred)
    q_pred[:, model_col], q_true[:, model_col] = pred_angles[:, col], true_angles[:, col]
    with torch.no_grad():
        rel = rotation_log(posture.pelvis(torch.as_tensor(q_true)).transpose(-1, -2)
                           @ posture.pelvis(torch.as_tensor(q_pred)))
    return np.degrees(rel.numpy()[:, [2, 0, 1]])


def clip_error_profile(pred_angles: np.ndarray, true_angles: np.ndarray) -> dict[str, Any]:
    """Bias apart from scatter over the frames of one clip: angles [N, 36] rad. The pelvis's three
    errors are taken in its own frame (:func:`pelvis_errors_deg`).

    Per coordinate (degrees): ``mae``; ``bias``, the mean signed error *pred − truth* (what one constant
    offset explains); and ``offset_removed``, the MAE once that bias is subtracted (the scatter). A
    coordinate off by a constant has ``|bias| == mae`` and ``offset_removed == 0``. Also the headline
    figures with the offsets removed: ``ll_offset_removed_deg`` (sagittal hip, knee, ankle) and
    ``mae_offset_removed_deg`` (all 36). Pooling frames of several clips would mix their biases: call it
    per clip.
    """
    signed = signed_errors_deg(pred_angles, true_angles)
    signed[:, [ROTATIONAL_COORDINATES.index(n) for n in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]] = (
        pelvis_errors_deg(pred_angles, true_angles))
    bias = signed.mean(0)
    mae, scatter = np.abs(signed).mean(0), np.abs(signed - bias).mean(0)
    col = {n: i for i, n in enumerate(ROTATIONAL_COORDINATES)}
    ll = [col[n] for n in LOWER_LIMB_SAGITTAL]
    return {
        "ll_offset_removed_deg": float(scatter[ll].mean()),
        "mae_offset_removed_deg": float(scatter.mean()),
        "by_coordinate": {n: {"mae": float(mae[i]), "bias": float(bias[i]), "offset_removed": float(scatter[i])}
                          for n, i in col.items()},
    }


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
