"""ONNX export of the inference graph and an onnxruntime predictor with the same outputs.

The graph takes the network inputs (see :mod:`model_store.network.model`) for a fixed window of
``config.window`` frames and a dynamic batch, and returns ``sincos`` [B, T, 36, 2], ``scales``
[B, 22, 3] and ``frame_scales`` [B, T, 22, 3]; angles are ``atan2(sin, cos)`` (radians).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from model_store.network.inputs import NetworkInputs
from model_store.network.model import KinematicsNet, NetworkOutputs

INPUT_NAMES = NetworkInputs.GRAPH_NAMES
#: Version of the exported graph for the same weights; bump it when the traced computation changes
#: (cached graphs carry it in their names). 2: heatmaps floored at ``HEATMAP_FLOOR`` (no subnormals).
GRAPH_VERSION = 2
OUTPUT_NAMES = ("sincos", "scales", "frame_scales")


class _Graph(nn.Module):
    def __init__(self, net: KinematicsNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, masks: torch.Tensor, keypoints: torch.Tensor, crops: torch.Tensor, k: torch.Tensor,
                r: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.net(NetworkInputs(masks, keypoints, crops, k, r, t))
        return out.sincos, out.scales, out.frame_scales


def example_inputs(net: KinematicsNet, batch: int = 1, frames: int | None = None) -> NetworkInputs:
    """Plausible dummy inputs (a person 4 m in front of two cameras) for tracing and tests."""
    cfg = net.config
    t_len = frames or cfg.window
    s = cfg.input_size
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(batch, t_len, 2, s, s)
    masks[..., s // 4 : 3 * s // 4, s // 3 : 2 * s // 3] = 1.0
    kp = torch.rand(batch, t_len, 2, cfg.n_landmarks, 3, generator=g)
    kp[..., :2] = kp[..., :2] * cfg.crop_size * 0.5 + cfg.crop_size * 0.25
    crops = torch.tensor([448.0, 28.0, 0.25]).expand(batch, t_len, 2, 3).contiguous()
    k = torch.tensor([[1000.0, 0, 960], [0, 1000.0, 540], [0, 0, 1]]).expand(batch, 2, 3, 3).contiguous()
    r = torch.eye(3).expand(batch, 2, 3, 3).contiguous()
    t = torch.tensor([0.0, -1.0, 4.0]).expand(batch, 2, 3).contiguous()
    return NetworkInputs(masks, kp, crops, k, r, t)


def export_onnx(net: KinematicsNet, path: str | Path, opset: int = 17) -> Path:
    """Write the inference graph to ``path`` (.onnx)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    dyn = {name: {0: "batch"} for name in (*INPUT_NAMES, *OUTPUT_NAMES)}
    with torch.no_grad():
        torch.onnx.export(
            _Graph(net), example_inputs(net).graph_tensors(), str(path), input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES), dynamic_axes=dyn, opset_version=opset, dynamo=False,
        )
    return path


class OnnxKinematicsNet:
    """onnxruntime session with the torch network's call signature (numpy or torch inputs)."""

    def __init__(self, path: str | Path, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        wanted = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.path = Path(path)
        options = ort.SessionOptions()
        # Subnormal floats make x86 arithmetic many times slower and change no output here.
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)

    def __call__(self, inputs: NetworkInputs) -> NetworkOutputs:
        feeds = {
            name: np.ascontiguousarray(np.asarray(x.cpu(), dtype=np.float32))
            for name, x in zip(INPUT_NAMES, inputs.graph_tensors(), strict=True)
        }
        sincos, scales, frame_scales = self.session.run(list(OUTPUT_NAMES), feeds)
        return NetworkOutputs(torch.from_numpy(sincos), torch.from_numpy(scales), torch.from_numpy(frame_scales))
