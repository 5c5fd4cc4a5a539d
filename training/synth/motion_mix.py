"""Training motions drawn from a mixture: real trials of the motion library, procedural kinds, random.

All outputs are coordinates [frames, 39] (rad / m, model order) at ``fps`` in the OpenSim ground
frame, grounded for the given subject's scales, plus a source label (``real:<kind>``,
``procedural:<kind>`` or ``random``).

Real trials: a kind is drawn uniformly among the library's kinds (so the 4.5 balance minutes do not
drown the 5 jump seconds), then a trial with probability proportional to its length; a window is
time-warped ×0.8–1.25 (:func:`motions.walk_window`), mirrored left/right with probability ½, its
joint amplitudes scaled ×0.85–1.15, walking and running windows turned along a curve (17–92°
over the window) in 35 % of cases, re-centred horizontally and turned to a random heading. It is
put on the floor by one constant shift per clip (the lowest foot point over the clip touches the
floor), so jumps keep their flight phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_store.biomech import load_definition
from model_store.conventions import MODEL_RATE_HZ
from training.motion_library.library import MotionLibrary
from training.synth import motions
from training.synth.procedural import MOTION_KINDS, ground_feet, motion_of_kind

#: Library kinds that may be turned along a curve (:func:`motions.curve_path`) in 35 % of windows.
TURNABLE = frozenset({"walk", "run", "sprint"})


@dataclass(frozen=True)
class MixWeights:
    """Probabilities of a real trial, a procedural kind and a random motion (normalised)."""

    real: float = 0.5
    procedural: float = 0.3
    random: float = 0.2


def ground_clip(q: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``q`` with ``pelvis_ty`` shifted by one constant so the lowest foot point over the whole clip
    is on the floor for a subject with ``scales`` [22, 3] (flight phases stay in the air)."""
    per_frame = ground_feet(q, scales)
    ty = load_definition().coordinate_names.index("pelvis_ty")
    out = q.copy()
    out[:, ty] += float((per_frame[:, ty] - q[:, ty]).max())
    return out


def place_clip(q: np.ndarray, rng: np.random.Generator, scales: np.ndarray) -> np.ndarray:
    """A recorded window [T, 39] made ready to render: horizontally re-centred, turned to a random
    heading, angles unwrapped in time, grounded for ``scales`` by one constant shift."""
    names = load_definition().coordinate_names
    q = q.copy()
    for n in ("pelvis_tx", "pelvis_tz"):
        q[:, names.index(n)] -= q[:, names.index(n)].mean()
    q = np.unwrap(motions.rotate_heading(q, rng.uniform(-np.pi, np.pi)), axis=0)
    return ground_clip(q, scales)


class MotionMix:
    """Samples motions from ``library`` (one split only: training, or test for evaluation sets)."""

    def __init__(self, library: MotionLibrary | None, weights: MixWeights = MixWeights(),
                 procedural_kinds: tuple[str, ...] = tuple(MOTION_KINDS)) -> None:
        if library is not None and len({t["split"] for t in library.trials}) > 1:
            raise ValueError("MotionMix: the library mixes training and test trials; select one split")
        self.library = library if library is not None and len(library) else None
        self.procedural_kinds = procedural_kinds
        w = np.array([weights.real if self.library else 0.0, weights.procedural if procedural_kinds else 0.0,
                      weights.random])
        if w.sum() <= 0:
            raise ValueError("MotionMix: every source has zero weight")
        self.p = w / w.sum()

    def sample(self, rng: np.random.Generator, frames: int, fps: float, scales: np.ndarray) -> tuple[np.ndarray, str]:
        which = rng.choice(3, p=self.p)
        if which == 0:
            return self._real(rng, frames, fps, scales)
        if which == 1:
            kind = self.procedural_kinds[rng.integers(len(self.procedural_kinds))]
            return motion_of_kind(kind, rng, frames, fps, scales=scales), f"procedural:{kind}"
        return motions.random_motion(rng, frames, fps), "random"

    def _real(self, rng: np.random.Generator, frames: int, fps: float, scales: np.ndarray) -> tuple[np.ndarray, str]:
        lib = self.library
        assert lib is not None
        kinds = lib.kinds
        kind = kinds[rng.integers(len(kinds))]
        idx = [i for i, t in enumerate(lib.trials) if t["kind"] == kind]
        lengths = np.array([len(lib.coords[i]) for i in idx], float)
        i = idx[rng.choice(len(idx), p=lengths / lengths.sum())]
        q = motions.walk_window(rng, lib.coords[i].astype(np.float64), MODEL_RATE_HZ, frames, fps)
        if rng.random() < 0.5:
            q = motions.mirror(q)
        q = motions.scale_amplitude(q, rng, 0.85, 1.15)
        if kind in TURNABLE and rng.random() < 0.35:  # walking / running along a curve
            q = motions.curve_path(q, rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.6))
        return place_clip(q, rng, scales), f"real:{kind}"


__all__ = ["MixWeights", "MotionMix", "ground_clip", "place_clip"]
