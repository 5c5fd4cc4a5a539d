"""Motion sources and augmentations, all in model coordinates (rad / m, model order).

- ``random_motion``: smooth, range-bounded sequences (sums of low-frequency sinusoids around a
  random posture) with a hip→knee coupling prior; any global heading.
- ``walk_window``: a window of the real walking trial (OpenSim IK), time-warped and resampled.
- ``mirror``: left/right mirror in the sagittal plane (swap _r/_l, negate out-of-plane pelvis and
  lumbar coordinates and pelvis_tz).
- ``rotate_heading``: rotate the whole motion about the vertical axis (pelvis orientation and
  translation).
- ``scale_amplitude``: scale each coordinate's deviation from its mean.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from model_store.biomech import load_definition
from model_store.biomech.mirror import mirror_coordinates

#: (centre low, centre high, max amplitude) for posture sampling, by coordinate name (rad).
_PRIOR: dict[str, tuple[float, float, float]] = {
    "pelvis_tilt": (-0.3, 0.3, 0.15), "pelvis_list": (-0.12, 0.12, 0.1), "pelvis_rotation": (0.0, 0.0, 0.3),
    "lumbar_extension": (-0.35, 0.2, 0.2), "lumbar_bending": (-0.15, 0.15, 0.15), "lumbar_rotation": (-0.2, 0.2, 0.2),
}
_SIDED: dict[str, tuple[float, float, float]] = {
    "hip_flexion": (-0.2, 0.9, 0.7), "hip_adduction": (-0.25, 0.12, 0.15), "hip_rotation": (-0.3, 0.3, 0.2),
    "knee_angle": (0.05, 1.1, 0.8), "ankle_angle": (-0.3, 0.2, 0.25), "subtalar_angle": (-0.1, 0.1, 0.1),
    "mtp_angle": (-0.1, 0.2, 0.15), "arm_flex": (-0.4, 1.0, 0.7), "arm_add": (-0.9, 0.05, 0.35),
    "arm_rot": (-0.4, 0.4, 0.35), "elbow_flex": (0.1, 1.6, 0.6), "pro_sup": (0.3, 1.3, 0.3),
    "wrist_flex": (-0.3, 0.3, 0.3), "wrist_dev": (-0.1, 0.2, 0.15),
}


def mirror(q: np.ndarray) -> np.ndarray:
    """Mirror a motion [..., 39] across the ground's sagittal (x-y) plane, swapping sides
    (:func:`model_store.biomech.mirror.mirror_coordinates`)."""
    return mirror_coordinates(q)


def _names() -> tuple[str, ...]:
    return load_definition().coordinate_names


def _ranges() -> np.ndarray:
    return np.array([c.range for c in load_definition().coordinates])


def random_motion(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """A smooth random motion [frames, 39]; pelvis ty is left at the default (ground it later)."""
    names = _names()
    md = load_definition()
    t = np.arange(frames) / fps
    q = np.tile(np.array([c.default for c in md.coordinates]), (frames, 1))
    for i, name in enumerate(names):
        base = name[:-2] if name[-2:] in ("_r", "_l") else name
        prior = _PRIOR.get(name) or _SIDED.get(base)
        if prior is None:
            continue
        lo, hi, amp = prior
        centre = rng.uniform(lo, hi)
        a = rng.uniform(0.0, amp, 2) * rng.dirichlet([1.0, 1.0])
        f = rng.uniform(0.15, 1.3, 2)
        ph = rng.uniform(0, 2 * np.pi, 2)
        q[:, i] = centre + (a[None] * np.sin(2 * np.pi * f[None] * t[:, None] + ph[None])).sum(1)
    for s in ("r", "l"):  # a flexed hip usually comes with a flexed knee
        hip, knee = names.index(f"hip_flexion_{s}"), names.index(f"knee_angle_{s}")
        q[:, knee] += 0.6 * np.clip(q[:, hip], 0.0, None)
    rng_r = _ranges()
    q = np.clip(q, rng_r[:, 0], rng_r[:, 1])
    q = rotate_heading(q, rng.uniform(-np.pi, np.pi))
    q[:, names.index("pelvis_tx")] = rng.normal(0, 0.3) + np.cumsum(rng.normal(0, 0.004, frames))
    q[:, names.index("pelvis_tz")] = rng.normal(0, 0.3) + np.cumsum(rng.normal(0, 0.004, frames))
    return q


def walk_window(
    rng: np.random.Generator, walk: np.ndarray, walk_fps: float, frames: int, fps: float
) -> np.ndarray:
    """A random ``frames``-long window of a real motion [N, 39] at ``fps``, time-warped ×0.8–1.25."""
    warp = rng.uniform(0.8, 1.25)
    duration = (walk.shape[0] - 1) / walk_fps
    span = (frames - 1) / fps * warp
    if span > duration:
        warp = duration / ((frames - 1) / fps)
        span = duration
    start = rng.uniform(0.0, duration - span)
    t_src = np.arange(walk.shape[0]) / walk_fps
    t_new = start + np.arange(frames) / fps * warp
    unwrapped = np.unwrap(walk, axis=0)
    return np.stack([np.interp(t_new, t_src, unwrapped[:, j]) for j in range(walk.shape[1])], 1)


def rotate_heading(q: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a motion [..., 39] by ``angle`` (rad) about the ground's vertical (+Y) axis."""
    names = _names()
    rot = [names.index(n) for n in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]
    tr = [names.index(n) for n in ("pelvis_tx", "pelvis_ty", "pelvis_tz")]
    out = q.copy()
    yaw = Rotation.from_euler("Y", angle)
    flat = q.reshape(-1, q.shape[-1])
    new = (yaw * Rotation.from_euler("ZXY", flat[:, rot])).as_euler("ZXY")
    out.reshape(-1, q.shape[-1])[:, rot] = new
    out.reshape(-1, q.shape[-1])[:, tr] = yaw.apply(flat[:, tr])
    return out


