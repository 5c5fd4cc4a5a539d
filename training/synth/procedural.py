"""Procedural motion kinds (running, squats, arm raises, lunges, sit-to-stand, bending to reach) in model coordinates.

Every kind is a function ``(rng, frames, fps) -> q`` returning coordinates [frames, 39] in the order
of ``load_definition().coordinate_names``: radians for rotational coordinates, metres for
``pelvis_tx/ty/tz``, in the OpenSim ground frame (Y up). ``knee_angle_*_beta`` are left at 0 (FK
overwrites them). Each call draws its own cadence/rate, amplitudes, left/right asymmetry, posture,
heading (about +Y, via :func:`motions.rotate_heading`) and position.

How the motions are made:

- Joint angles are smooth functions of a phase variable (cycles; its rate drifts slowly): periodic
  cubic splines through gait key points for running, quintic "smootherstep" transitions between
  postures for the repetitive exercises. Everything is continuous in position and velocity.
- Standing exercises keep the feet where they are: flat-footed legs follow the sagittal relation
  ``hip_flexion = thigh pitch − pelvis_tilt``, ``knee = thigh pitch − shank pitch``,
  ``ankle = −shank pitch − foot pitch``, and the pelvis is placed from the planar leg geometry of
  the unscaled model (hip centre, thigh and shank lengths read from the model by FK); lunges solve a
  two-link leg for each foot.
- Joint coordinates stay inside the model's ranges through a smooth (C¹) saturation near each limit.
- Finally the feet are put on the floor for the unscaled model by :func:`ground_feet`. For a scaled
  subject use ``motion_of_kind(kind, rng, frames, fps, scales=subject.scales)``, which grounds again
  for those scales: :func:`training.synth.sequence.build_sequence` does **not** ground motions
  passed as ``coords`` (it grounds only its own random motions).

Key values come from general gait/exercise biomechanics (e.g. running: knee ≈ 20–45° at
mid-stance and 100–120° in swing; squat: hip ≈ knee − ankle + anterior pelvic tilt for flat feet),
not from any recorded trial; the reserved evaluation trial (``data_cache/eval``) was not used.
The draws of a call depend on the clip's duration, not on ``fps``: the same seed and duration at
two frame rates give the same continuous motion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d

from model_store.biomech import load_definition, load_fullbody_model
from model_store.keypoints.landmarks import load_landmarks
from training.synth import motions

MotionKind = Callable[[np.random.Generator, int, float], np.ndarray]

_SIDES = ("r", "l")
#: Width (deg) of the soft band inside each joint limit where values are smoothly compressed.
_LIMIT_MARGIN_DEG = 6.0
#: Foot bodies whose origins define the sole, as in ``build_sequence``'s grounding, plus foot landmarks.
_FOOT_BODIES = ("calcn_r", "calcn_l", "toes_r", "toes_l")
_FOOT_LANDMARKS = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")


# --------------------------------------------------------------------------------------------------
# Model geometry and a pose builder


@dataclass(frozen=True)
class _Geometry:
    """Sagittal geometry of the unscaled model in its default pose (metres, pelvis frame / ground)."""

    hip_offset: tuple[float, float]  # right hip centre in the pelvis frame (x forward, y up)
    thigh: float  # hip centre → knee (tibia origin)
    shank: float  # knee → ankle centre (talus origin)
    ankle_height: float  # ankle centre above the sole (lowest foot-body origin), foot flat
    toe_forward: float  # ankle centre → MTP joint (toes origin), along the foot

    @property
    def leg(self) -> float:
        return self.thigh + self.shank


@cache
def _geometry() -> _Geometry:
    fk = _fk_model()
    md = load_definition()
    q = torch.tensor([[c.default for c in md.coordinates]], dtype=torch.float64)
    with torch.no_grad():
        o = fk(q).body_origins[0].numpy()
    b = fk.body_names.index
    pelvis, hip, knee, ankle = o[b("pelvis")], o[b("femur_r")], o[b("tibia_r")], o[b("talus_r")]
    sole = min(o[b("calcn_r"), 1], o[b("toes_r"), 1])
    return _Geometry(
        hip_offset=(float(hip[0] - pelvis[0]), float(hip[1] - pelvis[1])),
        thigh=float(np.linalg.norm(hip - knee)),
        shank=float(np.linalg.norm(knee - ankle)),
        ankle_height=float(ankle[1] - sole),
        toe_forward=float(o[b("toes_r"), 0] - ankle[0]),
    )


class _Pose:
    """Coordinates under construction: angles in degrees, translations in metres, by name."""

    def __init__(self, frames: int) -> None:
        md = load_definition()
        self.names = md.coordinate_names
        self.values = np.tile(np.array([c.default for c in md.coordinates]), (frames, 1))
        self._translational = {n for n in self.names if n in ("pelvis_tx", "pelvis_ty", "pelvis_tz")}
        for i, n in enumerate(self.names):
            if n not in self._translational:
                self.values[:, i] = np.degrees(self.values[:, i])

    def set(self, name: str, value: np.ndarray | float) -> None:
        """Set a coordinate (deg for angles, m for pelvis translations)."""
        self.values[:, self.names.index(name)] = value

    def add(self, name: str, value: np.ndarray | float) -> None:
        self.values[:, self.names.index(name)] += value

    def coords(self) -> np.ndarray:
        """[T, 39] in model units (rad, m); joint angles softly limited to their ranges, betas 0."""
        md = load_definition()
        q = self.values.copy()
        for i, (n, c) in enumerate(zip(self.names, md.coordinates, strict=True)):
            if n in self._translational:
                continue
            q[:, i] = np.radians(q[:, i])
            if n.endswith("_beta"):
                q[:, i] = 0.0
            elif not n.startswith("pelvis"):
                lo, hi = c.range
                q[:, i] = soft_limit(q[:, i], lo, hi, min(np.radians(_LIMIT_MARGIN_DEG), 0.1 * (hi - lo)))
        return q


# --------------------------------------------------------------------------------------------------
# Smooth building blocks


def soft_limit(x: np.ndarray, lo: float, hi: float, margin: float) -> np.ndarray:
    """``x`` unchanged inside [lo + margin, hi − margin], smoothly (C¹, tanh) compressed into (lo, hi) outside."""
    out = np.array(x, dtype=np.float64, copy=True)
    top, bottom = hi - margin, lo + margin
    above, below = out > top, out < bottom
    out[above] = top + margin * np.tanh((out[above] - top) / margin)
    out[below] = bottom - margin * np.tanh((bottom - out[below]) / margin)
    return out


def _times(frames: int, fps: float) -> np.ndarray:
    """Sample times (s) of ``frames`` frames at ``fps``."""
    if frames < 1 or not fps > 0:
        raise ValueError(f"need frames >= 1 and fps > 0, got frames={frames}, fps={fps}")
    return np.arange(frames) / fps


def _phase(rng: np.random.Generator, t: np.ndarray, rate_hz: float, drift: float = 0.03) -> np.ndarray:
    """Cycle phase (cycles, not radians) at times ``t`` (s): rate ``rate_hz`` drifting by up to ±``drift``
    (relative) along a slow sinusoid, random start."""
    start = rng.uniform(0.0, 1.0)
    f_drift = rng.uniform(0.1, 0.4)
    p = rng.uniform(0.0, 2 * np.pi)
    a = drift * rng.uniform(-1.0, 1.0)
    w = 2 * np.pi * f_drift
    return start + rate_hz * t - rate_hz * a / w * (np.cos(w * t + p) - np.cos(p))


def _wiggle(
    rng: np.random.Generator, t: np.ndarray, amplitude: float, f_lo: float = 0.1, f_hi: float = 0.5, n: int = 2
) -> np.ndarray:
    """Smooth zero-mean variation at times ``t`` (s): ``n`` sinusoids of ``f_lo``–``f_hi`` Hz, peak ≤ ``amplitude``."""
    w = rng.dirichlet(np.ones(n)) * amplitude
    f = rng.uniform(f_lo, f_hi, n)
    p = rng.uniform(0.0, 2 * np.pi, n)
    return (w * np.sin(2 * np.pi * f * t[:, None] + p)).sum(1)


def _periodic_curve(keys: Sequence[tuple[float, float]]) -> Callable[[np.ndarray], np.ndarray]:
    """A period-1 C² cubic spline through key points (phase in cycles, value); evaluate at any phase."""
    k = sorted((float(p) % 1.0, float(v)) for p, v in keys)
    x = np.array([p for p, _ in k] + [k[0][0] + 1.0])
    y = np.array([v for _, v in k] + [k[0][1]])
    spline = CubicSpline(x, y, bc_type="periodic", extrapolate="periodic")
    return lambda phase: spline(phase)


def _soft_min(a: np.ndarray, b: np.ndarray, softness: np.ndarray | float) -> np.ndarray:
    """Smooth lower bound of min(a, b) (log-sum-exp, ``softness`` in the unit of a and b): never above
    either, at most ``softness``·ln 2 below the smaller."""
    m = np.minimum(a, b)
    return m - softness * np.log(np.exp((m - a) / softness) + np.exp((m - b) / softness))


def _smootherstep(x: np.ndarray) -> np.ndarray:
    """0 → 1 over x ∈ [0, 1] with zero first and second derivatives at both ends (clamped outside)."""
    x = np.clip(x, 0.0, 1.0)
    return x**3 * (x * (6.0 * x - 15.0) + 10.0)


def _keyed(phase: np.ndarray, keys: Sequence[tuple[float, float]]) -> np.ndarray:
    """Period-1 profile moving between key values with smootherstep transitions (no overshoot; it rests
    momentarily at every key). ``keys``: (phase in [0, 1), value), sorted by phase."""
    x = np.array([p for p, _ in keys] + [keys[0][0] + 1.0])
    y = np.array([v for _, v in keys] + [keys[0][1]])
    u = x[0] + np.mod(phase - x[0], 1.0)
    i = np.clip(np.searchsorted(x, u, side="right") - 1, 0, len(keys) - 1)
    frac = (u - x[i]) / (x[i + 1] - x[i])
    return y[i] + (y[i + 1] - y[i]) * _smootherstep(frac)


# --------------------------------------------------------------------------------------------------
# Planar (sagittal) leg geometry of the unscaled model; pitches in degrees, positive = forward rotation


def _pelvis_from_hip(hip_x: np.ndarray, hip_y: np.ndarray, tilt_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis origin (m, x forward, y up) whose hip centre is at (hip_x, hip_y) with ``pelvis_tilt`` (deg)."""
    ox, oy = _geometry().hip_offset
    th = np.radians(tilt_deg)
    return hip_x - (ox * np.cos(th) - oy * np.sin(th)), hip_y - (ox * np.sin(th) + oy * np.cos(th))


