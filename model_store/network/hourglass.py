"""Stacked-hourglass image encoder (Newell et al. 2016, as used by PIFu/LVD), sizes from config."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Residual(nn.Module):
    """Pre-activation bottleneck residual block."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        mid = max(c_out // 2, 4)
        self.body = nn.Sequential(
            nn.GroupNorm(_groups(c_in), c_in), nn.ReLU(inplace=True), nn.Conv2d(c_in, mid, 1),
            nn.GroupNorm(_groups(mid), mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.GroupNorm(_groups(mid), mid), nn.ReLU(inplace=True), nn.Conv2d(mid, c_out, 1),
        )
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1


class Hourglass(nn.Module):
    def __init__(self, depth: int, c: int) -> None:
        super().__init__()
        self.up1 = Residual(c, c)
        self.low1 = Residual(c, c)
        self.low2 = Hourglass(depth - 1, c) if depth > 1 else Residual(c, c)
        self.low3 = Residual(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))
        return self.up1(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


class StackedHourglass(nn.Module):
    """Image [N, C_in, S, S] → list of feature maps [N, C, S/2, S/2], one per stack (last is best)."""

    def __init__(self, c_in: int, channels: int, stacks: int, depth: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(c_in, channels, 5, stride=2, padding=2), Residual(channels, channels)
        )
        self.stacks = nn.ModuleList(Hourglass(depth, channels) for _ in range(stacks))
        self.outs = nn.ModuleList(
            nn.Sequential(Residual(channels, channels), nn.GroupNorm(_groups(channels), channels), nn.ReLU())
            for _ in range(stacks)
        )
        self.merges = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(stacks - 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for i, (hg, out) in enumerate(zip(self.stacks, self.outs, strict=True)):
            y = out(hg(x))
            feats.append(y)
            if i < len(self.merges):
                x = x + self.merges[i](y)
        return feats
