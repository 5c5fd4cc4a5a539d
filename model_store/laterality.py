"""Which views' left/right labels to exchange so that all views agree on the person's sides.

A pose detector sometimes labels a person's left as right in one view for a stretch of frames, with
full confidence (it takes their back for their front, or mixes up the near and far leg in a side
view). Calibrated views expose it: triangulating the limb keypoints with that view's sides exchanged
fits far better than as detected. :func:`swapped_sides` decides, frame by frame, which views to
exchange:

1. Every way of exchanging whole views' sides (2^V labellings, in pairs: a labelling and its
   complete exchange are mirror images that fit equally well) is triangulated (confidence-weighted
   DLT), giving per frame the mean reprojection error of the :data:`LIMB_POINTS` under each.
2. A frame alone often cannot tell: with a front and a side camera the geometry only compares the
   points' heights, so a left and right limb at the same height fit either way. A detector's swap
   lasts a while, though, so the labelling is chosen for the whole clip at once (Viterbi): each frame
   costs its error (in units of the clip's typical error of the best labelling) and every change of
   labelling costs ``switch_cost``; frames that cannot tell follow their neighbours.
3. Of a labelling and its complete exchange, the one exchanging fewer views wins. On a tie (always
   with two views: "exchange the front" or "exchange the side"), the view whose limb keypoints then
   continue most smoothly from the neighbouring frames on both ends of the run is exchanged: a
   detector's swap shows up as the left and right keypoints of one view jumping into each other's
   places where the run starts and ends. A run with no neighbour (the whole clip) keeps the first
   view as detected.

Exchanging sides in all views at once cannot be told from the geometry and is not detected.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import numpy as np

from model_store.cameras import Camera
from model_store.landmarks import load_landmarks, mirror_permutation
from model_store.triangulation import triangulate

#: The keypoints whose triangulation decides the labelling (sides are exchanged as a whole).
LIMB_POINTS = tuple(f"{side}_{part}" for side in ("left", "right") for part in (
    "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel", "foot_index"))


@cache
def mirror_order() -> np.ndarray:
    """The 33 landmarks' order with left and right exchanged."""
    return np.asarray(mirror_permutation(load_landmarks().names))


@cache
def limb_indices() -> np.ndarray:
    """Indices of the :data:`LIMB_POINTS` among the 33 landmarks."""
    lm = load_landmarks()
    return np.array([lm.index(n) for n in LIMB_POINTS])


