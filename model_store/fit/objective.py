"""The per-clip fit objective: the model's landmarks against the keypoints of every view, plus priors.

Unknowns: coordinates ``q`` [T, 39] (rad / m, model order; coupled ``*_beta`` coordinates follow
their drivers inside FK) and log body scales ``log_s`` [22, 3] shared by the clip. Terms, each a
sum over the clip divided by the number of frames (so values are "per frame"):

- ``keypoints``: Σ c w · log(1 + (‖π(X) − x‖ / (σ h))²) — a Cauchy-robust reprojection error with
  the calibrated, distorting cameras, weighted by the detector's confidence ``c`` and the landmark's
  ``fit_weight`` ``w`` (landmarks.json); ``h`` is the person's height in px in that view and frame
  (from the initial model), ``σ`` the keypoint noise level (``keypoint_sigma``, re-estimated from the
  residuals by the solver);
- ``prior``: Σ (k²/2) log(1 + (d / (k σ_c))²) with d = q − q_net (wrapped) over the rotational
  coordinates below the pelvis: ½ (d / σ_c)² near the network, but giving way beyond ~k σ_c
  (``prior_robust_k``), so a network that is badly wrong somewhere cannot force the rest of the body
  into contortions. The pelvis's orientation is held to the network's in the pelvis's own frame (the
  rotation from the network's pelvis to the solution, as a rotation vector: its components about the
  pelvis's forward, vertical and lateral axes are list, axial rotation and tilt, with those
  coordinates' sigmas), so what each sigma means does not depend on which way the person faces
  (``pelvis_tilt`` itself turns about the ground's axis). With ``anatomical_prior`` the pelvis's
  anatomical tilt is also held, with its own sigma, to what marker-based motion capture says it is
  for the trunk's lean (:mod:`model_store.fit.anatomical_prior`), the same robust form;
- ``smoothness``: ½ Σ (q̈ / σ_acc)² from second differences at the clip's frame rate;
- ``ranges``: ½ Σ (distance outside OpenSim's range / σ_range)² (pelvis orientation exempt);
- ``scales``: ½ Σ ((log s − log s_net) / σ_s)² with σ_s per body and axis
  (:func:`scale_prior_sigma`) over the factors the fit estimates (:func:`fitted_scales`; the
  others stay the network's), left/right symmetry, hard-ish bounds (``scale_bounds``, 1 % softness)
  and the standing height when given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
import torch

from model_store.biomech import ForwardKinematics, load_fullbody_model
from model_store.biomech.jacobian import point_jacobians
from model_store.biomech.posture import default_posture, rotation_log
from model_store.fit.anatomical_prior import load_anatomical_prior
from model_store.fit.projection import CameraRig
from model_store.fit.settings import FitSettings
from model_store.geometry.cameras import Camera
from model_store.keypoints.detections import PersonTrack
from model_store.keypoints.landmarks import load_landmarks, standing_height_m
from model_store.network.outputs import rotational_indices
from model_store.sizes import N_LANDMARKS


@cache
def fit_model() -> ForwardKinematics:
    """The FK module used by fits, built once per process."""
    return load_fullbody_model()


@cache
def scale_levers() -> np.ndarray:
    """How far (m) the farthest landmark moves per unit of each body scale factor [22, 3], in the
    default pose of the generic model: what the keypoints can say about that factor."""
    fk, lm = fit_model(), load_landmarks()
    ones = torch.ones(1, len(fk.body_names), 3, dtype=torch.float64)
    out = fk(fk.default_coordinates[None].clone(), ones, with_frames=True)
    _, _, js = point_jacobians(fk, out, lm.body_index, lm.local_points, ones)
    return js[0].norm(dim=1).amax(0).reshape(-1, 3).numpy()  # [22, 3]


def scale_prior_sigma(settings: FitSettings) -> np.ndarray:
    """Per body and axis prior widths [22, 3] (relative) around the network's scales: the full
    ``scale_sigma`` where a factor moves landmarks by ``scale_lever_m`` or more per unit, narrowing
    in proportion below that (never under ``min_scale_sigma``), so factors the keypoints barely see
    (a pelvis's depth, a talus's height) stay with the network instead of soaking up detector bias."""
    lever = scale_levers()
    return np.clip(settings.scale_sigma * lever / settings.scale_lever_m, settings.min_scale_sigma,
                   settings.scale_sigma)


def fitted_scales(settings: FitSettings) -> np.ndarray:
    """Which body scale factors [22, 3] the fit estimates: those moving some landmark by at least
    ``min_scale_lever_m`` per unit; the others are the network's, as they are."""
    return scale_levers() >= settings.min_scale_lever_m


