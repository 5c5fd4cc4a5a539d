"""Worker-facing inference: load the checkpoint once, predict one window of frames at a time.

``predict`` takes one window as :class:`~model_store.network.inputs.NetworkInputs` (batch of one,
e.g. :meth:`NetworkInputs.from_arrays`) — masks may be the 256² crop masks (uint8 or float), they
are resized here — and returns the 36 rotational coordinates (rad, ``ROTATIONAL_COORDINATES`` order)
per frame and one 22×3 scale set. The ``onnx`` backend runs the same graph with onnxruntime (CUDA
provider when available); ``auto`` (the default) uses it when it works.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model_store.network.checkpoint import CheckpointRecord, load_network
from model_store.network.inputs import NetworkInputs
from model_store.network.model import prepare_masks
from model_store.network.onnx_export import OnnxKinematicsNet, export_onnx

log = logging.getLogger(__name__)


@dataclass
class WindowPrediction:
    angles: np.ndarray  # [T, 36] rad
    scales: np.ndarray  # [22, 3]


class Predictor:
    """``backend``: ``torch``, ``onnx``, or ``auto`` (default: onnxruntime when it imports and the
    export works, else torch). The ONNX graph is exported once per checkpoint and cached (next to
    the weights if a ``.onnx`` is there, else under the system temp folder keyed by the weights'
    sha256); windows shorter than the network's window always run on torch."""

    def __init__(self, checkpoint: str | Path | None = None, backend: str = "auto", device: str | None = None):
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"unknown inference backend {backend!r} (use 'auto', 'torch' or 'onnx')")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net, self.record = load_network(checkpoint, device=self.device)
        self.config = self.net.config
        self._onnx: OnnxKinematicsNet | None = None
        if backend == "auto":
            try:
                self._onnx = self._load_onnx()
            except Exception as exc:  # any failure: the torch graph computes the same thing
                log.warning("onnxruntime backend unavailable (%s: %s); using torch", exc.__class__.__name__, exc)
        elif backend == "onnx":
            self._onnx = self._load_onnx()
        self.backend = "onnx" if self._onnx is not None else "torch"

    def _load_onnx(self) -> OnnxKinematicsNet:
        onnx_path = self.record.weights.with_suffix(".onnx")
        if not onnx_path.is_file():
            onnx_path = Path(tempfile.gettempdir()) / "kinematics-onnx" / f"{self.record.sha256[:24]}.onnx"
            if not onnx_path.is_file():
                tmp = onnx_path.with_name(f"{onnx_path.stem}.{os.getpid()}.tmp.onnx")
                export_onnx(self.net.cpu(), tmp)
                self.net.to(self.device)
                os.replace(tmp, onnx_path)  # atomic: concurrent workers never read a partial file
        return OnnxKinematicsNet(onnx_path)

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def checkpoint(self) -> CheckpointRecord:
        return self.record

    @torch.no_grad()
    def predict(self, window: NetworkInputs) -> WindowPrediction:
        """One window (batch of one): masks [1, T, 2, H, W], keypoints [1, T, 2, 33, 3], crops
        [1, T, 2, 3], cameras [1, 2, ...].

        ``T`` must equal ``window`` for the ONNX backend; the torch backend accepts ``T ≤ window``.
        """
        inputs = window.with_masks(prepare_masks(window.masks, self.config.input_size))
        if self._onnx is not None and inputs.n_frames == self.config.window:
            out = self._onnx(inputs)
        else:
            out = self.net(inputs.to(self.device))
        return WindowPrediction(out.angles[0].cpu().numpy(), out.scales[0].cpu().numpy())
