"""OpenSim ``SimmSpline`` evaluation (numpy coefficients, torch evaluation).

SimmSpline is the Forsythe–Malcolm–Moler interpolating cubic spline: at each end, the spline's
third derivative equals the third derivative of the cubic through the four nearest knots (with
three knots: zero third derivative; with two: a straight line). Outside the knot range OpenSim
extrapolates linearly with the end slope. The coefficients here are derived from those
conditions (second-derivative formulation, solved densely — the systems are tiny) and checked
against ``opensim.SimmSpline`` in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class SplineCoefficients:
    """Per-knot polynomial ``y_k + b_k dx + c_k dx² + d_k dx³`` with ``dx = x - x_k``."""

    x: np.ndarray
    y: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray


def _third_divided_difference(x: np.ndarray, y: np.ndarray) -> float:
    """f[x0, x1, x2, x3] for four points."""
    d1 = np.diff(y) / np.diff(x)
    d2 = np.diff(d1) / (x[2:] - x[:-2])
    return float((d2[1] - d2[0]) / (x[3] - x[0]))


def simm_spline_coefficients(x_knots: ArrayLike, y_knots: ArrayLike) -> SplineCoefficients:
    """Compute SimmSpline coefficients for strictly increasing knots ``x`` (float64)."""
    x = np.asarray(x_knots, dtype=np.float64)
    y = np.asarray(y_knots, dtype=np.float64)
    n = x.size
    if n < 2 or y.size != n:
        raise ValueError("a spline needs at least two (x, y) knots of equal count")
    h = np.diff(x)
    if np.any(h <= 0):
        raise ValueError("spline knots must be strictly increasing")
    if n == 2:
        slope = (y[1] - y[0]) / h[0]
        z = np.zeros(2)
        return SplineCoefficients(x, y, np.full(2, slope), z, z.copy())
    # Unknowns: second derivatives M_0..M_{n-1}.
    a = np.zeros((n, n))
    rhs = np.zeros(n)
    slopes = np.diff(y) / h
    for i in range(1, n - 1):
        a[i, i - 1] = h[i - 1]
        a[i, i] = 2.0 * (h[i - 1] + h[i])
        a[i, i + 1] = h[i]
        rhs[i] = 6.0 * (slopes[i] - slopes[i - 1])
    # End conditions: (M_1 - M_0) / h_0 = 6 f[x0..x3]; (M_{n-1} - M_{n-2}) / h_{n-2} = 6 f[x_{n-4}..x_{n-1}].
    t0 = 6.0 * _third_divided_difference(x[:4], y[:4]) if n > 3 else 0.0
    t1 = 6.0 * _third_divided_difference(x[-4:], y[-4:]) if n > 3 else 0.0
    a[0, 0], a[0, 1], rhs[0] = -1.0 / h[0], 1.0 / h[0], t0
    a[-1, -2], a[-1, -1], rhs[-1] = -1.0 / h[-1], 1.0 / h[-1], t1
    m = np.linalg.solve(a, rhs)
    b = np.empty(n)
    b[:-1] = slopes - h * (2.0 * m[:-1] + m[1:]) / 6.0
    b[-1] = slopes[-1] + h[-1] * (m[-2] + 2.0 * m[-1]) / 6.0  # slope at the last knot
    c = m / 2.0
    d = np.zeros(n)
    d[:-1] = (m[1:] - m[:-1]) / (6.0 * h)
    return SplineCoefficients(x, y, b, c, d)


def evaluate_spline(coef: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Evaluate a spline at ``q`` (any shape). ``coef`` is [5, K]: rows x, y, b, c, d.

    Inside the knot range the cubic piece is used; outside, linear extrapolation with the end
    slope (OpenSim's behaviour). Differentiable with respect to ``q``.
    """
    x, y, b, c, d = coef
    k = x.numel()
    idx = torch.searchsorted(x.contiguous(), q.detach().contiguous(), right=True) - 1
    idx = idx.clamp(0, k - 2)
    dx = q - x[idx]
    inside = y[idx] + dx * (b[idx] + dx * (c[idx] + dx * d[idx]))
    below = y[0] + (q - x[0]) * b[0]
    above = y[-1] + (q - x[-1]) * b[-1]
    return torch.where(q < x[0], below, torch.where(q > x[-1], above, inside))


def spline_tensor(coef: SplineCoefficients) -> torch.Tensor:
    """Pack coefficients as a float64 [5, K] tensor for :func:`evaluate_spline`."""
    return torch.tensor(np.stack([coef.x, coef.y, coef.b, coef.c, coef.d]), dtype=torch.float64)


def evaluate_spline_derivative(coef: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """d/dq of :func:`evaluate_spline` at ``q`` (the end slopes outside the knot range)."""
    x, _, b, c, d = coef
    k = x.numel()
    idx = torch.searchsorted(x.contiguous(), q.detach().contiguous(), right=True) - 1
    idx = idx.clamp(0, k - 2)
    dx = q - x[idx]
    inside = b[idx] + dx * (2.0 * c[idx] + 3.0 * dx * d[idx])
    return torch.where(q < x[0], b[0].expand_as(q), torch.where(q > x[-1], b[-1].expand_as(q), inside))
