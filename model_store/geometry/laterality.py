"""Which views' left/right labels to exchange so that all views agree on the person's sides.

A pose detector sometimes labels a person's left as right in one view for a stretch of frames, with
full confidence (it takes their back for their front, or mixes up the near and far leg in a side
view). Three things give it away, and :func:`swapped_sides` weighs them over the whole clip at once:

1. **Geometry.** Calibrated views expose a swap in one of them: triangulating the limb keypoints
   (:data:`LIMB_POINTS`, confidence-weighted DLT) with that view's sides exchanged fits far better
   than as detected. Each frame costs, for each choice of views to exchange, the mean limb
   reprojection error in units of the clip's typical error. It cannot tell everything: a choice and
   its complete exchange are mirror images that fit equally well (so with two views it says *that*
   they disagree, not which one swapped), and with a front and a side camera it compares only the
   points' heights, so a left and right limb at the same height fit either way.
2. **Jumps.** Where a swap starts and ends, the view's left and right keypoints jump into each
   other's places from one frame to the next. Keeping a view's labels across two frames costs how far
   its limb keypoints move between them, exchanging them on one of the two frames costs how far they
   move then (median over the points, in units of the person's size in that view), times
   ``jump_cost``; so a change of choice is cheap exactly where the detector's labels jumped.
3. **Handedness.** Of a choice and its complete exchange (equal in the geometry), one is a mirror
   image: the body triangulated under it has its labelled left on its right (:func:`handedness`,
   from its up, forward and left axes). Each frame costs ``hand_cost`` × (1 − handedness) / 2, which
   finds a swap in every view at once, or one lasting the whole clip.

A Viterbi path over the 2^V choices minimises the sum, with ``switch_cost`` for every change of
choice and ``exchange_cost`` for every exchanged view in every frame, so frames that tell nothing
follow their neighbours and the detector's labels stand unless the evidence says otherwise. On an exact
tie the choice exchanging fewer views, then the one keeping the earlier views as detected, wins.

What none of them shows is left as detected: a swap in a view that sees the person's left and right on
top of each other (from the side, limbs together) while the geometry cannot tell either; handedness
says nothing where the hips, shoulders, and the feet and face are unseen, or for a body bent double.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import numpy as np

from model_store.geometry.cameras import Camera
from model_store.geometry.triangulation import triangulate
from model_store.keypoints.landmarks import load_landmarks
from model_store.keypoints.skeleton import mirror_permutation

#: The keypoints whose triangulation decides the labelling (sides are exchanged as a whole).
LIMB_POINTS = tuple(f"{side}_{part}" for side in ("left", "right") for part in (
    "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel", "foot_index"))

#: Default cost of a view's limb keypoints jumping by the person's size between frames (see :func:`swapped_sides`).
JUMP_COST = 300.0
#: Default cost of a frame whose body, triangulated under a labelling, is a mirror image (see :func:`swapped_sides`).
HAND_COST = 3.0
#: Default cost of each view whose sides are exchanged, per frame (see :func:`swapped_sides`).
EXCHANGE_COST = 0.3


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


def _labelling_evidence(keypoints: np.ndarray, confidence: np.ndarray, cameras: Sequence[Camera],
                        labellings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each labelling [L, V] (which views' sides to exchange): the mean limb reprojection error (px)
    [T, L] (0 where no point counts) and the handedness [T, L] of the body triangulated under it
    (:func:`handedness`)."""
    limbs, axes = limb_indices(), _hand_indices()
    errors, hands = [], []
    for lab in labellings:
        order = [mirror_order() if flip else np.arange(33) for flip in lab]
        kp = np.stack([keypoints[v][:, order[v]] for v in range(len(lab))])
        conf = np.stack([confidence[v][:, order[v]] for v in range(len(lab))])
        err = triangulate(kp[:, :, limbs], conf[:, :, limbs], cameras)[1]  # [T, P]
        # the body's axes need every view's guess, however unsure, where a point is hidden in one view
        pts = np.full((*kp.shape[1:3], 3), np.nan)
        pts[:, axes] = triangulate(kp[:, :, axes], conf[:, :, axes], cameras, min_confidence=0.05)[0]
        seen = np.isfinite(err)
        errors.append(np.where(seen, err, 0.0).sum(1) / np.maximum(seen.sum(1), 1))
        hands.append(handedness(pts))
    return np.stack(errors, 1), np.stack(hands, 1)


#: The keypoints whose triangulation gives the body's up, forward and left axes (:func:`handedness`).
HAND_POINTS = ("nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
               "left_heel", "right_heel", "left_foot_index", "right_foot_index")


@cache
def _hand_indices() -> np.ndarray:
    lm = load_landmarks()
    return np.array([lm.index(n) for n in HAND_POINTS])


