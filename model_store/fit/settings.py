"""Weights of the per-clip fit, as standard deviations in physical units (one table, documented).

Every term of the objective is a negative log-likelihood-like quantity in units of "one standard
deviation": a prior deviation of one ``prior_sigma_rad`` costs as much as a keypoint residual of
about one ``keypoint_sigma`` (a fraction of the person's height in that image). Coordinates are
named without their side suffix (``hip_flexion`` covers ``hip_flexion_r`` and ``hip_flexion_l``).

Where the images are ambiguous the network is trusted (small sigma): axial rotations of the hip,
lumbar spine and forearm (a segment turning about its own axis hardly moves keypoints) and the
coordinates OpenSim locks in this model (subtalar, mtp, wrist). Flexion-type coordinates are left to
the evidence (large sigma), and so is the humerus's axial rotation (``arm_rot``), which the forearm
shows whenever the elbow is bent: on the real recording the network's was 46° off the 4-camera fit's,
and a narrow prior kept the fit 34° off with the elbow flexion 9° off to match the wrist.

Pelvis tilt and lumbar extension are not held to the network's split of the trunk's lean (it was learned
partly from motions without an anatomical pelvis: retargeted BVH, procedural motion): their network
priors are wide (0.3 and 0.6 rad, in the pelvis's own frame), so the keypoints say what they can (the
trunk moves ~3 cm for 10° of pelvis tilt about the hips) and the uncertainty of both says how little
that is. The anatomical prior (:mod:`model_store.fit.anatomical_prior`, from marker-measured trials,
its own sigma) is available as ``anatomical_prior=true``; on the calibration split it lost to this
(real-motion kinds, hip/knee/ankle 7.42 against 7.33° with perturbed detections, 2.48 against 1.93°
with exact ones), so it is off by default. See ``docs/evaluation.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

#: Prior standard deviation (rad) of each coordinate around the network's value.
PRIOR_SIGMA_RAD: dict[str, float] = {
    "pelvis_tilt": 0.3, "pelvis_list": 0.3, "pelvis_rotation": 0.5,
    "hip_flexion": 0.6, "hip_adduction": 0.3, "hip_rotation": 0.12,
    "knee_angle": 0.6, "ankle_angle": 0.5, "subtalar_angle": 0.05, "mtp_angle": 0.05,
    "lumbar_extension": 0.6, "lumbar_bending": 0.3, "lumbar_rotation": 0.15,
    "arm_flex": 0.6, "arm_add": 0.6, "arm_rot": 0.6, "elbow_flex": 0.6, "pro_sup": 0.15,
    "wrist_flex": 0.05, "wrist_dev": 0.05,
}


#: The solver's first pass holds these coordinates closer to the network (rad) before every pass after it
#: uses :data:`PRIOR_SIGMA_RAD`: the keypoints say little about the trunk's split between pelvis and lumbar
#: spine or about the humerus's axial rotation, and from a poor start (a network far off, the first
#: keypoint sigma still wide) a wide prior let the trunk fold to its joint limit and the fit settle with
#: residuals of a quarter of the person's height. The narrow first pass lands in the right basin; the
#: wide passes then move within it.
START_PRIOR_SIGMA_RAD: dict[str, float] = {"pelvis_tilt": 0.08, "lumbar_extension": 0.12, "arm_rot": 0.15}

#: ``with_overrides`` sets one coordinate's prior sigma as ``prior_sigma.<coordinate>=<rad>``.
PRIOR_PREFIX = "prior_sigma."


@dataclass(frozen=True)
class FitSettings:
    """Weights and solver limits of :func:`model_store.fit.fit_clip`.

    - ``keypoint_sigma``: robust (Cauchy) scale of keypoint residuals, as a fraction of the
      person's height in that image (0.02 × 1000 px = 20 px), to start with; the solver then
      re-estimates it from the residuals (robustly, ``sigma_rounds`` times, within
      ``keypoint_sigma_range``), so exact keypoints are trusted more than a noisy detector's.
    - ``min_confidence``: keypoints with a lower detector confidence are ignored.
    - ``prior_sigma_rad``: per-coordinate prior around the network (rad), see :data:`PRIOR_SIGMA_RAD`
      (the pelvis's three are taken about the pelvis's own axes: tilt, list and axial rotation);
      ``prior_robust_k``: beyond about this many sigmas the prior's pull fades (Cauchy), so the
      evidence wins where the network is far off. ``start_prior_sigma_rad``: narrower sigmas for the
      solver's first pass (see :data:`START_PRIOR_SIGMA_RAD`; empty: no such pass).
    - ``anatomical_prior``: also hold the pelvis's anatomical tilt to what marker-based motion capture
      says for the trunk's lean (:mod:`model_store.fit.anatomical_prior`), with that prior's own sigma
      times ``anatomical_sigma_scale`` (off by default: see the module docstring).
    - ``accel_sigma_rad_s2`` / ``accel_sigma_m_s2``: smoothness, the typical joint angular
      acceleration (rad/s²) and pelvis linear acceleration (m/s²); the penalty is on second
      differences, so it does not depend on the frame rate.
    - ``range_sigma_rad``: softness of the joint-range bounds (rad outside the range per sigma).
    - ``scale_bounds``: no body scale factor leaves this range (soft by ``scale_bound_softness`` in
      log scale, 1 %);
    - ``scale_sigma``: prior on log body scales around the network's (≈ relative std) for factors
      that move some landmark by ``scale_lever_m`` (m) or more per unit scale; factors with a
      shorter lever get a proportionally narrower prior, at least ``min_scale_sigma``; factors with
      a lever under ``min_scale_lever_m`` are not fitted at all (the network's value is kept);
      ``symmetry_sigma`` ties left and right bodies; ``height_sigma`` the model's standing height to
      the subject's given height (relative).
    - ``max_iterations``: Levenberg-Marquardt iterations; ``tolerance``: stop when an iteration
      lowers the objective by less than this fraction; ``initial_damping`` / ``max_damping``: the
      Marquardt damping to start with and the largest tried before giving up on a step.
    """

    keypoint_sigma: float = 0.02
    keypoint_sigma_range: tuple[float, float] = (0.004, 0.03)
    sigma_rounds: int = 2
    min_confidence: float = 0.1
    prior_sigma_rad: dict[str, float] = field(default_factory=lambda: dict(PRIOR_SIGMA_RAD))
    start_prior_sigma_rad: dict[str, float] = field(default_factory=lambda: dict(START_PRIOR_SIGMA_RAD))
    prior_robust_k: float = 3.0
    anatomical_prior: bool = False
    anatomical_sigma_scale: float = 1.0
    accel_sigma_rad_s2: float = 150.0
    accel_sigma_m_s2: float = 30.0
    range_sigma_rad: float = 0.02
    scale_bounds: tuple[float, float] = (0.6, 1.6)
    scale_bound_softness: float = 0.01
    scale_sigma: float = 0.08
    scale_lever_m: float = 0.25
    min_scale_sigma: float = 0.01
    min_scale_lever_m: float = 0.04
    symmetry_sigma: float = 0.02
    height_sigma: float = 0.01
    max_iterations: int = 30
    tolerance: float = 1e-3
    initial_damping: float = 1e-3
    max_damping: float = 1e6

    def with_overrides(self, assignments: list[str]) -> FitSettings:
        """A copy with scalar fields set from ``NAME=VALUE`` strings (``symmetry_sigma=0.005``,
        ``anatomical_prior=false``).

        Only the scalar fields (floats and ints, units as documented above, and the switches, which take
        ``true``/``false``) and one coordinate's prior sigma (``prior_sigma.arm_rot=0.3``, rad) can be
        set; raises :class:`ValueError` naming the problem for an unknown or non-scalar field, a value
        that is not a number (or not an integer for an integer field, or not true/false for a switch)
        or a number that is not finite and positive.
        """
        scalar = {f.name: f.type for f in fields(self) if f.type in ("float", "int", "bool")}
        scalar.update({f"{PRIOR_PREFIX}{k}": "float" for k in self.prior_sigma_rad})
        changes: dict[str, Any] = {}
        sigmas = dict(self.prior_sigma_rad)
        for text in assignments:
            name, sep, value = text.partition("=")
            name = name.strip()
            if not sep or name not in scalar:
                raise ValueError(f"fit settings take NAME=VALUE with NAME one of {', '.join(sorted(scalar))}; "
                                 f"got {text!r}")
            if scalar[name] == "bool":
                if value.strip().lower() not in ("true", "false"):
                    raise ValueError(f"{name} must be true or false, got {value!r}")
                changes[name] = value.strip().lower() == "true"
                continue
            try:
                number: float | int = int(value) if scalar[name] == "int" else float(value)
            except ValueError:
                raise ValueError(f"{name} must be {'an integer' if scalar[name] == 'int' else 'a number'}, "
                                 f"got {value!r}") from None
            if not (math.isfinite(number) and number > 0):
                raise ValueError(f"{name} must be finite and positive, got {value!r}")
            if name.startswith(PRIOR_PREFIX):
                sigmas[name[len(PRIOR_PREFIX):]] = number
                changes["prior_sigma_rad"] = sigmas
            else:
                changes[name] = number
        return replace(self, **changes)

    def prior_sigma(self, coordinate: str) -> float:
        """Prior sigma (rad) for a model coordinate name such as ``knee_angle_r``."""
        base = coordinate[:-2] if coordinate[-2:] in ("_r", "_l") else coordinate
        if base not in self.prior_sigma_rad:
            raise KeyError(f"no prior sigma for coordinate {coordinate!r}")
        return self.prior_sigma_rad[base]
