"""How network outputs map onto the model's coordinates (names come from the model definition)."""

from __future__ import annotations

import numpy as np
import torch

from model_store.biomech.definition import load_definition


def rotational_indices() -> list[int]:
    """Indices (model order) of the 36 coordinates the network predicts: all but pelvis translations."""
    return [i for i, c in enumerate(load_definition().coordinates) if c.motion_type != "translational"]


ROTATIONAL_COORDINATES: tuple[str, ...] = tuple(load_definition().coordinate_names[i] for i in rotational_indices())


def assemble_coordinates(angles: torch.Tensor | np.ndarray, translations: torch.Tensor | np.ndarray | None = None):
    """Full coordinates [..., 39] from predicted angles [..., 36] (rad) and pelvis tx/ty/tz [..., 3] (m).

    Missing translations become the model defaults. Works for numpy arrays and torch tensors.
    """
    md = load_definition()
    rot = rotational_indices()
    trans = [i for i in range(len(md.coordinates)) if i not in rot]
    defaults = [c.default for c in md.coordinates]
    if isinstance(angles, np.ndarray):
        out = np.tile(np.asarray(defaults, dtype=angles.dtype), (*angles.shape[:-1], 1))
        out[..., rot] = angles
        if translations is not None:
            out[..., trans] = translations
        return out
    out_t = torch.tensor(defaults, dtype=angles.dtype, device=angles.device).expand(*angles.shape[:-1], -1).clone()
    out_t[..., rot] = angles
    if translations is not None:
        out_t[..., trans] = torch.as_tensor(translations, dtype=angles.dtype, device=angles.device)
    return out_t