def exchange_sides(keypoints: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """A copy of keypoints [T, 33, C] with left and right exchanged on ``frames`` (bool [T] or indices)."""
    out = np.array(keypoints, copy=True)
    out[frames] = out[frames][:, mirror_order()]
    return out


def _limb_errors(keypoints: np.ndarray, confidence: np.ndarray, cameras: Sequence[Camera],
                 labellings: np.ndarray) -> np.ndarray:
    """Mean limb reprojection error (px) [T, L] for each labelling [L, V] (0 where no point counts)."""
    limbs = limb_indices()
    flipped_limbs = mirror_order()[limbs]
    out = []
    for lab in labellings:
        idx = np.where(lab[:, None], flipped_limbs[None], limbs[None])  # [V, P]
        kp = np.stack([keypoints[v][:, idx[v]] for v in range(len(lab))])
        conf = np.stack([confidence[v][:, idx[v]] for v in range(len(lab))])
        err = triangulate(kp, conf, cameras)[1]  # [T, P]
        seen = np.isfinite(err)
        out.append(np.where(seen, err, 0.0).sum(1) / np.maximum(seen.sum(1), 1))
    return np.stack(out, 1)


def _jump(kp_a: np.ndarray, conf_a: np.ndarray, kp_b: np.ndarray, conf_b: np.ndarray) -> float:
    """Median distance (px) the limb keypoints of one view move from one frame (``kp_a`` [33, 2],
    ``conf_a`` [33], as labelled) to another, over the points seen (confidence ≥ 0.5) in both."""
    limbs = limb_indices()
    seen = (conf_a[limbs] >= 0.5) & (conf_b[limbs] >= 0.5)
    if not seen.any():
        return 0.0
    return float(np.median(np.linalg.norm(kp_a[limbs] - kp_b[limbs], axis=-1)[seen]))


def swapped_sides(keypoints: np.ndarray, confidence: np.ndarray, cameras: Sequence[Camera],
                  switch_cost: float = 10.0) -> np.ndarray:
    """Which views' sides to exchange in which frames, bool [V, T] (see the module docstring).

    ``keypoints`` [V, T, 33, 2] distorted px, ``confidence`` [V, T, 33] in 0–1 (0 = unseen), ``cameras``
    calibrated (any world frame); ``switch_cost`` what a change of labelling costs, in frames' worth
    of the clip's typical limb reprojection error.
    """
    kp = np.asarray(keypoints, np.float64)
    conf = np.asarray(confidence, np.float64)
    n_views = conf.shape[0]
    # one labelling per mirror pair: the first view as detected; row 0 is "as detected"
    labellings = np.array([(False, *rest) for rest in itertools.product((False, True), repeat=n_views - 1)])
    err = _limb_errors(kp, conf, cameras, labellings)  # [T, L]
    typical = max(float(np.median(err.min(1))), 1.0)
    state = _viterbi(err / typical, switch_cost)
    chosen = labellings[state].copy()  # [T, V]
    count = chosen.sum(1)
    chosen[count * 2 > n_views] = ~chosen[count * 2 > n_views]
    tie = count * 2 == n_views
    runs = _runs(tie, chosen)
    sizes = [_size(kp[v], conf[v]) for v in range(n_views)] if runs else []
    for start, stop in runs:
        chosen[start:stop] = _continuity(kp, conf, chosen, start, stop, sizes)
    return chosen.T


def _viterbi(cost: np.ndarray, switch_cost: float) -> np.ndarray:
    """The state sequence [T] minimising Σ cost[t, state_t] + switch_cost × (number of changes);
    on equal totals, state 0 (as detected)."""
    n_frames, n_states = cost.shape
    total = cost[0].copy()
    total[1:] += 1e-9  # ties go to "as detected"
    back = np.zeros((n_frames, n_states), int)
    for t in range(1, n_frames):
        stay = total
        best = int(np.argmin(total))
        switch = total[best] + switch_cost
        back[t] = np.where(stay <= switch, np.arange(n_states), best)
        total = np.minimum(stay, switch) + cost[t]
    state = np.empty(n_frames, int)
    state[-1] = int(np.argmin(total))
    for t in range(n_frames - 1, 0, -1):
        state[t - 1] = back[t, state[t]]
    return state


def _runs(mask: np.ndarray, labels: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [start, stop) of frames where ``mask`` holds and the labelling (or its complete
    exchange) stays the same."""
    runs: list[tuple[int, int]] = []
    for t in np.flatnonzero(mask):
        if runs and runs[-1][1] == t and (np.array_equal(labels[t], labels[t - 1])
                                          or np.array_equal(labels[t], ~labels[t - 1])):
            runs[-1] = (runs[-1][0], t + 1)
        else:
            runs.append((int(t), int(t) + 1))
    return runs


def _continuity(kp: np.ndarray, conf: np.ndarray, chosen: np.ndarray, start: int, stop: int,
                sizes: list[float]) -> np.ndarray:
    """Of a tied run's labelling and its complete exchange, the one whose views continue most smoothly
    (jumps in units of each view's person size, ``sizes`` px) into the frames just before and after the
    run (as those are labelled); the one keeping the first view as detected when the run has no
    neighbour."""
    options = (chosen[start], ~chosen[start])
    if not options[0][0]:
        options = options[::-1]  # options[1] keeps the first view as detected
    edges = [(start - 1, start)] if start > 0 else []
    edges += [(stop, stop - 1)] if stop < len(chosen) else []
    if not edges:
        return np.broadcast_to(options[1], (stop - start, len(options[1])))
    mirror = mirror_order()
    costs = []
    for option in options:
        cost = 0.0
        for outside, inside in edges:
            for v, flip in enumerate(option):
                # the outside frame as labelled there, the inside one as this option would label it
                a = mirror if chosen[outside, v] else slice(None)
                b = mirror if flip else slice(None)
                cost += _jump(kp[v, outside][a], conf[v, outside][a], kp[v, inside][b], conf[v, inside][b]) / sizes[v]
        costs.append(cost)
    return np.broadcast_to(options[int(np.argmin(costs))], (stop - start, len(options[0])))


def _size(kp: np.ndarray, conf: np.ndarray) -> float:
    """A view's person size (px): median over frames of the limb keypoints' vertical extent."""
    limbs = limb_indices()
    y = np.where(conf[:, limbs] >= 0.5, kp[:, limbs, 1], np.nan)
    with np.errstate(all="ignore"):
        extent = np.nanmax(y, 1) - np.nanmin(y, 1)
    size = np.nanmedian(extent) if np.isfinite(extent).any() else np.nan
    return float(size) if np.isfinite(size) and size > 1 else 1.0
