"""Our SimmSpline equals OpenSim's, inside and outside the knot range."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_definition
from model_store.biomech.spline import evaluate_spline, simm_spline_coefficients, spline_tensor


def _model_splines():
    md = load_definition()
    return [
        a.function for j in md.joints for a in j.spatial_transform if a.function and a.function.type == "SimmSpline"
    ]


def _opensim_values(osim, x, y, qs):
    sp = osim.SimmSpline()
    for a, b in zip(x, y, strict=True):
        sp.addPoint(float(a), float(b))
    return np.array([sp.calcValue(osim.Vector(1, float(q))) for q in qs])


def test_model_splines_match_opensim(opensim_module):
    splines = _model_splines()
    assert len(splines) == 14
    for f in splines:
        qs = np.linspace(min(f.x) - 0.3, max(f.x) + 0.3, 301)
        ours = evaluate_spline(spline_tensor(simm_spline_coefficients(f.x, f.y)), torch.tensor(qs)).numpy()
        np.testing.assert_allclose(ours, _opensim_values(opensim_module, f.x, f.y, qs), atol=1e-10)


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_random_knots_match_opensim(opensim_module, n):
    rng = np.random.default_rng(n)
    x = np.cumsum(rng.uniform(0.1, 1.0, n))
    y = rng.normal(size=n)
    qs = np.linspace(x[0] - 1, x[-1] + 1, 101)
    ours = evaluate_spline(spline_tensor(simm_spline_coefficients(x, y)), torch.tensor(qs)).numpy()
    np.testing.assert_allclose(ours, _opensim_values(opensim_module, x, y, qs), atol=1e-9)


def test_rejects_bad_knots():
    with pytest.raises(ValueError):
        simm_spline_coefficients([0.0, 0.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        simm_spline_coefficients([0.0], [1.0])
