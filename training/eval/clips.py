"""Held-out evaluation clips of several motion kinds, with detections that look like a real detector's.

Motion kinds: ``real_<kind>`` — whole held-out trials of the motion library (split ``test``, never
trained on; :mod:`training.motion_library`); ``run``, ``squat``, ``lunge``, ``sit_to_stand``,
``arm_raises``, ``bend_reach`` — procedural kinds (:mod:`training.synth.procedural`; the ``gpu`` recipe trains on
other draws of them, the clips here use seeds training never uses); ``walk`` — the shared walking
trial mirrored left/right (held out only for networks trained with the ``small`` recipe: the
``gpu`` recipe's mirroring augmentation sees it); and optionally ``run_real`` — opensim-models'
reserved running trial (evaluation only; never train or tune on it). Each clip
gets its own subject and two-camera rig from a seed drawn per *split*: ``calibration`` (for choosing
fit settings) and ``eval`` (for reporting) never share a seed with each other or with training
(which uses seeds below 2 000 000). Detections are exact renders perturbed by
:func:`training.synth.detector_noise.perturb_clip_detections` (correlated noise of 1.5 % of the
person's height, per-landmark bias, 5 % dropouts, eroded/dilated masks, ±1 frame sync error).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.biomech import Motion, load_definition, read_mot, resample_motion
from model_store.conventions import MODEL_RATE_HZ
from model_store.geometry.cameras import Camera
from model_store.keypoints.detections import ViewDetections
from training.synth import motions
from training.synth.clip import render_clip
from training.synth.detector_noise import perturb_clip_detections
from training.synth.procedural import MOTION_KINDS, ground_feet, motion_of_kind
from training.synth.real_motion import load_walk_motion
from training.synth.subjects import sample_subject

KINDS: tuple[str, ...] = ("walk", "run", "squat", "lunge", "sit_to_stand", "arm_raises", "bend_reach")
#: Seed blocks per kind (stable when kinds are added).
_KIND_NO = {"walk": 0, "run": 1, "squat": 2, "lunge": 3, "sit_to_stand": 4, "arm_raises": 5, "run_real": 6,
            "bend_reach": 7}
#: Kinds read from the motion library's held-out (test) trials: ``real_<kind>`` for each library kind.
REAL_PREFIX = "real_"
#: Kind numbers for the seeds of library kinds (stable, whatever the library holds).
_REAL_KIND_NO = {k: 20 + i for i, k in enumerate(("walk", "run", "sprint", "jump", "squat", "sit_to_stand", "balance",
                                                   "reach", "turn", "bend", "misc", "dance", "lunge", "arms",
                                                   "sport", "everyday"))}
SPLIT_SEEDS = {"calibration": 3_000_000, "eval": 4_000_000}
RESERVED_RUN = Path("data_cache/eval/subject01_run_IK.mot")


@dataclass
class HeldOutClip:
    """One clip: ``kind``, ``seed``, truth ``coords`` [T, 39] (rad / m) and ``scales`` [22, 3],
    calibration-world ``cameras``, exact and perturbed ``detections`` (front, side), and what the
    perturbation applied (``perturbation``: its ``sync_shift_frames`` k means front f = side f + k)."""

    kind: str
    seed: int
    coords: np.ndarray
    scales: np.ndarray
    height_m: float
    cameras: tuple[Camera, Camera]
    exact: tuple[ViewDetections, ViewDetections]
    detections: tuple[ViewDetections, ViewDetections]
    perturbation: dict


def _motion(kind: str, rng: np.random.Generator, frames: int, scales: np.ndarray, cache: Path,
            run_trial: Path | None) -> np.ndarray:
    if kind in MOTION_KINDS:
        return motion_of_kind(kind, rng, frames, MODEL_RATE_HZ, scales=scales)
    if kind.startswith(REAL_PREFIX):
        return _library_motion(kind[len(REAL_PREFIX):], rng, frames, scales, cache)
    if kind == "walk":
        walk = load_walk_motion(cache)
        _, q = resample_motion(walk, MODEL_RATE_HZ)
        q = motions.rotate_heading(motions.mirror(q), rng.uniform(-np.pi, np.pi))
    elif kind == "run_real":
        if run_trial is None or not run_trial.is_file():
            raise FileNotFoundError(f"the reserved running trial is not at {run_trial}")
        _, q = resample_motion(read_mot(run_trial), MODEL_RATE_HZ)
        q = motions.rotate_heading(q, rng.uniform(-np.pi, np.pi))
    else:
        known = ", ".join((*KINDS, "run_real"))
        raise ValueError(f"unknown motion kind {kind!r}; known kinds: {known}")
    q = np.unwrap(q, axis=0)[:frames]
    return ground_feet(q, scales, fps=MODEL_RATE_HZ, smooth_s=0.03)


def library_kinds(cache: Path = Path("data_cache")) -> tuple[str, ...]:
    """``real_<kind>`` for every kind with held-out trials in the built motion library (empty if none)."""
    from training.motion_library.library import LibraryError, load_library

    try:
        return tuple(REAL_PREFIX + k for k in load_library(cache).select("test").kinds)
    except LibraryError:
        return ()


def _library_motion(kind: str, rng: np.random.Generator, frames: int, scales: np.ndarray, cache: Path) -> np.ndarray:
    """A window of a held-out library trial of ``kind`` (trial drawn by length), random heading, grounded
    by one constant shift. Trials shorter than ``frames`` are used whole."""
    from training.motion_library.library import load_library
    from training.synth.motion_mix import place_clip

    lib = load_library(cache).select("test", (kind,))
    if not len(lib):
        raise ValueError(f"the motion library has no held-out trials of kind {kind!r}")
    lengths = np.array([len(q) for q in lib.coords], float)
    q = lib.coords[rng.choice(len(lib), p=lengths / lengths.sum())].astype(np.float64)
    start = int(rng.integers(0, max(1, len(q) - frames + 1)))
    return place_clip(q[start:start + frames], rng, scales)


def make_clip(kind: str, split: str, index: int, seconds: float = 4.0, cache: Path = Path("data_cache"),
              run_trial: Path | None = RESERVED_RUN, max_side: int = 640, perturb: bool = True,
              p_swap: float = 0.0) -> HeldOutClip:
    """The ``index``-th clip of ``kind`` in ``split`` (deterministic); ``p_swap`` > 0 adds swapped sides
    to the perturbation (a share of each view's frames, in runs; the clip's other errors unchanged)."""
    real = kind.startswith(REAL_PREFIX)
    kind_no = _REAL_KIND_NO.get(kind[len(REAL_PREFIX):], 99) if real else _KIND_NO.get(kind, 99)
    seed = SPLIT_SEEDS[split] + 1000 * kind_no + index
    rng = np.random.default_rng(seed)
    subject = sample_subject(rng)
    q = _motion(kind, rng, int(round(seconds * MODEL_RATE_HZ)), subject.scales, cache, run_trial)
    names = load_definition().coordinate_names
    clip = render_clip(Motion(np.arange(len(q)) / MODEL_RATE_HZ, q, names), MODEL_RATE_HZ, seed, subject, max_side)
    dets, info = clip.detections, {"sync_shift_frames": 0}
    if perturb:
        front, side, info = perturb_clip_detections(rng, *clip.detections, p_swap=p_swap)
        dets = (front, side)
    return HeldOutClip(kind, seed, clip.sequence.coords, subject.scales, subject.height_m, clip.cameras,
                       clip.detections, dets, info)
