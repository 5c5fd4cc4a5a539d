"""Training/evaluation data held in memory as fixed-length sequences, sampled as windows.

All arrays share the leading sequence axis N and frame axis F; views V = 2 (0 front, 1 side).
Units and frames as the network expects (see :mod:`model_store.network.model`): masks uint8
[N, F, V, S, S] already at the network input size, keypoints [N, F, V, 33, 3] in crop px + visibility,
crops [N, F, V, 3], cameras ``k, r, t`` [N, V, ...] OpenSim ground → camera (m), truth coordinates
[N, F, 39] (rad / m), scales [N, 22, 3], ``valid`` [N, F] (frames with a detected person).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from model_store.network.inputs import NetworkInputs


@dataclass
class SequenceArrays:
    masks: np.ndarray
    keypoints: np.ndarray
    crops: np.ndarray
    k: np.ndarray
    r: np.ndarray
    t: np.ndarray
    coords: np.ndarray
    scales: np.ndarray
    valid: np.ndarray

    @property
    def n_sequences(self) -> int:
        return self.coords.shape[0]

    @property
    def n_frames(self) -> int:
        return self.coords.shape[1]

    def subset(self, idx: np.ndarray) -> SequenceArrays:
        return SequenceArrays(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concatenate(parts: list[SequenceArrays]) -> SequenceArrays:
        return SequenceArrays(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(SequenceArrays)}
        )


@dataclass
class WindowBatch:
    """Torch tensors for one batch of windows (shapes as :class:`SequenceArrays`, N → B, F → T)."""

    masks: torch.Tensor
    keypoints: torch.Tensor
    crops: torch.Tensor
    k: torch.Tensor
    r: torch.Tensor
    t: torch.Tensor
    coords: torch.Tensor
    scales: torch.Tensor
    valid: torch.Tensor

    def inputs(self) -> NetworkInputs:
        return NetworkInputs(self.masks, self.keypoints, self.crops, self.k, self.r, self.t)

    def to(self, device: torch.device | str) -> WindowBatch:
        return WindowBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def make_batch(data: SequenceArrays, seq: np.ndarray, start: np.ndarray, length: int) -> WindowBatch:
    """Windows ``[start, start + length)`` of sequences ``seq`` as float32 tensors (masks → [0, 1])."""
    frames = start[:, None] + np.arange(length)[None, :]
    rows = seq[:, None]

    def per_frame(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a[rows, frames]))

    return WindowBatch(
        masks=per_frame(data.masks).float() / 255.0,
        keypoints=per_frame(data.keypoints).float(),
        crops=per_frame(data.crops).float(),
        k=torch.from_numpy(data.k[seq]).float(),
        r=torch.from_numpy(data.r[seq]).float(),
        t=torch.from_numpy(data.t[seq]).float(),
        coords=per_frame(data.coords).float(),
        scales=torch.from_numpy(data.scales[seq]).float(),
        valid=per_frame(data.valid).bool(),
    )


def sample_windows(data: SequenceArrays, rng: np.random.Generator, batch: int, length: int) -> WindowBatch:
    """A random batch of windows of ``length`` frames."""
    if length > data.n_frames:
        raise ValueError(f"window of {length} frames is longer than the sequences ({data.n_frames})")
    seq = rng.integers(0, data.n_sequences, size=batch)
    start = rng.integers(0, data.n_frames - length + 1, size=batch)
    return make_batch(data, seq, start, length)


def iter_windows(data: SequenceArrays, length: int, batch: int):
    """Every sequence cut into consecutive windows of ``length`` frames (the tail is dropped)."""
    starts = np.arange(0, data.n_frames - length + 1, length)
    pairs = [(s, st) for s in range(data.n_sequences) for st in starts]
    for i in range(0, len(pairs), batch):
        chunk = np.array(pairs[i : i + batch])
        yield make_batch(data, chunk[:, 0], chunk[:, 1], length)
