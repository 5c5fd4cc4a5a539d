"""Run a network (or the mean-pose floor) over held-out sequences and compute the metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from model_store.biomech import load_fullbody_model
from model_store.network import KinematicsNet
from model_store.network.outputs import rotational_indices
from model_store.sizes import N_BODIES, N_ROTATIONAL
from training.data.sequences import SequenceArrays, iter_windows
from training.eval.metrics import summarize


@torch.no_grad()
def predict_sequences(net: KinematicsNet, data: SequenceArrays, batch: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Angles [N, F', 36] (rad) and per-frame scales [N, F', 22, 3] for F' = frames covered by windows."""
    net.eval()
    length = min(net.config.window, data.n_frames) if net.use_temporal else 1
    angles, scales = [], []
    device = next(net.parameters()).device
    for wb in iter_windows(data, length, batch if length > 1 else 64):
        out = net(wb.inputs().to(device))
        angles.append(out.angles.cpu().numpy())
        scales.append(out.scales[:, None].expand(-1, length, -1, -1).cpu().numpy())
    n = data.n_sequences
    a = np.concatenate(angles).reshape(n, -1, N_ROTATIONAL)
    s = np.concatenate(scales).reshape(n, -1, N_BODIES, 3)
    return a, s


def evaluate_network(net: KinematicsNet, data: SequenceArrays) -> dict[str, Any]:
    angles, scales = predict_sequences(net, data)
    return _metrics(angles, scales, data)


def mean_pose(train: SequenceArrays) -> tuple[np.ndarray, np.ndarray]:
    """The constant predictor: circular mean of each angle [36] (rad) and mean scales [22, 3]."""
    return mean_pose_of(train.coords, train.scales)


def mean_pose_of(coords: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mean_pose` of coordinates [..., 39] (rad / m) and scales [N, 22, 3]."""
    a = coords[..., rotational_indices()].reshape(-1, N_ROTATIONAL)
    mean_angles = np.arctan2(np.sin(a).mean(0), np.cos(a).mean(0))
    return mean_angles, scales.mean(0)


def evaluate_constant(angles: np.ndarray, scales: np.ndarray, data: SequenceArrays) -> dict[str, Any]:
    n, f = data.n_sequences, data.n_frames
    return _metrics(np.broadcast_to(angles, (n, f, N_ROTATIONAL)), np.broadcast_to(scales, (n, f, N_BODIES, 3)), data)


def _metrics(angles: np.ndarray, scales: np.ndarray, data: SequenceArrays) -> dict[str, Any]:
    f = angles.shape[1]
    truth = data.coords[:, :f, rotational_indices()]
    valid = data.valid[:, :f].reshape(-1)
    true_scales = np.broadcast_to(data.scales[:, None], (data.n_sequences, f, N_BODIES, 3))
    return summarize(
        angles.reshape(-1, N_ROTATIONAL)[valid], truth.reshape(-1, N_ROTATIONAL)[valid],
        scales.reshape(-1, N_BODIES, 3)[valid], true_scales.reshape(-1, N_BODIES, 3)[valid], load_fullbody_model(),
    )
