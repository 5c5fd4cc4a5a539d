"""Is the person followed the same one from the first frame to the last? (calibrated views)

A tracker that jumps to another person mid-clip, in both views, gives keypoints that still line up
in 3-D: nothing in the fit's residuals need show it, and the result is a chimera. Triangulated, such
a track shows a **step** that persists, which no body makes:

- the **root** (hip midpoint) moves further between two frames than the motion around them explains:
  a robust straight line through a window before and one through a window after put it more than
  :data:`ROOT_JUMP_M` apart at the instant between them;
- the **body size** changes: the torso (shoulder midpoint to hip midpoint) and the legs (hip midpoint
  to knee midpoint to ankle midpoint) differ between the windows by more than :data:`SIZE_JUMP`;
- the **two views stop agreeing**: the median two-view reprojection error (share of body height) is
  under half of :data:`~worker.pipeline.people.subject.MAX_PAIR_ERROR` before and over it after, or
  the reverse (a switch in one view only).

Midpoints of left/right pairs keep all three blind to one view's left/right labels being swapped.
Medians over windows of :data:`WINDOW_S` make them blind to single-frame detector errors. Each
signal's largest value over the clip goes into the summary, whether or not it crossed its threshold.

What this does not see: a switch between two people of the same size at the moment their hips are
within :data:`ROOT_JUMP_M` of each other (a close crossing), when the views keep agreeing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from model_store.geometry.cameras import Camera
from model_store.geometry.triangulation import triangulate
from model_store.keypoints.detections import PersonTrack
from model_store.keypoints.skeleton import index
from worker.pipeline.people.subject import MAX_PAIR_ERROR

#: Length of the windows compared on either side of a frame (s).
WINDOW_S = 0.4
#: A window needs at least this share of its frames with the person seen in both views.
MIN_SEEN = 0.5
#: Root step (m) beyond the local motion that no person makes between two frames.
ROOT_JUMP_M = 0.4
#: Share of each window's frames that must lie nearer their own side's motion than the other side's.
PERSIST = 0.8
#: Relative change of the body's size between the windows (0.15: 15 %).
SIZE_JUMP = 0.15
#: A left/right pair's mean confidence must be this high in both views for its midpoint to count.
MIN_CONFIDENCE = 0.3

_PAIRS = {name: (index(f"left_{name}"), index(f"right_{name}")) for name in ("shoulder", "hip", "knee", "ankle")}


@dataclass
class Switch:
    """A frame (synchronised, at the pipeline rate) where the person followed changes, and why."""

    frame: int
    reasons: list[str]

    def to_json(self) -> dict:
        return {"frame": self.frame, "reasons": self.reasons}


@dataclass
class IdentityReport:
    """The switches found and, per signal, its largest value over the clip (``None``: never measurable)."""

    switches: list[Switch] = field(default_factory=list)
    frames_checked: int = 0
    largest: dict[str, float | None] = field(default_factory=dict)

    def to_json(self, front_start: int = 0) -> dict:
        return {"frames_checked": self.frames_checked,
                "switches": [{**s.to_json(), "front_video_frame": s.frame + front_start} for s in self.switches],
                "largest_steps": self.largest}


def _midpoints(views: tuple[PersonTrack, PersonTrack], cams: tuple[Camera, Camera]) -> tuple[dict, np.ndarray]:
    """Triangulated midpoints of the left/right pairs [T, 3] by name (NaN where not seen), and the
    per-frame median two-view error of those midpoints as a share of the person's height [T]."""
    names = list(_PAIRS)
    px, conf, heights = [], [], []
    for v in views:
        kp = v.keypoints.astype(np.float64)
        pair = np.array([_PAIRS[n] for n in names])  # [P, 2]
        px.append(kp[:, pair, :2].mean(2))  # [T, P, 2]
        c = kp[:, pair, 2].mean(2) * v.person_found[:, None]  # one of a pair is often hidden in a side view
        conf.append(np.where(c >= MIN_CONFIDENCE, c, 0.0))
        seen = kp[..., 2] >= 0.5
        ys = np.where(seen, kp[..., 1], np.nan)
        with np.errstate(all="ignore"):
            heights.append(np.nanmax(ys, 1) - np.nanmin(ys, 1))
    pts, err = triangulate(np.stack(px), np.stack(conf), cams, min_confidence=MIN_CONFIDENCE)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames: nobody seen in both views
        height = np.fmax(np.nanmean(np.stack(heights), 0), 1.0)
        rel = np.nanmedian(err, 1) / height
    return {n: pts[:, i] for i, n in enumerate(names)}, rel