def curve_path(q: np.ndarray, total_angle: float) -> np.ndarray:
    """Turn a motion [T, 39] progressively by ``total_angle`` (rad about +Y) over its duration.

    The heading follows a smooth ramp (smootherstep) from 0 to ``total_angle``; the pelvis orientation
    turns with it and the horizontal displacement of each frame is rotated by the heading at that
    frame, so straight walking becomes walking along a curve (turning) with the same step lengths."""
    names = _names()
    tx, tz = names.index("pelvis_tx"), names.index("pelvis_tz")
    n = len(q)
    s = np.linspace(0.0, 1.0, n)
    yaw = total_angle * s**3 * (s * (6.0 * s - 15.0) + 10.0)
    out = q.copy()
    rot = [names.index(c) for c in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]
    turned = (Rotation.from_euler("Y", yaw[:, None]) * Rotation.from_euler("ZXY", q[:, rot])).as_euler("ZXY")
    out[:, rot] = np.unwrap(turned, axis=0)
    d = np.diff(q[:, [tx, tz]], axis=0)  # per-frame displacement (x, z)
    c, sn = np.cos(yaw[1:]), np.sin(yaw[1:])
    # rotation about +Y maps (x, z) to (x cos + z sin, −x sin + z cos)
    dx = d[:, 0] * c + d[:, 1] * sn
    dz = -d[:, 0] * sn + d[:, 1] * c
    out[1:, tx] = q[0, tx] + np.cumsum(dx)
    out[1:, tz] = q[0, tz] + np.cumsum(dz)
    return out


def scale_amplitude(q: np.ndarray, rng: np.random.Generator, low: float = 0.8, high: float = 1.2) -> np.ndarray:
    """Scale each joint coordinate's deviation from its temporal mean (pelvis left alone), clipped to ranges."""
    names = _names()
    joint = [i for i, n in enumerate(names) if not n.startswith("pelvis")]
    out = q.copy()
    mean = q[:, joint].mean(0)
    out[:, joint] = mean + (q[:, joint] - mean) * rng.uniform(low, high, len(joint))
    r = _ranges()[joint]
    out[:, joint] = np.clip(out[:, joint], r[:, 0], r[:, 1])
    return out


def facing_angle(q: np.ndarray) -> float:
    """Mean heading (rad about +Y, 0 = pelvis x axis along ground +X) of a motion [T, 39]."""
    names = _names()
    rot = [names.index(n) for n in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]
    fwd = Rotation.from_euler("ZXY", q[:, rot]).apply([1.0, 0.0, 0.0])
    mean = fwd.mean(0)
    return float(np.arctan2(-mean[2], mean[0]))
