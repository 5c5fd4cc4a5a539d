"""Left/right mirroring of the model's motion across the ground's sagittal (x–y) plane (z → −z).

The Rajagopal 2016 model is left/right symmetric: a mirrored motion swaps each ``_r`` coordinate
with its ``_l`` twin and negates the coordinates that turn or move the body out of the sagittal
plane (:data:`MIRROR_NEGATE`); body origins of the mirrored motion are the original ones with the
sides swapped and z negated. Body scale factors swap sides and keep their axes.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from model_store.biomech.definition import load_definition

#: Coordinates whose sign flips under the mirror (out-of-plane pelvis and lumbar motion, pelvis z).
MIRROR_NEGATE = ("pelvis_list", "pelvis_rotation", "pelvis_tz", "lumbar_bending", "lumbar_rotation")


def other_side(name: str) -> str | None:
    """``hip_flexion_r`` → ``hip_flexion_l``, ``knee_angle_l_beta`` → ``knee_angle_r_beta``; else None."""
    parts = name.split("_")
    for k, p in enumerate(parts):
        if p in ("r", "l"):
            parts[k] = "l" if p == "r" else "r"
            return "_".join(parts)
    return None


@cache
def _coordinate_map(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(source index, sign) per coordinate of ``names`` under the mirror."""
    src = np.array([names.index(o) if (o := other_side(n)) in names else i for i, n in enumerate(names)])
    sign = np.array([-1.0 if n in MIRROR_NEGATE else 1.0 for n in names])
    return src, sign


def mirror_coordinates(q: np.ndarray, names: tuple[str, ...] | None = None) -> np.ndarray:
    """The mirrored motion: ``q`` [..., N] (rad / m) over coordinates ``names`` (default: all 39 of the
    model, in model order; any subset that holds each sided coordinate's twin works, e.g. the 36
    rotational ones). Mirroring twice gives ``q`` back."""
    names = tuple(names) if names is not None else load_definition().coordinate_names
    src, sign = _coordinate_map(names)
    return np.asarray(q)[..., src] * sign


@cache
def body_mirror_permutation() -> tuple[int, ...]:
    """Index of each body's mirror twin (model body order; unsided bodies map to themselves)."""
    names = load_definition().body_names
    return tuple(names.index(o) if (o := other_side(n)) in names else i for i, n in enumerate(names))


def mirror_scales(scales: np.ndarray) -> np.ndarray:
    """Body scale factors [..., 22, 3] of the mirrored subject (sides swapped, axes kept)."""
    return np.asarray(scales)[..., list(body_mirror_permutation()), :]


__all__ = ["MIRROR_NEGATE", "body_mirror_permutation", "mirror_coordinates", "mirror_scales", "other_side"]