def _flat_leg(knee_deg: np.ndarray, ankle_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A flat-footed leg from knee flexion and ankle dorsiflexion (deg): thigh pitch (deg, forward of
    vertical) and the hip centre relative to the ankle's ground point (m, x forward, y up above the sole)."""
    g = _geometry()
    thigh = knee_deg - ankle_deg
    shank = -ankle_deg
    hip_x = -g.thigh * np.sin(np.radians(thigh)) - g.shank * np.sin(np.radians(shank))
    hip_y = g.ankle_height + g.thigh * np.cos(np.radians(thigh)) + g.shank * np.cos(np.radians(shank))
    return thigh, hip_x, hip_y


def _reach(knee_deg: np.ndarray | float) -> np.ndarray:
    """Hip-to-ankle distance (m) of the planar leg at a knee flexion (deg)."""
    g = _geometry()
    return np.sqrt(g.thigh**2 + g.shank**2 + 2 * g.thigh * g.shank * np.cos(np.radians(knee_deg)))


def _leg_ik(hip: tuple[np.ndarray, np.ndarray], ankle: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two-link leg, knee in front: thigh and shank pitch (deg, forward of vertical) that put the ankle
    centre at ``ankle`` (m) from the hip centre at ``hip`` (m); distances are clamped to the reachable."""
    g = _geometry()
    dx, dy = ankle[0] - hip[0], hip[1] - ankle[1]
    d = np.clip(np.hypot(dx, dy), abs(g.thigh - g.shank) + 1e-6, _reach(0.0) - 1e-9)
    gamma = np.arctan2(dx, dy)
    psi = np.arccos(np.clip((g.thigh**2 + d**2 - g.shank**2) / (2 * g.thigh * d), -1.0, 1.0))
    knee = np.pi - np.arccos(np.clip((g.thigh**2 + g.shank**2 - d**2) / (2 * g.thigh * g.shank), -1.0, 1.0))
    thigh = gamma + psi
    return np.degrees(thigh), np.degrees(thigh - knee)


def _heel_raised_ankle(pitch_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ankle centre (m, x forward from its flat-foot position, y above the sole) when the foot pivots
    on its MTP joint by ``pitch_deg`` heel-up."""
    g = _geometry()
    b = np.radians(pitch_deg)
    x = g.toe_forward * (1.0 - np.cos(b)) + g.ankle_height * np.sin(b)
    y = g.toe_forward * np.sin(b) + g.ankle_height * np.cos(b)
    return x, y


def _set_flat_legs(pose: _Pose, knee: dict[str, np.ndarray], ankle: dict[str, np.ndarray], tilt: np.ndarray) -> None:
    """Hip, knee and ankle (deg) of both flat-footed legs for a pelvis_tilt (deg); pelvis x/y from the right leg."""
    for s in _SIDES:
        thigh, hip_x, hip_y = _flat_leg(knee[s], ankle[s])
        pose.set(f"hip_flexion_{s}", thigh - tilt)
        pose.set(f"knee_angle_{s}", knee[s])
        pose.set(f"ankle_angle_{s}", ankle[s])
        if s == "r":
            px, py = _pelvis_from_hip(hip_x, hip_y, tilt)
            pose.set("pelvis_tx", px)
            pose.set("pelvis_ty", py)


# --------------------------------------------------------------------------------------------------
# Shared pieces: standing posture, arms, placement


def _stance_width(rng: np.random.Generator, pose: _Pose, t: np.ndarray, extra: np.ndarray | float = 0.0) -> None:
    """Hip ab/adduction (feet about shoulder-width), hip rotation (toes out) and subtalar postures (deg)."""
    for s in _SIDES:
        pose.set(f"hip_adduction_{s}", -rng.uniform(1.0, 8.0) + extra + _wiggle(rng, t, 1.5))
        pose.set(f"hip_rotation_{s}", rng.uniform(-15.0, 5.0) + _wiggle(rng, t, 2.0))
        pose.set(f"subtalar_angle_{s}", rng.uniform(-4.0, 4.0) + _wiggle(rng, t, 1.0))


def _wrists(rng: np.random.Generator, pose: _Pose, t: np.ndarray) -> None:
    for s in _SIDES:
        pose.set(f"wrist_flex_{s}", rng.uniform(-15.0, 15.0) + _wiggle(rng, t, 5.0))
        pose.set(f"wrist_dev_{s}", rng.uniform(-5.0, 10.0) + _wiggle(rng, t, 3.0))


def _arms(rng: np.random.Generator, pose: _Pose, t: np.ndarray, depth: np.ndarray) -> str:
    """Arm posture for a lower-body exercise, one style per clip, moving with ``depth`` (0 up … 1 down).

    Styles: ``hang`` (relaxed), ``hips`` (hands on hips), ``forward`` (arms reach forward as the body
    goes down), ``cross`` (arms crossed on the chest). Returns the style."""
    style = str(rng.choice(["hang", "hips", "forward", "cross"]))
    forward_peak = rng.uniform(65.0, 88.0)
    flex: float | np.ndarray  # deg; a trajectory when it follows the squat depth
    for s in _SIDES:
        w = _wiggle(rng, t, 3.0)
        if style == "hang":
            flex, add = rng.uniform(-5.0, 10.0) + rng.uniform(0.0, 20.0) * depth, -rng.uniform(3.0, 12.0)
            rot, elbow, pro = rng.uniform(-10.0, 10.0), rng.uniform(5.0, 25.0), rng.uniform(30.0, 80.0)
        elif style == "hips":
            flex, add = -rng.uniform(10.0, 25.0), -rng.uniform(25.0, 45.0)
            rot, elbow, pro = rng.uniform(-5.0, 15.0), rng.uniform(80.0, 110.0), rng.uniform(10.0, 40.0)
        elif style == "forward":
            f0 = rng.uniform(0.0, 15.0)
            flex, add = f0 + (forward_peak + rng.normal(0.0, 2.0) - f0) * depth, -rng.uniform(0.0, 10.0)
            rot, elbow, pro = rng.uniform(-10.0, 10.0), rng.uniform(3.0, 20.0), rng.uniform(20.0, 60.0)
        else:
            flex, add = rng.uniform(30.0, 50.0), rng.uniform(10.0, 25.0)
            rot, elbow, pro = rng.uniform(0.0, 20.0), rng.uniform(110.0, 140.0), rng.uniform(20.0, 60.0)
        pose.set(f"arm_flex_{s}", flex + w)
        pose.set(f"arm_add_{s}", add + _wiggle(rng, t, 2.0))
        pose.set(f"arm_rot_{s}", rot + _wiggle(rng, t, 3.0))
        pose.set(f"elbow_flex_{s}", elbow + _wiggle(rng, t, 4.0))
        pose.set(f"pro_sup_{s}", pro + _wiggle(rng, t, 4.0))
    _wrists(rng, pose, t)
    return style


def _place(rng: np.random.Generator, pose: _Pose, fps: float, kind: str, spread_m: float = 0.3) -> np.ndarray:
    """Model coordinates [T, 39] with a random position offset (m, N(0, spread)) and heading (uniform),
    continuous pelvis angles (unwrapped in time) and the feet on the floor for the unscaled model."""
    pose.add("pelvis_tx", rng.normal(0.0, spread_m))
    pose.add("pelvis_tz", rng.normal(0.0, spread_m))
    q = motions.rotate_heading(pose.coords(), rng.uniform(-np.pi, np.pi))
    rot = [pose.names.index(n) for n in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]
    q[:, rot] = np.unwrap(q[:, rot], axis=0)
    return ground_feet(q, fps=fps, smooth_s=GROUND_SMOOTHING_S.get(kind, 0.0))


# --------------------------------------------------------------------------------------------------
# Motion kinds


def run(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """Running [frames, 39] (rad, m) along a random heading at 2.5–4.5 m/s.

    Cadence 2.6–3.2 steps/s (rises with speed), stance 33–42 % of the stride; knee ≈ 12–22° at
    contact, 25–42° at mid-stance, 101–118° in swing; hip flexion (relative to the pelvis) from
    −3…−15° at push-off to +38…+55° in late swing; ankle +15…+25° dorsiflexion at mid-stance and
    −15…−25° at push-off; arms swing opposite the legs with the elbows at 70–100°; the trunk leans
    5–15° forward; pelvis rotation, list and lumbar counter-rotation oscillate by a few degrees.
    Left/right differ by a few per cent in amplitude and timing. ``pelvis_tx/tz`` progress along the
    heading through the clip's centre; ``pelvis_ty`` is set by :func:`ground_feet` (unscaled model).
    """
    t = _times(frames, fps)
    pose = _Pose(frames)
    speed = rng.uniform(2.5, 4.5)
    x = (speed - 2.5) / 2.0  # 0 … 1 intensity
    cadence = float(np.clip(2.6 + 0.6 * x + rng.normal(0.0, 0.08), 2.6, 3.2))  # steps/s
    stride_hz = cadence / 2.0
    phase = _phase(rng, t, stride_hz, drift=0.02)  # right stride, 0 = right foot strike
    stance = float(np.clip(0.42 - 0.09 * x + rng.normal(0.0, 0.01), 0.33, 0.42))
    knee_peak = float(np.clip(103.0 + 12.0 * x + rng.normal(0.0, 3.0), 101.0, 118.0))
    hip_peak = float(np.clip(42.0 + 10.0 * x + rng.normal(0.0, 3.0), 38.0, 55.0))
    hip_ext = float(np.clip(-(6.0 + 6.0 * x) + rng.normal(0.0, 2.0), -15.0, -3.0))
    knee_ms = rng.uniform(25.0, 42.0)
    ankle_ms, ankle_to = rng.uniform(15.0, 25.0), -rng.uniform(15.0, 25.0)

    def keys(st: Sequence[tuple[float, float]], sw: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(u * stance, v) for u, v in st] + [(stance + u * (1.0 - stance), v) for u, v in sw]

    hip_peak_phase = {}
    for s, offset in (("r", 0.0), ("l", 0.5 + rng.normal(0.0, 0.01))):
        a = 1.0 + rng.normal(0.0, 0.04)  # left/right asymmetry
        j = rng.normal(0.0, 0.015, 4)  # timing jitter of the swing events (cycles)
        ph = phase + offset
        k_ic = rng.uniform(12.0, 22.0)
        k_pk, k_ms = float(np.clip(knee_peak * a, 101.0, 118.0)), min(knee_ms * a, 44.0)
        h_pk, h_ext = float(np.clip(hip_peak * a, 38.0, 53.0)), float(np.clip(hip_ext * a, -13.0, -3.0))
        knee = _periodic_curve(keys(
            [(0.0, k_ic), (0.45, k_ms), (1.0, rng.uniform(12.0, 22.0))],
            [(0.42 + j[0], k_pk), (0.85 + j[1], rng.uniform(10.0, 18.0))],
        ))
        h_ic = h_pk - rng.uniform(4.0, 10.0)
        hip = _periodic_curve(keys(
            [(0.0, h_ic), (0.5, 0.5 * (h_ic + h_ext)), (1.0, h_ext)],
            [(0.15 + j[2], h_ext - rng.uniform(0.5, 2.0)), (0.78 + j[3], h_pk)],
        ))
        ankle = _periodic_curve(keys(
            [(0.0, rng.uniform(-2.0, 8.0)), (0.45, ankle_ms * a), (1.0, ankle_to * a)],
            [(0.2, ankle_to * a + rng.uniform(8.0, 15.0)), (0.55, rng.uniform(0.0, 10.0))],
        ))
        add = _periodic_curve(keys(
            [(0.0, rng.uniform(0.0, 4.0)), (0.3, rng.uniform(5.0, 10.0)), (1.0, rng.uniform(0.0, 3.0))],
            [(0.5, -rng.uniform(2.0, 7.0))],
        ))
        pose.set(f"knee_angle_{s}", knee(ph))
        pose.set(f"hip_flexion_{s}", hip(ph))
        pose.set(f"ankle_angle_{s}", ankle(ph))
        pose.set(f"hip_adduction_{s}", add(ph))
        pose.set(f"hip_rotation_{s}", rng.uniform(-8.0, 6.0) + rng.uniform(2.0, 5.0) * np.sin(2 * np.pi * ph))
        pose.set(f"subtalar_angle_{s}", rng.uniform(-3.0, 3.0) + rng.uniform(0.0, 4.0) * np.sin(2 * np.pi * ph))
        pose.set(f"mtp_angle_{s}", rng.uniform(-5.0, 0.0) * (1.0 - np.cos(2 * np.pi * ph)))
        hip_peak_phase[s] = offset + stance + 0.78 * (1.0 - stance)

    # Pelvis and trunk: anterior tilt with a small twice-per-stride bounce, list and rotation per stride.
    tilt0, lean = rng.uniform(5.0, 15.0), rng.uniform(5.0, 15.0)
    bounce = rng.uniform(1.0, 3.0) * np.cos(4 * np.pi * (phase - rng.uniform(0.0, 0.5)))
    pelvis_rot = rng.uniform(3.0, 9.0) * np.cos(2 * np.pi * (phase - rng.uniform(-0.1, 0.05)))
    pelvis_list = rng.uniform(3.0, 7.0) * np.sin(2 * np.pi * (phase - rng.uniform(0.0, 0.1)))
    pose.set("pelvis_tilt", -tilt0 + bounce)
    pose.set("pelvis_list", pelvis_list)
    pose.set("pelvis_rotation", pelvis_rot)
    pose.set("lumbar_extension", tilt0 - lean - 0.5 * bounce + _wiggle(rng, t, 2.0))
    pose.set("lumbar_bending", -rng.uniform(0.5, 1.0) * pelvis_list + _wiggle(rng, t, 2.0))
    pose.set("lumbar_rotation", -rng.uniform(1.2, 2.0) * pelvis_rot + _wiggle(rng, t, 2.0))

    # Arms: each shoulder flexes when the opposite hip does; elbows bent, flexing a little more forward.
    for s, other in (("r", "l"), ("l", "r")):
        swing = np.cos(2 * np.pi * (phase - hip_peak_phase[other] + rng.normal(0.0, 0.03)))
        amp = rng.uniform(18.0, 32.0) * (0.85 + 0.3 * x)
        pose.set(f"arm_flex_{s}", -rng.uniform(5.0, 20.0) + amp * swing)
        pose.set(f"arm_add_{s}", -rng.uniform(8.0, 20.0) + rng.uniform(2.0, 6.0) * swing)
        pose.set(f"arm_rot_{s}", rng.uniform(-5.0, 15.0) + rng.uniform(0.0, 5.0) * swing)
        pose.set(f"elbow_flex_{s}", rng.uniform(70.0, 100.0) + rng.uniform(5.0, 15.0) * swing)
        pose.set(f"pro_sup_{s}", rng.uniform(40.0, 80.0) + _wiggle(rng, t, 4.0))
    _wrists(rng, pose, t)

    # Progression along +X (rotated to the heading later) with a small twice-per-stride speed ripple.
    ripple, w = rng.uniform(0.01, 0.04), 4 * np.pi * stride_hz
    t_mid = (frames - 1) / fps / 2.0
    pose.set("pelvis_tx", speed * (t - t_mid) - speed * ripple / w * np.sin(4 * np.pi * phase))
    pose.set("pelvis_tz", rng.uniform(0.005, 0.02) * np.sin(2 * np.pi * (phase - 0.15)))
    return _place(rng, pose, fps, "run")


def squat(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """Repeated bodyweight squats [frames, 39] (rad, m), feet flat and fixed on the floor.

    0.3–0.6 squats/s; at the bottom knee 94–119°, ankle dorsiflexion 18–28°, hip flexion 80–115°
    (hip = knee − ankle + anterior pelvic tilt, which keeps the feet flat), anterior pelvic tilt up to
    35° and 0–20° extra lumbar flexion; depth varies ±4 % between repetitions; knees go slightly out.
    Arms: one of hanging, hands on hips, reaching forward with depth, crossed on the chest. The
    pelvis moves back and down as the planar leg geometry of the unscaled model requires.
    """
    t = _times(frames, fps)
    pose = _Pose(frames)
    phase = _phase(rng, t, rng.uniform(0.3, 0.6), drift=0.05)
    shape = rng.uniform(1.0, 1.6)  # > 1: longer pause standing
    depth = ((1.0 - np.cos(2 * np.pi * phase)) / 2.0) ** shape
    depth = depth * (1.0 + _wiggle(rng, t, 0.04, 0.05, 0.2))
    knee_b, ankle_b = rng.uniform(96.0, 118.0), rng.uniform(18.0, 28.0)
    thigh_b = knee_b - ankle_b
    tilt_b = rng.uniform(max(0.0, 80.0 - thigh_b), min(35.0, 115.0 - thigh_b))  # anterior tilt at the bottom
    knee = {}
    ankle = {}
    for s in _SIDES:
        a = 1.0 + rng.normal(0.0, 0.02)
        k0, a0 = rng.uniform(2.0, 8.0), rng.uniform(-1.0, 4.0)
        knee[s] = k0 + (min(knee_b * a, 119.0) - k0) * depth
        ankle[s] = a0 + (ankle_b * a - a0) * depth
    tilt0 = rng.uniform(0.0, 8.0)
    tilt = -(tilt0 + (tilt_b - tilt0) * depth) + _wiggle(rng, t, 1.5)
    pose.set("pelvis_tilt", tilt)
    _set_flat_legs(pose, knee, ankle, tilt)
    _stance_width(rng, pose, t, extra=-rng.uniform(0.0, 8.0) * depth)
    pose.set("pelvis_list", _wiggle(rng, t, 2.0))
    pose.set("pelvis_rotation", _wiggle(rng, t, 3.0))
    pose.set("lumbar_extension", rng.uniform(-5.0, 5.0) - rng.uniform(0.0, 20.0) * depth)
    pose.set("lumbar_bending", _wiggle(rng, t, 2.0))
    pose.set("lumbar_rotation", _wiggle(rng, t, 3.0))
    _arms(rng, pose, t, depth)
    return _place(rng, pose, fps, "squat")


def sit_to_stand(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """Repeated sit-to-stand and stand-to-sit [frames, 39] (rad, m) from an (unmodelled) chair.

    One cycle every 3–5 s: seated (knee 85–105°, thigh near horizontal), the trunk leans forward
    by 30–50° (pelvis first, then lumbar flexion), the legs extend to standing (knee 2–8°), then the
    person sits back down leaning forward again. Feet flat and fixed; arms as in :func:`squat`."""
    t = _times(frames, fps)
    pose = _Pose(frames)
    phase = _phase(rng, t, 1.0 / rng.uniform(3.0, 5.0), drift=0.04)
    seated = _keyed(phase, [(0.0, 1.0), (0.15, 1.0), (0.45, 0.0), (0.62, 0.0), (0.92, 1.0)])
    lean = _keyed(phase, [(0.0, 0.0), (0.15, 0.0), (0.3, 1.0), (0.45, 0.0), (0.62, 0.0), (0.78, 0.8), (0.92, 0.0)])
    knee_s, ankle_s = rng.uniform(85.0, 105.0), rng.uniform(0.0, 15.0)
    tilt_s = rng.uniform(-10.0, 5.0)  # anterior tilt when seated (negative: slumped)
    lean_max = rng.uniform(30.0, 50.0)
    pelvis_share = min(0.6 * lean_max, 115.0 - (knee_s - ankle_s + tilt_s))
    knee = {}
    ankle = {}
    for s in _SIDES:
        k0, a0 = rng.uniform(2.0, 8.0), rng.uniform(-1.0, 4.0)
        knee[s] = k0 + (knee_s - k0) * seated
        ankle[s] = a0 + (ankle_s - a0) * seated + rng.uniform(3.0, 8.0) * lean * seated
    tilt0 = rng.uniform(0.0, 8.0)
    tilt = -(tilt0 + (tilt_s - tilt0) * seated + pelvis_share * lean)
    pose.set("pelvis_tilt", tilt)
    _set_flat_legs(pose, knee, ankle, tilt)
    _stance_width(rng, pose, t)
    pose.set("pelvis_list", _wiggle(rng, t, 2.0))
    pose.set("pelvis_rotation", _wiggle(rng, t, 3.0))
    pose.set("lumbar_extension", rng.uniform(-5.0, 5.0) - (lean_max - pelvis_share) * lean)
    pose.set("lumbar_bending", _wiggle(rng, t, 2.0))
    pose.set("lumbar_rotation", _wiggle(rng, t, 3.0))
    _arms(rng, pose, t, 1.0 - (1.0 - seated) * (1.0 - lean))
    return _place(rng, pose, fps, "sit_to_stand")


def _lunge_profiles(u: np.ndarray) -> dict[str, np.ndarray]:
    """Normalised timing profiles (0 … 1) of one lunge over its repetition phase ``u`` ∈ [0, 1)."""
    return {
        "step": _keyed(u, [(0.0, 0.0), (0.05, 0.0), (0.3, 1.0), (0.7, 1.0), (0.95, 0.0)]),
        "shift": _keyed(u, [(0.0, 0.0), (0.08, 0.0), (0.36, 1.0), (0.64, 1.0), (0.92, 0.0)]),
        "drop": _keyed(u, [(0.0, 0.0), (0.12, 0.0), (0.45, 1.0), (0.55, 1.0), (0.85, 0.0)]),
        "heel_strike": _keyed(
            u, [(0.0, 0.0), (0.1, 0.0), (0.3, 1.0), (0.42, 0.0), (0.6, 0.0), (0.72, 0.6), (0.9, 0.0)]
        ),
    }


@dataclass(frozen=True)
class _LungeShape:
    """One clip's lunge: lengths in m (unscaled model), angles in deg."""

    length: float  # step length, ankle to ankle
    over: float  # hip over this fraction of the step
    lift: float  # front-foot clearance in swing
    knee_stand: float
    knee_step: float  # back knee while the feet are apart
    knee_bottom: float  # back knee at the bottom
    knee_front: float  # least front-knee flexion while the feet are apart
    heel_up: float  # back-foot heel lift at the bottom
    toes_up: float  # front-foot toes-up pitch at heel strike

    def solve(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """Sagittal positions (m, back ankle's flat position at x = 0, y up from the sole) and foot
        pitches (deg) over the repetition phase ``u``. The hip hangs from the back leg at its target knee
        angle, lowered (smooth minimum, never above either bound) where the front leg would otherwise
        be straighter than ``knee_front``; the softness grows as the feet move apart, so standing is exact."""
        g = _geometry()
        p = _lunge_profiles(u)
        apart = 1.0 - (1.0 - p["step"]) * (1.0 - p["shift"])
        heel = self.heel_up * (0.3 * p["shift"] + 0.7 * p["drop"])
        back_x, back_y = _heel_raised_ankle(heel)
        knee_b = self.knee_stand + (self.knee_step - self.knee_stand) * apart
        knee_b = knee_b + (self.knee_bottom - knee_b) * p["drop"]
        reach_b = _reach(knee_b)
        hip_x = self.over * self.length * p["shift"]
        hip_y = back_y + np.sqrt(np.maximum(reach_b**2 - (hip_x - back_x) ** 2, 1e-6))
        front_x = self.length * p["step"]
        front_y = g.ankle_height + self.lift * np.sin(np.pi * p["step"]) ** 2
        reach_f = _reach(self.knee_front) * apart + _reach(0.0) * (1.0 - apart)
        front_top = front_y + np.sqrt(np.maximum(reach_f**2 - (hip_x - front_x) ** 2, 1e-6))
        hip_y = _soft_min(hip_y, front_top, 1e-5 + 0.05 * apart)
        return {
            "hip_x": hip_x, "hip_y": hip_y, "back_x": back_x, "back_y": back_y, "heel_up": heel,
            "front_x": front_x, "front_y": front_y,
            "toes_up": self.toes_up * p["heel_strike"], "drop": p["drop"], "shift": p["shift"],
        }


def lunge(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """Alternating forward lunges [frames, 39] (rad, m), returning to standing between repetitions.

    One lunge every 2.5–4 s: one foot steps 0.75–1.0 leg lengths forward, lifted 4–10 cm and landing
    heel first (toes 10–25° up); the hip moves over 50–60 % of the step and drops while the back knee
    bends to 70–95° with the back heel 28–42° up on the toes (the model's MTP range, ±30°, limits how
    flat the toes stay); then the person pushes back to standing. At the bottom the front knee is
    ≈ 50–97° and the front hip ≈ 60–100°. The hip hangs from the back leg (two-link chain at its
    target knee angle), lowered where needed so the front knee keeps ≥ 12–20° of flexion while the
    feet are apart; the front leg is solved to its foot (unscaled model). The back ankle often sits
    at its 30° dorsiflexion limit. Trunk upright or leaning up to 15° forward; arms as in :func:`squat`."""
    t = _times(frames, fps)
    g = _geometry()
    pose = _Pose(frames)
    phase = _phase(rng, t, 1.0 / rng.uniform(2.5, 4.0), drift=0.03)
    first = int(rng.integers(2))
    rep = np.floor(phase).astype(int)
    front_is_right = (rep + first) % 2 == 0
    shape = _LungeShape(
        length=rng.uniform(0.75, 1.0) * g.leg, over=rng.uniform(0.5, 0.6), lift=rng.uniform(0.04, 0.10),
        knee_stand=rng.uniform(3.0, 8.0), knee_step=rng.uniform(20.0, 35.0), knee_bottom=rng.uniform(70.0, 95.0),
        knee_front=rng.uniform(12.0, 20.0), heel_up=rng.uniform(28.0, 42.0), toes_up=-rng.uniform(10.0, 25.0),
    )
    sol = shape.solve(phase - rep)
    tilt = -(rng.uniform(0.0, 8.0) + rng.uniform(0.0, 10.0) * sol["drop"]) + _wiggle(rng, t, 1.5)
    legs = {}
    for name, ankle, pitch in (
        ("front", (sol["front_x"], sol["front_y"]), sol["toes_up"]),
        ("back", (sol["back_x"], sol["back_y"]), sol["heel_up"]),
    ):
        thigh, shank = _leg_ik((sol["hip_x"], sol["hip_y"]), ankle)
        legs[name] = (thigh - tilt, thigh - shank, -shank - pitch)
    for s in _SIDES:
        front = front_is_right if s == "r" else ~front_is_right
        for k, coord in enumerate(("hip_flexion", "knee_angle", "ankle_angle")):
            pose.set(f"{coord}_{s}", np.where(front, legs["front"][k], legs["back"][k]))
        pose.set(f"mtp_angle_{s}", np.where(front, 0.0, -sol["heel_up"]))
    px, py = _pelvis_from_hip(sol["hip_x"], sol["hip_y"], tilt)
    pose.set("pelvis_tx", px)
    pose.set("pelvis_ty", py)
    pose.set("pelvis_tilt", tilt)
    _stance_width(rng, pose, t)
    pelvis_rot = rng.uniform(2.0, 8.0) * np.where(front_is_right, 1.0, -1.0) * sol["shift"] + _wiggle(rng, t, 2.0)
    pose.set("pelvis_rotation", pelvis_rot)
    pose.set("pelvis_list", _wiggle(rng, t, 2.0))
    pose.set("lumbar_extension", -rng.uniform(0.0, 15.0) * sol["drop"] - tilt + _wiggle(rng, t, 2.0))
    pose.set("lumbar_bending", _wiggle(rng, t, 2.0))
    pose.set("lumbar_rotation", -rng.uniform(0.5, 1.0) * pelvis_rot + _wiggle(rng, t, 2.0))
    _arms(rng, pose, t, sol["drop"])
    return _place(rng, pose, fps, "lunge")


def arm_raises(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """Standing arm exercises [frames, 39] (rad, m): one raise-and-lower every 2.5–6 s.

    Repetitions cycle through a per-clip order of four movements (front raise: shoulder flexion to
    60–88°; lateral raise: abduction to 95–118°; scaption: 25–45° flexion with 80–110° abduction;
    curl: elbow to 100–140° with the forearm supinating); each picks which arm(s) move (both, right,
    left) and a straight (5–20°) or bent (40–90°) elbow. Shoulder elevation is limited by the model (arm_flex ≤ 90°,
    abduction ≤ 120°). The rest of the body stands with slow weight shifts: the pelvis sways
    1–5 cm sideways and 1–3 cm fore-aft with the hips and ankles following (feet fixed, unscaled
    model), and the trunk extends a little during overhead raises."""
    t = _times(frames, fps)
    g = _geometry()
    pose = _Pose(frames)
    rate = 1.0 / rng.uniform(2.5, 6.0)
    phase = _phase(rng, t, rate, drift=0.05)
    reps = np.floor(phase).astype(int)
    u = phase - reps
    bump = _keyed(u, [(0.0, 0.0), (0.08, 0.0), (0.42, 1.0), (0.55, 1.0), (0.92, 0.0)])
    rest = {}
    for s in _SIDES:
        rest[s] = {
            "arm_flex": rng.uniform(-5.0, 8.0), "arm_add": -rng.uniform(3.0, 12.0), "arm_rot": rng.uniform(-10.0, 10.0),
            "elbow_flex": rng.uniform(5.0, 20.0), "pro_sup": rng.uniform(30.0, 80.0),
        }
    targets = {s: {k: np.full(frames, v) for k, v in rest[s].items()} for s in _SIDES}
    overhead = np.zeros(frames)
    program = [str(m) for m in rng.permutation(["front", "lateral", "scaption", "curl"])]
    for r in range(int(reps.min()), int(reps.max()) + 1):
        movement = program[r % len(program)]
        which = str(rng.choice(["both", "both", "r", "l"]))
        bent = rng.random() < 0.3
        sel = reps == r
        for s in _SIDES:
            if which not in ("both", s):
                continue
            peak = dict(rest[s])
            if movement == "front":
                peak.update(arm_flex=rng.uniform(60.0, 88.0), arm_add=-rng.uniform(0.0, 15.0))
            elif movement == "lateral":
                peak.update(arm_flex=rng.uniform(-5.0, 15.0), arm_add=-rng.uniform(95.0, 118.0))
            elif movement == "scaption":
                peak.update(arm_flex=rng.uniform(25.0, 45.0), arm_add=-rng.uniform(80.0, 110.0))
            else:
                peak.update(elbow_flex=rng.uniform(100.0, 140.0), pro_sup=rng.uniform(70.0, 90.0))
            if movement != "curl":
                peak.update(
                    elbow_flex=rng.uniform(40.0, 90.0) if bent else rng.uniform(5.0, 20.0),
                    arm_rot=rng.uniform(-25.0, 15.0),
                )
            for k, v in peak.items():
                targets[s][k][sel] = v
            if movement in ("lateral", "scaption"):
                overhead[sel] = 1.0
    for s in _SIDES:
        for k, v in rest[s].items():
            pose.set(f"{k}_{s}", v + (targets[s][k] - v) * bump + _wiggle(rng, t, 2.0))
    _wrists(rng, pose, t)

    # Standing with slow weight shifts; feet stay put (small-angle planar leg geometry).
    sway_z = _wiggle(rng, t, rng.uniform(0.01, 0.05), 0.05, 0.3)
    sway_x = _wiggle(rng, t, rng.uniform(0.01, 0.03), 0.05, 0.3)
    lean = np.degrees(np.arcsin(np.clip(sway_x / g.leg, -1.0, 1.0)))  # whole-leg pitch (deg)
    tilt = -rng.uniform(0.0, 8.0) + _wiggle(rng, t, 1.5)
    knee = {}
    ankle = {}
    for s in _SIDES:
        k0 = rng.uniform(1.0, 6.0)
        knee[s] = k0 + _wiggle(rng, t, 1.5, 0.05, 0.3)
        ankle[s] = lean + 0.5 * k0 + rng.uniform(-1.0, 2.0)
    pose.set("pelvis_tilt", tilt)
    _set_flat_legs(pose, knee, ankle, tilt)
    _stance_width(rng, pose, t)
    sideways = np.degrees(np.arcsin(np.clip(sway_z / g.leg, -1.0, 1.0)))  # pelvis right → right hip adducts
    pose.add("hip_adduction_r", sideways)
    pose.add("hip_adduction_l", -sideways)
    pose.add("pelvis_tz", sway_z)
    pose.set("pelvis_list", _wiggle(rng, t, 2.0))
    pose.set("pelvis_rotation", _wiggle(rng, t, 3.0))
    pose.set("lumbar_extension", -tilt + rng.uniform(-5.0, 3.0) + rng.uniform(0.0, 8.0) * overhead * bump)
    pose.set("lumbar_bending", -sideways + _wiggle(rng, t, 2.0))
    pose.set("lumbar_rotation", _wiggle(rng, t, 3.0))
    return _place(rng, pose, fps, "arm_raises")


def bend_reach(rng: np.random.Generator, frames: int, fps: float) -> np.ndarray:
    """Bending to reach down or forward and coming back up [frames, 39] (rad, m), feet flat and fixed.

    One bend every 2.5–7 s. Each clip has a lifting style: ``stoop`` (knees 5–30°, anterior pelvic
    tilt 35–60°, lumbar flexion 20–45°) or ``crouch`` (knees 45–85°, tilt 20–40°, lumbar flexion
    10–30°). Each bend reaches with both arms or one (shoulder flexion 40–90°, elbow 5–35°),
    straight ahead or to one side (trunk turns 10–30° and bends 5–20° towards it). Pelvis and
    legs follow the planar flat-foot geometry of the unscaled model, as in :func:`squat`."""
    t = _times(frames, fps)
    pose = _Pose(frames)
    phase = _phase(rng, t, 1.0 / rng.uniform(2.5, 7.0), drift=0.05)
    reps = np.floor(phase).astype(int)
    u = phase - reps
    depth = _keyed(u, [(0.0, 0.0), (0.1, 0.0), (0.45, 1.0), (0.6, 1.0), (0.95, 0.0)])
    stoop = rng.random() < 0.55
    knee_b = rng.uniform(5.0, 30.0) if stoop else rng.uniform(45.0, 85.0)
    tilt_b = rng.uniform(35.0, 60.0) if stoop else rng.uniform(20.0, 40.0)
    lumbar_b = rng.uniform(20.0, 45.0) if stoop else rng.uniform(10.0, 30.0)
    side = np.zeros(frames)
    arm_peak = {s: np.zeros(frames) for s in _SIDES}
    for r in range(int(reps.min()), int(reps.max()) + 1):
        sel = reps == r
        side[sel] = rng.choice([-1.0, 0.0, 0.0, 1.0])  # +1: reach to the right
        which = str(rng.choice(["both", "both", "r", "l"]))
        for s in _SIDES:
            arm_peak[s][sel] = rng.uniform(40.0, 90.0) if which in ("both", s) else rng.uniform(0.0, 20.0)
    knee, ankle = {}, {}
    for s in _SIDES:
        k0 = rng.uniform(2.0, 8.0)
        knee[s] = k0 + (knee_b * (1.0 + rng.normal(0.0, 0.05)) - k0) * depth
        ankle[s] = rng.uniform(-1.0, 3.0) + 0.4 * (knee[s] - k0)
    tilt0 = rng.uniform(0.0, 8.0)
    tilt = -(tilt0 + (tilt_b - tilt0) * depth) + _wiggle(rng, t, 1.5)
    pose.set("pelvis_tilt", tilt)
    _set_flat_legs(pose, knee, ankle, tilt)
    _stance_width(rng, pose, t)
    twist, lean = rng.uniform(10.0, 30.0), rng.uniform(5.0, 20.0)
    pose.set("pelvis_list", _wiggle(rng, t, 2.0))
    pose.set("pelvis_rotation", _wiggle(rng, t, 3.0) - 0.3 * twist * side * depth)
    pose.set("lumbar_extension", rng.uniform(-3.0, 5.0) - lumbar_b * depth)
    pose.set("lumbar_bending", -lean * side * depth + _wiggle(rng, t, 2.0))
    pose.set("lumbar_rotation", -0.7 * twist * side * depth + _wiggle(rng, t, 3.0))
    for s in _SIDES:
        f0 = rng.uniform(-5.0, 10.0)
        pose.set(f"arm_flex_{s}", f0 + (arm_peak[s] - f0) * depth + _wiggle(rng, t, 3.0))
        pose.set(f"arm_add_{s}", -rng.uniform(3.0, 15.0) + _wiggle(rng, t, 3.0))
        pose.set(f"arm_rot_{s}", rng.uniform(-10.0, 10.0) + _wiggle(rng, t, 3.0))
        pose.set(f"elbow_flex_{s}", rng.uniform(5.0, 35.0) + _wiggle(rng, t, 4.0))
        pose.set(f"pro_sup_{s}", rng.uniform(30.0, 80.0) + _wiggle(rng, t, 4.0))
    _wrists(rng, pose, t)
    return _place(rng, pose, fps, "bend_reach")


MOTION_KINDS: dict[str, MotionKind] = {
    "run": run,
    "squat": squat,
    "arm_raises": arm_raises,
    "lunge": lunge,
    "sit_to_stand": sit_to_stand,
    "bend_reach": bend_reach,
}


#: Time constant (s) of the grounding's smooth support envelope per kind (see :func:`ground_feet`);
#: running gets one so that support changes between feet look like short flight phases, not kinks.
GROUND_SMOOTHING_S: dict[str, float] = {"run": 0.03}


def motion_of_kind(
    kind: str, rng: np.random.Generator, frames: int, fps: float, scales: np.ndarray | None = None
) -> np.ndarray:
    """A motion [frames, 39] (rad, m) of a named kind (see :data:`MOTION_KINDS`) at ``fps``.

    With ``scales`` [22, 3] (a subject's body scale factors) the feet are put on the floor for that
    subject (pass the same subject to ``build_sequence(..., coords=q, subject=subject)``, which does
    not ground given coordinates); without, for the unscaled model."""
    try:
        make = MOTION_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown motion kind {kind!r}; known kinds: {', '.join(sorted(MOTION_KINDS))}") from None
    q = make(rng, frames, fps)
    if scales is not None:
        q = ground_feet(q, scales, fps=fps, smooth_s=GROUND_SMOOTHING_S.get(kind, 0.0))
    return q


# --------------------------------------------------------------------------------------------------
# Grounding


@cache
def _fk_model():
    return load_fullbody_model()


def ground_feet(
    q: np.ndarray, scales: np.ndarray | None = None, softness_m: float = 0.004, *,
    fps: float | None = None, smooth_s: float = 0.0,
) -> np.ndarray:
    """``q`` [T, 39] (rad, m) with ``pelvis_ty`` shifted, frame by frame, so that the lowest foot point
    (origins of ``calcn_*`` and ``toes_*``, as ``build_sequence`` uses for its random motions, and the
    heel and foot-index landmarks, so a pointed toe does not go through the floor) is on the floor
    (ground y = 0) for a subject with ``scales`` [22, 3] (None: the unscaled model).

    The lowest point is a smooth minimum (log-sum-exp, ``softness_m`` metres), so ``pelvis_ty`` stays
    smooth when support passes from heel to toe; the sole ends at most ``softness_m``·ln 8 above the
    floor. With ``smooth_s`` > 0 (needs ``fps``) the per-frame shift is Gaussian-smoothed in time
    (σ = ``smooth_s`` seconds) and raised by its largest shortfall, so no frame goes below the floor
    and fast support changes (running) become brief flights. Nothing else changes; a copy is returned."""
    fk = _fk_model()
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tens of frames: one thread is fastest on a shared machine
    try:
        with torch.no_grad():
            coords = torch.tensor(q, dtype=torch.float64)
            s = None if scales is None else torch.tensor(scales, dtype=torch.float64)[None].expand(len(q), -1, -1)
            out = fk(coords, s)
            lms = load_landmarks()
            heights = torch.cat([
                out.body_origins[:, [fk.body_names.index(n) for n in _FOOT_BODIES], 1],
                lms.positions(out, s)[:, [lms.index(n) for n in _FOOT_LANDMARKS], 1],
            ], 1).numpy()
    finally:
        torch.set_num_threads(before)
    low = heights.min(1, keepdims=True)
    shift = -(low[:, 0] - softness_m * np.log(np.exp(-(heights - low) / softness_m).sum(1)))
    if smooth_s > 0.0:
        if fps is None or not fps > 0:
            raise ValueError("ground_feet: smooth_s needs a positive fps")
        smooth = gaussian_filter1d(shift, smooth_s * fps, mode="nearest")
        shift = smooth + max(0.0, float((shift - smooth).max()))
    grounded = q.copy()
    grounded[:, load_definition().coordinate_names.index("pelvis_ty")] += shift
    return grounded
