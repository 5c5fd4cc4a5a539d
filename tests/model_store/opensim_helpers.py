"""Helpers that ask real OpenSim for body positions (the reference our FK must match)."""

from __future__ import annotations

from typing import Any

import numpy as np


def scale_set(osim: Any, body_names: list[str] | tuple[str, ...], scales: np.ndarray) -> Any:
    ss = osim.ScaleSet()
    for name, s in zip(body_names, scales, strict=True):
        sc = osim.Scale()
        sc.setSegmentName(name)
        sc.setScaleFactors(osim.Vec3(*map(float, s)))
        sc.setApply(True)
        ss.cloneAndAppend(sc)
    return ss


def unlocked_state(model: Any) -> Any:
    """Unlock every coordinate (random poses visit locked ones too) and return a fresh state."""
    for c in model.getCoordinateSet():
        c.setDefaultLocked(False)
    return model.initSystem()


def body_origins(model: Any, state: Any, coords: np.ndarray) -> np.ndarray:
    """Set ``coords`` [C] (model coordinate order, rad/m) and return body origins [N, 3] in metres."""
    cs = model.getCoordinateSet()
    for i in range(cs.getSize()):
        cs.get(i).setValue(state, float(coords[i]), False)
    model.realizePosition(state)
    return np.array([[b.getPositionInGround(state).get(k) for k in range(3)] for b in model.getBodySet()])


def random_poses(rng: np.random.Generator, ranges: np.ndarray, n: int) -> np.ndarray:
    """Uniform poses inside the coordinate ranges; pelvis translations within ±1 m (ty 0.5–1.5 m)."""
    lo, hi = ranges[:, 0].copy(), ranges[:, 1].copy()
    lo[3:6], hi[3:6] = (-1.0, 0.5, -1.0), (1.0, 1.5, 1.0)
    return rng.uniform(lo, hi, size=(n, ranges.shape[0]))
