"""The network's inputs as one typed record, shared by the model, the predictor, the ONNX graph,
training and the pipeline's inference stage.

All float32 torch tensors; B windows, T frames, V = 2 views (index 0 front, 1 side):

- ``masks`` [B, T, V, S, S]: person mask in [0, 1] at the network's ``input_size`` S
  (:meth:`~model_store.network.predictor.Predictor.predict` also takes uint8 or larger crops and
  prepares them with :func:`~model_store.network.model.prepare_masks`);
- ``keypoints`` [B, T, V, 33, 3]: (x, y) in px of the ``crop_size`` crop, visibility in [0, 1];
- ``crops`` [B, T, V, 3]: (x0, y0, scale) mapping crop px ↔ full-frame px (``model_store.keypoints.crops``);
- ``k``, ``r`` [B, V, 3, 3] and ``t`` [B, V, 3]: the cameras, OpenSim ground → camera (px, m);
- ``rgb`` [B, T, V, 3, S, S] in [0, 1], only for networks configured with RGB inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch


@dataclass(frozen=True)
class NetworkInputs:
    masks: torch.Tensor
    keypoints: torch.Tensor
    crops: torch.Tensor
    k: torch.Tensor
    r: torch.Tensor
    t: torch.Tensor
    rgb: torch.Tensor | None = None

    #: Names of the tensors the exported ONNX graph takes, in its order (no ``rgb``).
    GRAPH_NAMES = ("masks", "keypoints", "crops", "k", "r", "t")

    @classmethod
    def from_arrays(cls, masks: np.ndarray | torch.Tensor, keypoints: np.ndarray, crops: np.ndarray,
                    k: np.ndarray, r: np.ndarray, t: np.ndarray) -> NetworkInputs:
        """One window from numpy arrays without the batch axis (masks [T, V, H, W] keep their dtype;
        the rest become float32); adds the batch axis."""
        return cls(torch.as_tensor(masks)[None],
                   *(torch.as_tensor(np.asarray(a), dtype=torch.float32)[None] for a in (keypoints, crops, k, r, t)))

    @property
    def n_frames(self) -> int:
        return int(self.masks.shape[1])

    def graph_tensors(self) -> tuple[torch.Tensor, ...]:
        """The tensors of :data:`GRAPH_NAMES`, in order (the ONNX graph's positional inputs)."""
        return tuple(getattr(self, name) for name in self.GRAPH_NAMES)

    def to(self, device: torch.device | str) -> NetworkInputs:
        return NetworkInputs(self.masks.to(device), self.keypoints.to(device), self.crops.to(device),
                             self.k.to(device), self.r.to(device), self.t.to(device),
                             None if self.rgb is None else self.rgb.to(device))

    def with_masks(self, masks: torch.Tensor) -> NetworkInputs:
        return replace(self, masks=masks)