def handedness(points: np.ndarray) -> np.ndarray:
    """How much a body's labelled left lies on its own left, [T] in −1…1, of points [T, 33, 3] (any
    right-handed world frame, NaN where unseen).

    The cosine-like triple product of the body's up (hips' to shoulders' midpoint), forward (heel to toe
    of both feet, and ears' midpoint to nose) and left-minus-right (hips and shoulders) axes: near +1 for a
    body labelled as it is, near −1 for its sides exchanged (a mirror image), near 0 where the axes
    cannot tell (bent double, feet and face unseen); each axis is made of the parts that are there, and
    is 0 (so is the result) where none is.
    """
    p = dict(zip(HAND_POINTS, np.moveaxis(points[:, _hand_indices()], 1, 0), strict=True))
    nz = np.nan_to_num

    def unit(v: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        return nz(v / np.where(n > 0, n, np.nan))

    up = nz((p["left_shoulder"] + p["right_shoulder"] - p["left_hip"] - p["right_hip"]) / 2)
    left = nz(p["left_hip"] - p["right_hip"]) + nz(p["left_shoulder"] - p["right_shoulder"])
    forward = (unit(nz(p["left_foot_index"] - p["left_heel"]) + nz(p["right_foot_index"] - p["right_heel"]))
               + unit(p["nose"] - (p["left_ear"] + p["right_ear"]) / 2))
    h = np.einsum("td,td->t", np.cross(up, forward), left)
    scale = np.linalg.norm(up, axis=-1) * np.linalg.norm(forward, axis=-1) * np.linalg.norm(left, axis=-1)
    return np.nan_to_num(h / np.where(scale > 0, scale, np.nan))


def swapped_sides(keypoints: np.ndarray, confidence: np.ndarray, cameras: Sequence[Camera],
                  switch_cost: float = 10.0, jump_cost: float = JUMP_COST,
                  hand_cost: float = HAND_COST, exchange_cost: float = EXCHANGE_COST) -> np.ndarray:
    """Which views' sides to exchange in which frames, bool [V, T] (see the module docstring).

    ``keypoints`` [V, T, 33, 2] distorted px, ``confidence`` [V, T, 33] in 0–1 (0 = unseen), ``cameras``
    calibrated (any right-handed world frame). Costs, in frames' worth of the clip's typical limb
    reprojection error: ``switch_cost`` a change of which views are exchanged; ``jump_cost`` a view's limb
    keypoints moving by the person's size from one frame to the next; ``hand_cost`` a frame whose body is
    a mirror image (:func:`handedness` −1; half that at 0); ``exchange_cost`` each exchanged view, per frame.
    The defaults were chosen on the held-out ``calibration`` split with swapped sides drawn in (docs/pipeline.md,
    "Swapped sides").
    """
    kp = np.asarray(keypoints, np.float64)
    conf = np.asarray(confidence, np.float64)
    n_views = conf.shape[0]
    states = np.array(list(itertools.product((False, True), repeat=n_views)))  # [S, V]: which views to exchange
    half = states[~states[:, 0]]  # one per mirror pair, the first view as detected
    err, hand = _labelling_evidence(kp, conf, cameras, half)  # [T, S/2] each
    typical = max(float(np.median(err.min(1))), 1.0)
    pair = np.array([int(np.flatnonzero((half == (~s if s[0] else s)).all(1))[0]) for s in states])
    hand = hand[:, pair] * np.where(states[:, 0], -1.0, 1.0)  # a state and its complete exchange: mirror images
    # each exchanged view costs ``exchange_cost``; fewer exchanged views win a tie, and of two equal counts
    # the one keeping the earlier views
    prior = exchange_cost * states.sum(1) + 1e-3 * (states * (1.0 + 1.0 / np.arange(1, n_views + 1))).sum(1)
    cost = err[:, pair] / typical + hand_cost * (1.0 - hand) / 2 + prior  # [T, S]
    jumps = np.stack([_jumps(kp[v], conf[v]) for v in range(n_views)], 1)  # [T-1, V, 2]: kept, exchanged
    changed = states[:, None, :] != states[None, :, :]  # [S, S, V]
    # every view moves as labelled alike, plus the difference where its choice changes: [T-1, S, S]
    move = jumps[:, :, 0].sum(1)[:, None, None] + np.einsum("tv,abv->tab", jumps[:, :, 1] - jumps[:, :, 0], changed)
    step = jump_cost * move + switch_cost * changed.any(-1)[None]
    return states[_viterbi(cost, step)].T


def _jumps(kp: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """How far (in units of the person's size in this view) the limb keypoints [T, 33, 2] move from each
    frame to the next, median over the points seen (confidence ≥ 0.5) in both: [T-1, 2], labelled alike
    in both frames, and with one of the two frames' sides exchanged (0 where no point is seen in both)."""
    limbs = limb_indices()
    size = _size(kp, conf)
    a = kp[:-1, limbs]
    out = []
    for other in (limbs, mirror_order()[limbs]):
        seen = (conf[:-1, limbs] >= 0.5) & (conf[1:, other] >= 0.5)
        d = np.where(seen, np.linalg.norm(a - kp[1:, other], axis=-1), np.nan)
        m = np.zeros(len(d))
        any_seen = seen.any(1)
        m[any_seen] = np.nanmedian(d[any_seen], 1)
        out.append(m / size)
    return np.stack(out, 1)


def _viterbi(cost: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The state sequence [T] minimising Σ_t cost[t, s_t] + Σ_t step[t-1, s_{t-1}, s_t] (``cost`` [T, S],
    ``step`` [T-1, S, S]); on equal totals, the lower state."""
    n_frames, n_states = cost.shape
    total = cost[0].copy()
    back = np.zeros((n_frames, n_states), int)
    for t in range(1, n_frames):
        through = total[:, None] + step[t - 1]  # [from, to]
        back[t] = np.argmin(through, 0)
        total = through[back[t], np.arange(n_states)] + cost[t]
    state = np.empty(n_frames, int)
    state[-1] = int(np.argmin(total))
    for t in range(n_frames - 1, 0, -1):
        state[t - 1] = back[t, state[t]]
    return state


def _size(kp: np.ndarray, conf: np.ndarray) -> float:
    """A view's person size (px): median over frames of the limb keypoints' vertical extent."""
    limbs = limb_indices()
    seen = conf[:, limbs] >= 0.5
    y = kp[:, limbs, 1]
    rows = seen.any(1)
    if not rows.any():
        return 1.0
    extent = np.where(seen, y, -np.inf).max(1)[rows] - np.where(seen, y, np.inf).min(1)[rows]
    size = float(np.median(extent))
    return size if size > 1 else 1.0