def _size(mid: dict) -> np.ndarray:
    """Per frame: the body's size against the clip's, the median over the torso, thigh and shank (each
    between midpoints) of its length over its clip median (NaN where none is seen)."""
    d = np.stack([np.linalg.norm(mid[a] - mid[b], axis=-1)
                  for a, b in (("shoulder", "hip"), ("hip", "knee"), ("knee", "ankle"))], 1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(d / np.nanmedian(d, 0), 1)


def _windows(ok: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames t where both [t-w, t) and [t, t+w) have at least MIN_SEEN of their frames ``ok``."""
    c = np.concatenate([[0], np.cumsum(ok)])
    t = np.arange(w, ok.size - w + 1)
    before, after = c[t] - c[t - w], c[t + w] - c[t]
    need = max(2, int(np.ceil(MIN_SEEN * w)))
    return t, (before >= need) & (after >= need)


def _line_at(frames: np.ndarray, points: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """A robust straight-line motion through ``points`` [N, 3] at ``frames`` [N] (Theil-Sen: the median of
    pairwise velocities, then the median position), evaluated at frame ``t``; and its velocity."""
    i, j = np.triu_indices(frames.size, 1)
    v = np.median((points[j] - points[i]) / (frames[j] - frames[i])[:, None], 0)
    return np.median(points - v * (frames - t)[:, None], 0), v


def _root_steps(root: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame t: how far apart the root's motion over the window after t and over the window before
    t (each a robust straight line) put it at the instant between t-1 and t [T] m; and the mean of the
    two velocities [T, 3] m per frame."""
    ok = np.isfinite(root).all(1)
    steps = np.full(root.shape[0], np.nan)
    velocity = np.full(root.shape, np.nan)
    idx = np.flatnonzero(ok)
    ts, enough = _windows(ok, w)
    for t in ts[enough]:
        b = idx[(idx >= t - w) & (idx < t)]
        a = idx[(idx >= t) & (idx < t + w)]
        pb, vb = _line_at(b, root[b], t - 0.5)
        pa, va = _line_at(a, root[a], t - 0.5)
        velocity[t] = (va + vb) / 2
        # persistent: most frames of each window lie nearer their own side's line than the other's
        off = {(f, s): np.linalg.norm(root[w_] - (p + v * (w_ - t + 0.5)[:, None]), axis=1)
               for f, w_ in (("b", b), ("a", a)) for s, p, v in (("b", pb, vb), ("a", pa, va))}
        held = min(float((off["b", "b"] < off["b", "a"]).mean()), float((off["a", "a"] < off["a", "b"]).mean()))
        steps[t] = float(np.linalg.norm(pa - pb)) if held >= PERSIST else 0.0
    return steps, velocity


def _window_ratio(x: np.ndarray, w: int, log: bool) -> np.ndarray:
    """Per frame t: the median of ``x`` over [t, t+w) against that over [t-w, t): |log ratio| when
    ``log``, else the pair (before, after) packed as complex (before + 1j·after)."""
    ok = np.isfinite(x)
    out = np.full(x.size, np.nan, complex if not log else float)
    ts, enough = _windows(ok, w)
    for t in ts[enough]:
        b, a = x[t - w:t], x[t:t + w]
        mb, ma = np.nanmedian(b), np.nanmedian(a)
        out[t] = abs(np.log(ma / mb)) if log else complex(mb, ma)
    return out


def _split(x: np.ndarray, t: int, w: int) -> int:
    """The frame in (t-w, t+w) where ``x`` ([T] or [T, D], NaN where unseen) is best explained as two
    constant stretches (least total absolute deviation from each stretch's median): where the step is."""
    lo, hi = max(0, t - w), min(len(x), t + w)
    seg = x[lo:hi].reshape(hi - lo, -1)
    rows = np.flatnonzero(np.isfinite(seg).all(1))
    if rows.size < 4:
        return t
    seg = seg[rows]

    def cost(part: np.ndarray) -> float:
        return float(np.abs(part - np.median(part, 0)).sum()) if len(part) else 0.0

    best = min(range(1, rows.size), key=lambda k: cost(seg[:k]) + cost(seg[k:]))
    return int(lo + rows[best])


def _peaks(score: np.ndarray, w: int) -> list[int]:
    """Frames where ``score`` (NaN where below its threshold) is the largest within ± ``w`` frames."""
    return [int(t) for t in np.flatnonzero(np.isfinite(score))
            if score[t] == np.nanmax(score[max(0, t - w):t + w + 1])]


def find_switches(views: tuple[PersonTrack, PersonTrack], cams: tuple[Camera, Camera], fps: float) -> IdentityReport:
    """The frames (synchronised) where the person followed in ``views`` changes (see the module docstring)."""
    w = max(3, int(round(WINDOW_S * fps)))
    mid, rel = _midpoints(views, cams)
    t_all = views[0].keypoints.shape[0]
    found: dict[int, dict[str, str]] = {}  # frame → signal → reason

    root, velocity = _root_steps(mid["hip"], w)
    sizes = _size(mid)
    size = _window_ratio(sizes, w, log=True)
    pair = _window_ratio(rel, w, log=False)
    step_pair = np.full(t_all, np.nan)
    ok = np.isfinite(pair)
    b, a = pair.real, pair.imag
    low, high = MAX_PAIR_ERROR / 2, MAX_PAIR_ERROR
    jump_pair = ok & (((b < low) & (a > high)) | ((a < low) & (b > high)))
    step_pair[ok] = np.abs(a[ok] - b[ok])

    with np.errstate(invalid="ignore"):
        signals = (("root", root, root > ROOT_JUMP_M), ("size", size, size > np.log1p(SIZE_JUMP)),
                   ("views", step_pair, jump_pair))
    series = {"size": sizes, "views": rel}
    for name, score, crossed in signals:
        for peak in _peaks(np.where(crossed, score, np.nan), w):
            value = score[peak] if name != "size" else np.expm1(score[peak])
            x = (mid["hip"] - velocity[peak] * (np.arange(t_all) - peak)[:, None]) if name == "root" else series[name]
            t = _split(x, peak, w)
            text = {"root": f"the hips jump {value:.2f} m beyond their motion",
                    "size": f"the body's size changes by {100 * value:.0f} %",
                    "views": f"the two views' agreement changes from {100 * b[peak]:.1f} % to {100 * a[peak]:.1f} % "
                             "of the height"}[name]
            near = next((f for f in found if abs(f - t) <= w), None)
            found.setdefault(near if near is not None else t, {}).setdefault(name, text)
    largest: dict[str, float | None] = {}
    for key, score in (("root_m", root), ("size_change", np.expm1(size)), ("views_pair_error_change", step_pair)):
        largest[key] = round(float(np.nanmax(score)), 3) if np.isfinite(score).any() else None
    return IdentityReport([Switch(f, list(r.values())) for f, r in sorted(found.items())],
                          int(np.isfinite(rel).sum()), largest)