@dataclass
class ClipEvidence:
    """What the cameras saw, synchronised: ``keypoints`` [V, T, 33, 2] distorted full-frame px (any
    value where unseen), ``confidence`` [V, T, 33] in 0–1 (0 = unseen), ``cameras`` calibration-world
    cameras (Z up), ``fps`` the frame rate (Hz)."""

    keypoints: np.ndarray
    confidence: np.ndarray
    cameras: tuple[Camera, ...]
    fps: float

    def __post_init__(self) -> None:
        v, t = self.confidence.shape[:2]
        if self.keypoints.shape != (v, t, N_LANDMARKS, 2) or len(self.cameras) != v:
            raise ValueError(f"keypoints {self.keypoints.shape}, confidence {self.confidence.shape} and "
                             f"{len(self.cameras)} cameras do not agree")

    @property
    def n_frames(self) -> int:
        return int(self.confidence.shape[1])

    @classmethod
    def from_views(cls, views: Sequence[PersonTrack], cameras: Sequence[Camera], fps: float) -> ClipEvidence:
        """Synchronised detections (same length) of each view → evidence; a keypoint's confidence is
        its visibility on frames where the person was found, 0 elsewhere or where it is not finite."""
        kps = np.stack([v.keypoints[..., :2] for v in views]).astype(np.float64)
        conf = np.stack([v.keypoints[..., 2] * v.person_found[:, None] for v in views]).astype(np.float64)
        conf[~np.isfinite(kps).all(-1)] = 0.0
        return cls(keypoints=kps, confidence=np.clip(np.nan_to_num(conf), 0.0, 1.0), cameras=tuple(cameras), fps=fps)


@dataclass
class NetworkPrior:
    """The network's answer: ``angles`` [T, 36] rad (rotational coordinates in model order, NaN where
    there is no prediction), ``scales`` [22, 3]; ``height_m`` the subject's height when given."""

    angles: np.ndarray
    scales: np.ndarray
    height_m: float | None = None


#: The pelvis's orientation coordinates: their prior is taken in the pelvis's own frame (see the module docstring).
PELVIS_ORIENTATION = ("pelvis_tilt", "pelvis_list", "pelvis_rotation")


def _pairs(names: tuple[str, ...]) -> tuple[list[int], list[int]]:
    right = [i for i, n in enumerate(names) if n.endswith("_r")]
    return right, [names.index(names[i][:-2] + "_l") for i in right]


