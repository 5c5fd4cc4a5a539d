"""The fit's anatomical prior on how trunk lean splits into pelvis tilt and lumbar extension.

Keypoints see the trunk's lean, not how much of it is the pelvis tilting and how much the lumbar
spine bending (both turn about nearly the same axis through the hips), and hip flexion inherits
whatever the pelvis gets wrong. The prior says what marker-based motion capture says about that split:
the pelvis's anatomical tilt (:mod:`model_store.biomech.posture`, heading-invariant) is about
``intercept + slope × trunk lean``, with ``sigma`` the error to expect on a person the prior never saw.
``model_store/data/anatomical_prior.json`` is written by ``training.anatomical_prior`` (recipe, trials
and leave-one-subject-out figures in its ``manifest``); nothing here is typed by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from model_store.biomech.posture import Posture

DEFAULT_PRIOR_FILE = Path(__file__).resolve().parents[1] / "data" / "anatomical_prior.json"


@dataclass(frozen=True)
class AnatomicalPrior:
    """Pelvis tilt ≈ ``intercept_rad`` + ``trunk_lean_slope`` × trunk lean (rad), ± ``sigma_rad``."""

    intercept_rad: float
    trunk_lean_slope: float
    sigma_rad: float

    def tilt_residual(self, posture: Posture, q: torch.Tensor) -> torch.Tensor:
        """(anatomical tilt − the prior's) / sigma per frame [...] for coordinates [..., 39]."""
        expected = self.intercept_rad + self.trunk_lean_slope * posture.trunk_lean(q)
        return (posture.pelvis_tilt(q) - expected) / self.sigma_rad


@cache
def load_anatomical_prior(path: Path = DEFAULT_PRIOR_FILE) -> AnatomicalPrior:
    """The prior in ``path`` (the bundled one by default)."""
    doc = json.loads(Path(path).read_text())
    p = doc["pelvis_tilt"]
    prior = AnatomicalPrior(float(p["intercept_rad"]), float(p["trunk_lean_slope"]), float(p["sigma_rad"]))
    if not prior.sigma_rad > 0:
        raise ValueError(f"{path}: the anatomical prior's sigma must be positive")
    return prior


__all__ = ["DEFAULT_PRIOR_FILE", "AnatomicalPrior", "load_anatomical_prior"]
