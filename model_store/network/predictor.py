"""Worker-facing inference: load the checkpoint once, predict one window of frames at a time.

``predict`` takes numpy arrays for a single window (no batch axis) with the layout documented in
:mod:`model_store.network.model` — masks may be the 256² crop masks (uint8 or float), they are
resized here — and returns the 36 rotational coordinates (rad, ``ROTATIONAL_COORDINATES`` order)
per frame and one 22×3 scale set. ``backend="onnx"`` runs the same graph with onnxruntime (CUDA
provider when available).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model_store.network.checkpoint import CheckpointRecord, load_network
from model_store.network.model import prepare_masks
from model_store.network.onnx_export import OnnxKinematicsNet, export_onnx


@dataclass
class WindowPrediction:
    angles: np.ndarray  # [T, 36] rad
    scales: np.ndarray  # [22, 3]


class Predictor:
    def __init__(self, checkpoint: str | Path | None = None, backend: str = "torch", device: str | None = None):
        if backend not in ("torch", "onnx"):
            raise ValueError(f"unknown inference backend {backend!r} (use 'torch' or 'onnx')")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net, self.record = load_network(checkpoint, device=self.device)
        self.config = self.net.config
        self.backend = backend
        self._onnx: OnnxKinematicsNet | None = None
        if backend == "onnx":
            onnx_path = self.record.weights.with_suffix(".onnx")
            if not onnx_path.is_file():
                onnx_path = Path(tempfile.mkdtemp(prefix="kinematics-onnx-")) / "network.onnx"
                export_onnx(self.net.cpu(), onnx_path)
                self.net.to(self.device)
            self._onnx = OnnxKinematicsNet(onnx_path)

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def checkpoint(self) -> CheckpointRecord:
        return self.record

    @torch.no_grad()
    def predict(
        self,
        masks: np.ndarray,
        keypoints: np.ndarray,
        crops: np.ndarray,
        k: np.ndarray,
        r: np.ndarray,
        t: np.ndarray,
    ) -> WindowPrediction:
        """One window: masks [T, 2, H, W], keypoints [T, 2, 33, 3], crops [T, 2, 3], cameras [2, ...].

        ``T`` must equal ``window`` for the ONNX backend; the torch backend accepts ``T ≤ window``.
        """
        m = prepare_masks(torch.as_tensor(masks), self.config.input_size)[None]
        args = [m] + [torch.as_tensor(np.asarray(a), dtype=torch.float32)[None] for a in (keypoints, crops, k, r, t)]
        if self._onnx is not None:
            out = self._onnx(*[a.numpy() for a in args])
        else:
            out = self.net(*[a.to(self.device) for a in args])
        return WindowPrediction(out.angles[0].cpu().numpy(), out.scales[0].cpu().numpy())