class ClipObjective:
    """Evaluates the objective's terms for a clip; tensors live on ``device`` in ``dtype``."""

    def __init__(self, evidence: ClipEvidence, prior: NetworkPrior, init_coords: torch.Tensor,
                 settings: FitSettings, dtype: torch.dtype = torch.float64, device: torch.device | None = None):
        self.fk = fit_model().to(device)
        self.lm = load_landmarks()
        self.settings = settings
        self.keypoint_sigma = settings.keypoint_sigma  # the solver may re-estimate it from the residuals
        self.fps = float(evidence.fps)
        opts: dict[str, Any] = {"dtype": dtype, "device": device}
        self.rig = CameraRig.from_cameras(evidence.cameras, **opts)
        conf = np.nan_to_num(np.asarray(evidence.confidence, np.float64))
        kp = np.asarray(evidence.keypoints, np.float64)
        usable = (conf >= settings.min_confidence) & np.isfinite(kp).all(-1)
        self.keypoints = torch.as_tensor(np.where(usable[..., None], kp, 0.0), **opts)
        self.weight = torch.as_tensor(np.where(usable, conf, 0.0), **opts) * self.lm.fit_weights.to(**opts)
        names = self.fk.coordinate_names
        self.rot = torch.as_tensor(rotational_indices(), device=device)
        prior_q = torch.zeros(len(init_coords), len(names), **opts)
        prior_q[:, self.rot] = torch.as_tensor(np.nan_to_num(prior.angles), **opts)
        self.prior_q = prior_q
        self.prior_frames = torch.as_tensor(np.isfinite(prior.angles).all(1), **opts)
        self.posture = default_posture()
        with torch.no_grad():
            self.prior_pelvis_t = self.posture.pelvis(prior_q).transpose(-1, -2)  # [T, 3, 3]
        self.use_prior_sigmas(settings.prior_sigma_rad)
        self.anatomical = load_anatomical_prior() if settings.anatomical_prior else None
        rotational = torch.tensor([c.motion_type == "rotational" for c in self.fk.definition.coordinates],
                                  device=device)
        translational = torch.tensor([c.motion_type == "translational" for c in self.fk.definition.coordinates],
                                     device=device)
        dt2 = 1.0 / self.fps**2
        inv_acc = torch.zeros(len(names), **opts)
        inv_acc[rotational] = 1.0 / (settings.accel_sigma_rad_s2 * dt2)
        inv_acc[translational] = 1.0 / (settings.accel_sigma_m_s2 * dt2)
        self.inv_acc = inv_acc
        ranged = rotational & torch.tensor([not n.startswith("pelvis_") for n in names], device=device)
        self.ranged = ranged
        self.ranges = self.fk.coordinate_ranges.to(**opts)
        self.log_s_net = torch.log(torch.as_tensor(prior.scales, **opts))
        self.inv_scale_sigma = 1.0 / torch.as_tensor(scale_prior_sigma(settings), **opts)
        self.scale_index = torch.as_tensor(np.flatnonzero(fitted_scales(settings)), device=device)
        self.sym_r, self.sym_l = _pairs(self.fk.body_names)
        self.height_m = prior.height_m
        with torch.no_grad():
            self.height_px = self._height_px(init_coords.to(**opts), self.log_s_net)

    def use_prior_sigmas(self, sigmas: Mapping[str, float]) -> None:
        """Hold the coordinates to the network with these sigmas (rad, named without side suffix, as
        :data:`~model_store.fit.settings.PRIOR_SIGMA_RAD`): the solver's first pass narrows some of them."""
        names = self.fk.coordinate_names
        opts: dict[str, Any] = {"dtype": self.keypoints.dtype, "device": self.keypoints.device}
        settings = replace(self.settings, prior_sigma_rad={**self.settings.prior_sigma_rad, **sigmas})
        pelvis = [names.index(n) for n in PELVIS_ORIENTATION]
        sig = torch.full((len(names),), math.inf, **opts)
        for i in rotational_indices():
            if self.fk.definition.coordinates[i].motion_type == "rotational" and i not in pelvis:
                sig[i] = settings.prior_sigma(names[i])
        self.prior_inv_sigma = 1.0 / sig
        # the rotation vector's components about the pelvis's x (forward), y (up) and z (lateral) axes
        self.pelvis_inv_sigma = torch.tensor([1.0 / settings.prior_sigma(n) for n in
                                              ("pelvis_list", "pelvis_rotation", "pelvis_tilt")], **opts)

    # ------------------------------------------------------------------------------------------
    def landmarks(self, q: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
        """Model landmarks in ground [T, 33, 3] (m) for coordinates [T, 39] and log scales [22, 3]."""
        s = torch.exp(log_s)[None].expand(q.shape[0], -1, -1)
        return self.lm.positions(self.fk(q, s), s)

    def _height_px(self, q: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
        """The person's standing height in px per view and frame [V, T], at the pelvis's depth."""
        h = standing_height_m(self.fk, torch.exp(log_s)[None])[0]
        pelvis = q[:, 3:6]
        depth = self.rig.to_camera(pelvis)[..., 2].clamp(min=0.1)
        return self.rig.K[:, 1, 1, None] * h / depth

    def residuals_px(self, q: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
        """Projected model landmarks minus keypoints [V, T, 33, 2] (px; meaningless where weight is 0)."""
        px, _ = self.rig.project(self.landmarks(q, log_s))
        return px - self.keypoints

    def residual_distances(self, q: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
        """Reprojection distances [V, T, 33] (px), NaN where the keypoint is not used."""
        with torch.no_grad():
            dist = self.residuals_px(q, log_s).norm(dim=-1)
        return torch.where(self.weight > 0, dist, torch.full_like(dist, float("nan")))

    def posture_residuals(self, q: torch.Tensor) -> torch.Tensor:
        """Whitened prior residuals on the pelvis's orientation [T, K] (see the module docstring): the
        rotation from the network's pelvis to ``q``'s about the pelvis's forward, vertical and lateral
        axes over their sigmas (0 on frames without a network answer), then, with the anatomical prior,
        the pelvis's anatomical tilt against the prior's for the trunk's lean over its sigma."""
        rel = rotation_log(self.prior_pelvis_t @ self.posture.pelvis(q))  # [T, 3], in the network pelvis's frame
        res = [rel * self.pelvis_inv_sigma * self.prior_frames[:, None]]
        if self.anatomical is not None:
            res.append(self.anatomical.tilt_residual(self.posture, q)[:, None] / self.settings.anatomical_sigma_scale)
        return torch.cat(res, dim=1)

    def terms(self, q: torch.Tensor, log_s: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every term of the objective (per frame, see the module docstring)."""
        n = q.shape[0]
        s = self.settings
        res = self.residuals_px(q, log_s)
        norm = (res * res).sum(-1) / (self.height_px[..., None] * self.keypoint_sigma) ** 2
        out = {"keypoints": (self.weight * torch.log1p(norm)).sum() / n}
        d = q - self.prior_q
        d = torch.atan2(torch.sin(d), torch.cos(d))
        k2 = s.prior_robust_k**2
        prior = 0.5 * k2 * torch.log1p((d * self.prior_inv_sigma) ** 2 / k2)
        posture = 0.5 * k2 * torch.log1p(self.posture_residuals(q) ** 2 / k2)
        out["prior"] = ((prior * self.prior_frames[:, None]).sum() + posture.sum()) / n
        if n >= 3:
            acc = q[2:] - 2 * q[1:-1] + q[:-2]
            out["smoothness"] = 0.5 * ((acc * self.inv_acc) ** 2).sum() / n
        lo, hi = self.ranges[:, 0], self.ranges[:, 1]
        outside = (torch.relu(q - hi) + torch.relu(lo - q)) * self.ranged
        out["ranges"] = 0.5 * ((outside / s.range_sigma_rad) ** 2).sum() / n
        scale_terms = ((log_s - self.log_s_net) * self.inv_scale_sigma).flatten()[self.scale_index] ** 2
        lo, hi = np.log(s.scale_bounds[0]), np.log(s.scale_bounds[1])
        outside = (torch.relu(log_s - hi) + torch.relu(lo - log_s)) / s.scale_bound_softness
        scale_terms = scale_terms + outside.pow(2).sum()
        scale_terms = scale_terms.sum() + ((log_s[self.sym_r] - log_s[self.sym_l]) / s.symmetry_sigma).pow(2).sum()
        if self.height_m is not None:
            h = standing_height_m(self.fk, torch.exp(log_s)[None])[0]
            scale_terms = scale_terms + ((h / self.height_m - 1.0) / s.height_sigma) ** 2
        out["scales"] = 0.5 * scale_terms / n
        return out


def measure_reprojection(
    evidence: ClipEvidence, coords: np.ndarray, scales: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reprojection error of a motion (coordinates [T, 39], scales [22, 3]) against the keypoints.

    Returns distances [V, T, 33] (px; NaN where the keypoint is unused) and the person's height in
    px per view and frame [V, T] (at the pelvis's depth), the scale the fit measures residuals by.
    """
    q = torch.as_tensor(np.asarray(coords, np.float64))
    prior = NetworkPrior(angles=np.asarray(coords)[:, rotational_indices()], scales=np.asarray(scales, np.float64))
    obj = ClipObjective(evidence, prior, q, FitSettings())
    return obj.residual_distances(q, obj.log_s_net).numpy(), obj.height_px.numpy()
