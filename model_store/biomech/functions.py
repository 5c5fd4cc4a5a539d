"""OpenSim's functions of one coordinate (Constant, LinearFunction, SimmSpline, and a MultiplierFunction of
one of them), evaluated on torch tensors with their derivative: what joint axes and couplers are made of."""

from __future__ import annotations

import torch

from model_store.biomech.definition import FunctionDef
from model_store.biomech.spline import (
    evaluate_spline,
    evaluate_spline_derivative,
    simm_spline_coefficients,
    spline_tensor,
)


class CoordinateFunction:
    """A Python-side evaluator of one OpenSim function of a single coordinate."""

    def __init__(self, fn: FunctionDef, coord_index: int | None) -> None:
        self.fn = fn
        self.index = coord_index
        self.spline = None
        base = fn.inner if fn.type == "MultiplierFunction" else fn
        assert base is not None
        self.base = base
        self.multiplier = fn.scale if fn.type == "MultiplierFunction" else 1.0
        if base.type == "SimmSpline":
            self.spline = spline_tensor(simm_spline_coefficients(base.x, base.y))
        if base.type not in ("Constant", "LinearFunction", "SimmSpline"):
            raise ValueError(f"unsupported function {base.type}")

    @property
    def is_constant(self) -> bool:
        return self.base.type == "Constant" or self.index is None

    @property
    def constant_value(self) -> float:
        """The value of a constant function (:attr:`is_constant`)."""
        value = self.base.value if self.base.type == "Constant" else self.base.intercept
        return value * self.multiplier

    def __call__(self, coords: torch.Tensor, spline: torch.Tensor | None) -> torch.Tensor:
        if self.is_constant:
            return coords.new_full(coords.shape[:1], self.constant_value)
        q = coords[:, self.index]
        if self.base.type == "LinearFunction":
            return (self.base.slope * q + self.base.intercept) * self.multiplier
        assert spline is not None
        return evaluate_spline(spline, q) * self.multiplier

    def derivative(self, coords: torch.Tensor, spline: torch.Tensor | None) -> torch.Tensor:
        """d value / d coordinate, [B] (zero for constants)."""
        if self.is_constant:
            return coords.new_zeros(coords.shape[:1])
        q = coords[:, self.index]
        if self.base.type == "LinearFunction":
            return torch.full_like(q, self.base.slope * self.multiplier)
        assert spline is not None
        return evaluate_spline_derivative(spline, q) * self.multiplier
