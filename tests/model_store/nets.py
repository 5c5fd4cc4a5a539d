"""Small networks for tests: the tiny config with non-zero heads, so outputs depend on the inputs."""

from __future__ import annotations

import torch

from model_store.network import KinematicsNet, get_config


def randomised(net: KinematicsNet) -> KinematicsNet:
    """Give zero-initialised heads non-zero weights so outputs depend on the inputs (eval mode)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in (net.scale_head.weight, net.temporal_out.weight):
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return net.eval()


def tiny_net() -> KinematicsNet:
    return randomised(KinematicsNet(get_config("tiny")))
