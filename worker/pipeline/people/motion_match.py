"""Telling people apart across two *uncalibrated* views by how they move.

Without a calibration nothing ties a person in the front view to one in the side view geometrically,
but their motion does: the same body filmed by two upright cameras makes the same vertical
movements at the same instants (the legs bend and stretch, the hands rise and fall), whatever the
viewing direction. Each surveyed person's keypoints over the first seconds
(:data:`MOTION_SECONDS` from the survey frame, every :data:`MOTION_STEP`-th frame at the pipeline
rate) become three signals, vertical extents measured in the person's own torso length at that instant
(mid-hip y − mid-shoulder y, a running median over a third of a second), which cancels the change of
image scale as they walk towards or away from a camera:

0. legs: (ankle y − hip y), left plus right: both legs shorten when the knees and hips bend;
1. arms: (wrist y − shoulder y), left plus right: the hands rise and fall;
2. arms apart: |left − right| of the same (absolute: a detector may swap sides): the arms swing.

The feet's and hips' own image heights are not used: with a camera above the ground they move with
the distance to the camera as much as with the body, so they differ between views (on the Pose2Sim
demo pair, the legs' left-right difference correlated at −0.4 between cam01 and cam04).

Two people are compared by the correlation of each signal at the best lag the views' time offset
allows (within :data:`MAX_LAG_S` of the survey frames' own offset, the pipeline's sync range; within
one sample of a given ``offset_frames``), averaged over the signals that move in both. A signal that
clearly moves in one person and not in the other counts as no match (0).

Limits: two people making the same periodic motion at the same cadence look alike at some lag, so
with an unknown offset they are not told apart; :func:`best_match` then says it is not decisive.
"""

from __future__ import annotations

import numpy as np

from model_store.conventions import MODEL_RATE_HZ
from model_store.keypoints import skeleton
from worker.pipeline.stages.synchronise import correlation

MOTION_SECONDS = 2.0
MOTION_STEP = 4  # pipeline frames between samples (15 per second at 60 fps)
MAX_LAG_S = 0.5
MIN_VISIBILITY = 0.5
#: A signal whose standard deviation is below this (torso lengths) does not move.
STILL = 0.05
MIN_SAMPLES = 8
#: A match is decisive when its similarity is at least this, ...
MIN_SIMILARITY = 0.5
#: ... and at least this much above the runner-up's.
MIN_MARGIN = 0.2

_SHOULDERS, _WRISTS, _HIPS, _ANKLES = (skeleton.pair(p) for p in ("shoulder", "wrist", "hip", "ankle"))


def signals(series: np.ndarray) -> np.ndarray:
    """Keypoints over time ``[M, 33, 3]`` (x, y px, visibility; NaN rows: not seen) → ``[3, M]``
    signals (see the module docstring), in torso lengths (each sample in its own: no body height is
    needed); NaN where a keypoint was not seen."""
    y = np.where(series[..., 2] >= MIN_VISIBILITY, series[..., 1], np.nan)
    torso = (y[:, _HIPS[0]] + y[:, _HIPS[1]]) / 2 - (y[:, _SHOULDERS[0]] + y[:, _SHOULDERS[1]]) / 2
    torso = _running_median(np.where(torso > 1.0, torso, np.nan))  # px; hips below shoulders when upright
    legs = [y[:, a] - y[:, h] for a, h in zip(_ANKLES, _HIPS, strict=True)]
    arms = [y[:, w] - y[:, s] for w, s in zip(_WRISTS, _SHOULDERS, strict=True)]
    return np.stack([legs[0] + legs[1], arms[0] + arms[1], np.abs(arms[0] - arms[1])]) / torso


def _running_median(x: np.ndarray, half: int = 2) -> np.ndarray:
    """Median of each sample's neighbourhood (±``half`` samples, NaN ignored): the torso length's own
    detector jitter, divided into every signal, would otherwise make a person standing still move."""
    out = np.full_like(x, np.nan)
    for t in range(len(x)):
        near = x[max(t - half, 0): t + half + 1]
        near = near[np.isfinite(near)]
        if len(near) and np.isfinite(x[t]):
            out[t] = np.median(near)
    return out


def _lagged(a: np.ndarray, b: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """``a[t]`` beside ``b[t + lag]`` where both exist (two equally long arrays)."""
    a, b = (a[: max(len(a) - lag, 0)], b[lag:]) if lag >= 0 else (a[-lag:], b[: max(len(b) + lag, 0)])
    n = min(len(a), len(b))
    return a[:n], b[:n]


def _spread(s: np.ndarray) -> float:
    """Standard deviation of the seen samples (NaN when too few)."""
    finite = s[np.isfinite(s)]
    return float(finite.std()) if len(finite) >= MIN_SAMPLES else float("nan")


def similarity(a: np.ndarray, b: np.ndarray, lags: range) -> float:
    """How alike two people's :func:`signals` are, in [-1, 1]: per signal the best correlation over
    ``lags`` (samples; ``a[t]`` against ``b[t + lag]``) where it moves in both; 0 where it moves in
    one and stays (under a quarter of that spread) in the other; averaged; NaN when no signal
    can be compared."""
    scores = []
    for sa, sb in zip(a, b, strict=True):
        spread = (_spread(sa), _spread(sb))
        if not all(np.isfinite(spread)):
            continue
        if min(spread) >= STILL:
            best = [c for c in (correlation(*_lagged(sa, sb, lag), MIN_SAMPLES) for lag in lags) if np.isfinite(c)]
            scores.append(max(best) if best else 0.0)
        elif max(spread) >= STILL and min(spread) < max(spread) / 4:  # one moves it, the other does not
            scores.append(0.0)
    return float(np.mean(scores)) if scores else float("nan")


def lag_range(front_frame: int, side_frame: int, offset_frames: int | None, fps: float = MODEL_RATE_HZ) -> range:
    """Sample lags to try between series that start at pipeline frames ``front_frame`` and
    ``side_frame`` (frame f of the front shows the instant of frame f + K of the side)."""
    if offset_frames is not None:
        centre = round((front_frame - side_frame + offset_frames) / MOTION_STEP)
        return range(centre - 1, centre + 2)
    centre = round((front_frame - side_frame) / MOTION_STEP)
    reach = int(np.ceil(MAX_LAG_S * fps / MOTION_STEP))
    return range(centre - reach, centre + reach + 1)


def best_match(scores: np.ndarray) -> tuple[int, bool]:
    """Index of the highest of ``scores`` (NaN, not comparable, counts as 0) and whether it is decisive: at
    least :data:`MIN_SIMILARITY`, and :data:`MIN_MARGIN` above every other."""
    s = np.where(np.isfinite(scores), scores, 0.0)  # not comparable: no evidence either way
    best = int(np.argmax(s))
    others = np.delete(s, best)
    return best, bool(s[best] >= MIN_SIMILARITY and (len(others) == 0 or s[best] - others.max() >= MIN_MARGIN))
