"""Worker-facing inference: load the checkpoint once, predict one window of frames at a time.

``predict`` takes one window as :class:`~model_store.network.inputs.NetworkInputs` (batch of one,
e.g. :meth:`NetworkInputs.from_arrays`) — masks may be the 256² crop masks (uint8 or float), they
are resized here — and returns the 36 rotational coordinates (rad, ``ROTATIONAL_COORDINATES`` order)
per frame and one 22×3 scale set. The ``onnx`` backend runs the same graph with onnxruntime (CUDA
provider when available); ``auto`` (the default) uses whichever of the two is faster here (see
:class:`Predictor`). ``mirror_average`` adds a second pass on the window's mirror image and
averages the two answers (:mod:`model_store.network.mirror`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model_store.network.checkpoint import CheckpointRecord, load_network
from model_store.network.inputs import NetworkInputs
from model_store.network.mirror import average_with_mirror, mirror_inputs
from model_store.network.model import prepare_masks
from model_store.network.onnx_export import GRAPH_VERSION, OnnxKinematicsNet, example_inputs, export_onnx

log = logging.getLogger(__name__)


@dataclass
class WindowPrediction:
    angles: np.ndarray  # [T, 36] rad
    scales: np.ndarray  # [22, 3]


#: ``auto``'s measured choice per (weights sha256, device) in this process: "onnx" or "torch".
_AUTO_CHOICE: dict[tuple[str, str], str] = {}
#: Where ``auto`` keeps its measurements between processes (with the exported graphs).
CACHE_DIR = Path(tempfile.gettempdir()) / "kinematics-onnx"


def _seconds(fn: Callable[[], object]) -> float:
    """Wall time (s) of one call after one warm-up call."""
    fn()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _versions() -> dict[str, str]:
    import onnxruntime

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "graph": str(GRAPH_VERSION)}


class Predictor:
    """``backend``: ``torch``, ``onnx``, or ``auto`` (default: whichever of onnxruntime and torch
    runs one full window faster on this machine, measured once per checkpoint, device and library
    versions and kept in :data:`CACHE_DIR`; torch when onnxruntime does not import or the export
    fails). Which is faster depends on the CPU and the library versions: on a 2-core Sapphire
    Rapids Xeon onnxruntime 1.32 ran the bundled network's window ~1.5× faster than torch 2.13
    (docs/benchmarks.md). The ONNX graph is exported once per checkpoint and cached (next to the
    weights if a ``.onnx`` is there, else in :data:`CACHE_DIR` keyed by the weights' sha256 and
    :data:`~model_store.network.onnx_export.GRAPH_VERSION`); windows shorter than the network's
    window always run on torch.
    ``backend_seconds`` holds the timings ``auto`` compared (s per window; empty when it did not
    measure). ``mirror_average``: see the module docstring."""

    def __init__(self, checkpoint: str | Path | None = None, backend: str = "auto", device: str | None = None,
                 mirror_average: bool = False):
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"unknown inference backend {backend!r} (use 'auto', 'torch' or 'onnx')")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net, self.record = load_network(checkpoint, device=self.device)
        self.config = self.net.config
        self._onnx: OnnxKinematicsNet | None = None
        self.backend_seconds: dict[str, float] = {}
        if backend == "auto":
            key = (self.record.sha256, str(self.device))
            choice = _AUTO_CHOICE.get(key) or self._stored_choice()  # None: not measured yet
            if choice != "torch":
                try:
                    self._onnx = self._load_onnx()
                except Exception as exc:  # any failure: the torch graph computes the same thing
                    log.warning("onnxruntime backend unavailable (%s: %s); using torch", exc.__class__.__name__, exc)
                if self._onnx is not None and choice is None and not self._measure_onnx_faster():
                    self._onnx = None
            _AUTO_CHOICE[key] = "onnx" if self._onnx is not None else "torch"
        elif backend == "onnx":
            self._onnx = self._load_onnx()
        self.backend = "onnx" if self._onnx is not None else "torch"
        self.mirror_average = mirror_average

    @property
    def runs_on(self) -> str:
        """What computes the network, for the job summary: ``onnxruntime CUDAExecutionProvider``,
        ``onnxruntime CPUExecutionProvider``, ``torch cuda`` or ``torch cpu``."""
        if self._onnx is not None:
            return f"onnxruntime {self._onnx.session.get_providers()[0]}"
        return f"torch {self.device.type}"

    def _choice_path(self) -> Path:
        return CACHE_DIR / f"{self.record.sha256[:24]}.{self.device.type}.backend.json"

    def _stored_choice(self) -> str | None:
        """The backend an earlier process measured faster for these weights, device and library
        versions (None: not measured, or measured with other versions)."""
        try:
            doc = json.loads(self._choice_path().read_text())
            return str(doc["faster"]) if doc.get("versions") == _versions() else None
        except (OSError, ValueError, KeyError, ImportError):
            return None

    @torch.no_grad()
    def _measure_onnx_faster(self) -> bool:
        """Time one full window of plausible inputs on both backends (kept for later processes);
        True when onnxruntime wins."""
        assert self._onnx is not None
        window = example_inputs(self.net)
        onnx_net, net = self._onnx, self.net
        self.backend_seconds = {"onnx": _seconds(lambda: onnx_net(window)),
                                "torch": _seconds(lambda: net(window.to(self.device)))}
        faster = min(self.backend_seconds, key=self.backend_seconds.__getitem__)
        log.info("inference backend timings (s per %d-frame window): %s", self.config.window, self.backend_seconds)
        path = self._choice_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"faster": faster, "seconds_per_window": self.backend_seconds,
                                       "versions": _versions()}))
            os.replace(tmp, path)
        except OSError as exc:  # a read-only temp folder only costs the next process a measurement
            log.warning("could not store the backend choice at %s: %s", path, exc)
        return faster == "onnx"

    def _load_onnx(self) -> OnnxKinematicsNet:
        onnx_path = self.record.weights.with_suffix(".onnx")
        if not onnx_path.is_file():
            onnx_path = CACHE_DIR / f"{self.record.sha256[:24]}.g{GRAPH_VERSION}.onnx"
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
        angles, scales = self._run(inputs)
        if self.mirror_average:
            m_angles, m_scales = self._run(mirror_inputs(inputs, self.config.crop_size))
            angles, scales = average_with_mirror(angles, scales, m_angles, m_scales)
        return WindowPrediction(angles, scales)

    def _run(self, inputs: NetworkInputs) -> tuple[np.ndarray, np.ndarray]:
        if self._onnx is not None and inputs.n_frames == self.config.window:
            out = self._onnx(inputs)
        else:
            out = self.net(inputs.to(self.device))
        return out.angles[0].cpu().numpy(), out.scales[0].cpu().numpy()
