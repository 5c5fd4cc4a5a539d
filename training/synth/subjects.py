"""Subject variety: per-sequence body scale factors (22 × 3), girth and clothing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_store.biomech import load_definition

GENERIC_HEIGHT_M = 1.72  # standing height of the unscaled Rajagopal model (head top ≈ nose + 0.1 m)
HEIGHT_RANGE_M = (1.45, 2.0)


@dataclass(frozen=True)
class Subject:
    scales: np.ndarray  # [22, 3]
    height_m: float
    girth: float  # radius multiplier of the body surface
    clothing: float  # extra inflation of trunk and thighs (1 = tight clothes)


def sample_subject(rng: np.random.Generator) -> Subject:
    """Height uniform in 1.45–2.0 m; segments vary ±4 % (left/right alike), axes ±3 %, build ±6 % (x, z)."""
    names = load_definition().body_names
    height = rng.uniform(*HEIGHT_RANGE_M)
    g = height / GENERIC_HEIGHT_M
    per_segment: dict[str, float] = {}
    scales = np.empty((len(names), 3))
    build = rng.normal(1.0, 0.06)
    for i, n in enumerate(names):
        base = n[:-2] if n[-2:] in ("_r", "_l") else n
        if base not in per_segment:
            per_segment[base] = rng.normal(1.0, 0.04)
        s = g * per_segment[base] * (1.0 + rng.normal(0.0, 0.01)) * (1.0 + rng.normal(0.0, 0.03, 3))
        s[[0, 2]] *= build
        scales[i] = s
    scales = np.clip(scales, 0.75, 1.3)
    clothing = 1.0 if rng.random() < 0.5 else rng.uniform(1.05, 1.3)
    return Subject(scales=scales, height_m=float(height), girth=float(rng.uniform(0.85, 1.3)), clothing=float(clothing))
