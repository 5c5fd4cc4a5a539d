"""Solve the per-clip fit: Levenberg-Marquardt on all frames and the scale set at once.

Deterministic for given inputs (fixed iteration order, no randomness); float64 throughout. Runs on
the device the caller names (CPU by default, CUDA when given). Failures the caller can act on raise
:class:`FitError` with a stable ``code``: ``fit_no_keypoints`` (a view has no usable keypoint at all),
``fit_diverged`` (the objective or the solution became non-finite), ``fit_invalid_input``
(non-finite or non-positive scales, or coordinates that are not finite).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from model_store.fit.gauss_newton import Linearization, frame_sigmas, linearize, solve_step
from model_store.fit.objective import ClipEvidence, ClipObjective, NetworkPrior
from model_store.fit.settings import FitSettings
from model_store.sizes import N_BODIES


class FitError(RuntimeError):
    """A fit that cannot give a trustworthy answer; ``code`` is stable, ``message`` one line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FitResult:
    """The fitted clip: ``coords`` [T, 39] (rad / m, couplers applied), ``scales`` [22, 3],
    ``residual_px`` [V, T, 33] reprojection error (px, NaN where the keypoint was not used),
    ``height_px`` [V, T] the person's height in px that residuals are measured by,
    ``keypoint_sigma`` the keypoint noise level the fit settled on (fraction of that height),
    ``sigma`` [T, 39] each coordinate's standard deviation from the fit's curvature (rad / m, NaN
    for coupled and locked coordinates; see :func:`model_store.fit.gauss_newton.frame_sigmas`),
    ``objective`` the final value of each term (per frame), ``iterations`` Levenberg-Marquardt
    iterations, ``evaluations`` objective evaluations, ``seconds`` wall time."""

    coords: np.ndarray
    scales: np.ndarray
    residual_px: np.ndarray
    height_px: np.ndarray
    keypoint_sigma: float
    sigma: np.ndarray
    objective: dict[str, float]
    iterations: int
    evaluations: int
    seconds: float
    initial_objective: dict[str, float] = field(default_factory=dict)


def _check_inputs(evidence: ClipEvidence, prior: NetworkPrior, init_coords: np.ndarray) -> None:
    scales = np.asarray(prior.scales, np.float64)
    if scales.shape != (N_BODIES, 3) or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise FitError("fit_invalid_input", "the network's body scales are not finite positive numbers")
    if not np.all(np.isfinite(init_coords)):
        raise FitError("fit_invalid_input", "the initial coordinates are not finite")
    if init_coords.shape[0] != evidence.n_frames or prior.angles.shape[0] != evidence.n_frames:
        raise FitError("fit_invalid_input", "initial coordinates, prior and keypoints differ in frame count")


def fit_clip(
    evidence: ClipEvidence,
    prior: NetworkPrior,
    init_coords: np.ndarray,
    settings: FitSettings | None = None,
    device: torch.device | str | None = None,
    progress: Callable[[float], None] | None = None,
) -> FitResult:
    """Fit coordinates [T, 39] and one scale set to the keypoints of every view.

    ``init_coords`` [T, 39] (rad / m, model order, finite) starts the solver — the network's angles
    with the triangulated pelvis translation. Coordinates the model locks (subtalar, mtp, wrist in
    Rajagopal 2016) are held at their default values, as OpenSim's inverse kinematics holds them.
    Levenberg-Marquardt on the structured normal equations (:mod:`model_store.fit.gauss_newton`):
    each iteration linearises, solves, and accepts the step only if the true (robust) objective
    decreases. ``progress`` receives the fraction of the iteration budget used so far.
    """
    settings = settings or FitSettings()
    init_coords = np.asarray(init_coords, np.float64)
    _check_inputs(evidence, prior, init_coords)
    t0 = time.perf_counter()
    dev = torch.device(device) if device is not None else torch.device("cpu")
    q = torch.as_tensor(init_coords, dtype=torch.float64, device=dev).clone()
    obj = ClipObjective(evidence, prior, q, settings, device=dev)
    for v, seen in enumerate((obj.weight > 0).any(dim=(1, 2)).tolist()):
        if not seen:
            raise FitError("fit_no_keypoints", f"no keypoint is visible (confidence ≥ {settings.min_confidence}) "
                                               f"in view {v + 1} ({evidence.cameras[v].name})")
    coords_def = obj.fk.definition.coordinates
    free = torch.tensor([c.motion_type != "coupled" and not c.locked for c in coords_def], device=dev)
    locked = torch.tensor([c.locked for c in coords_def], device=dev)
    q[:, locked] = obj.fk.default_coordinates.to(q)[locked]  # held at their defaults, as OpenSim's IK does
    log_s = obj.log_s_net.clone()
    n = q.shape[0]
    state = _Progress(settings, progress)
    initial = _cost(obj, q, log_s)[1]
    if settings.start_prior_sigma_rad:  # a narrow first pass finds the basin, the shipped sigmas then move in it
        obj.use_prior_sigmas(settings.start_prior_sigma_rad)
        q, log_s, lin = _levenberg_marquardt(obj, q, log_s, free, state)
        obj.use_prior_sigmas(settings.prior_sigma_rad)
    q, log_s, lin = _levenberg_marquardt(obj, q, log_s, free, state)
    for _ in range(settings.sigma_rounds):
        sigma_hat = estimate_keypoint_sigma(obj, q, log_s)
        lo, hi = settings.keypoint_sigma_range
        sigma_hat = float(np.clip(sigma_hat, lo, hi))
        if abs(sigma_hat - obj.keypoint_sigma) < 0.1 * obj.keypoint_sigma:
            break
        obj.keypoint_sigma = sigma_hat
        q, log_s, lin = _levenberg_marquardt(obj, q, log_s, free, state)
    iterations, evaluations = state.iterations, state.evaluations
    if state.accepted == 0 and state.non_finite > 0:
        raise FitError("fit_diverged", "the fit's solver produced non-finite steps and could not improve the answer")
    sigma = np.full((n, q.shape[1]), np.nan)
    with contextlib.suppress(np.linalg.LinAlgError):  # no estimate (left NaN) rather than no result
        # the last linearisation: at the solution or one converged (sub-tolerance) step before it
        sigma[:, free.cpu().numpy()] = frame_sigmas(lin if lin is not None else linearize(obj, q, log_s, free))
    with torch.no_grad():
        final = {k: float(v) for k, v in obj.terms(q, log_s).items()}
        coords = obj.fk.apply_couplers(q)
    dist = obj.residual_distances(q, log_s)
    coords_np, scales_np = coords.cpu().numpy(), torch.exp(log_s).cpu().numpy()
    if not (np.all(np.isfinite(coords_np)) and np.all(np.isfinite(scales_np))) or not np.isfinite(sum(final.values())):
        raise FitError("fit_diverged", "the fit produced non-finite coordinates or scales")
    return FitResult(coords=coords_np, scales=scales_np, residual_px=dist.cpu().numpy(),
                     height_px=obj.height_px.cpu().numpy(), sigma=sigma, keypoint_sigma=obj.keypoint_sigma,
                     objective=final,
                     iterations=iterations, evaluations=evaluations, seconds=time.perf_counter() - t0,
                     initial_objective=initial)


class _Progress:
    """Counters shared by the solver's rounds; reports the fraction of the iteration budget used."""

    def __init__(self, settings: FitSettings, progress: Callable[[float], None] | None) -> None:
        self.settings, self.progress = settings, progress
        self.iterations = self.evaluations = self.accepted = self.non_finite = 0
        self.budget = settings.max_iterations * (1 + bool(settings.start_prior_sigma_rad) + settings.sigma_rounds)

    def iteration(self) -> None:
        self.iterations += 1
        if self.progress is not None:
            self.progress(min(self.iterations / self.budget, 1.0))


def _cost(obj: ClipObjective, q: torch.Tensor, log_s: torch.Tensor) -> tuple[float, dict[str, float]]:
    """The objective (summed over frames) and its terms (per frame)."""
    with torch.no_grad():
        terms = {k: float(v) for k, v in obj.terms(q, log_s).items()}
    return sum(terms.values()) * q.shape[0], terms


def estimate_keypoint_sigma(obj: ClipObjective, q: torch.Tensor, log_s: torch.Tensor) -> float:
    """Robust per-axis noise level of the keypoints (fraction of the person's height): the weighted
    median residual distance over the Rayleigh median factor √(2 ln 2) ≈ 1.177."""
    dist = obj.residual_distances(q, log_s) / obj.height_px[..., None]
    w = obj.weight.flatten().cpu().numpy()
    d = dist.flatten().cpu().numpy()
    keep = w > 0
    if not keep.any():
        return obj.keypoint_sigma
    order = np.argsort(d[keep])
    cum = np.cumsum(w[keep][order])
    median = d[keep][order][np.searchsorted(cum, cum[-1] / 2)]
    return float(median / np.sqrt(2 * np.log(2)))


def _levenberg_marquardt(obj: ClipObjective, q: torch.Tensor, log_s: torch.Tensor, free: torch.Tensor,
                         state: _Progress) -> tuple[torch.Tensor, torch.Tensor, Linearization | None]:
    """Levenberg-Marquardt from (q, log_s) until the relative decrease falls below the tolerance;
    returns the solution and the last linearisation made."""
    settings = state.settings
    current, _ = _cost(obj, q, log_s)
    state.evaluations += 1
    if not np.isfinite(current):
        raise FitError("fit_diverged", "the fit's objective is not finite at the network's answer")
    damping = settings.initial_damping
    lin = None
    for _ in range(settings.max_iterations):
        lin = linearize(obj, q, log_s, free)
        state.iteration()
        step = None
        while damping <= settings.max_damping:
            try:
                dx, ds = solve_step(lin, damping)
            except (np.linalg.LinAlgError, ValueError):
                dx = ds = np.full(1, np.nan)
            if not (np.all(np.isfinite(dx)) and np.all(np.isfinite(ds))):
                state.non_finite += 1
                damping *= 10.0
                continue
            q_new = q.clone()
            q_new[:, free] += torch.as_tensor(dx, device=q.device)
            ls_new = log_s.flatten().index_add(0, obj.scale_index, torch.as_tensor(ds, device=q.device))
            ls_new = ls_new.reshape(log_s.shape)
            new, _ = _cost(obj, q_new, ls_new)
            state.evaluations += 1
            if np.isfinite(new) and new <= current:
                step = (q_new, ls_new, new)
                break
            damping *= 10.0
        if step is None:
            break
        state.accepted += 1
        decrease = (current - step[2]) / max(current, 1e-12)
        q, log_s, current = step
        damping = max(damping / 10.0, 1e-9)
        if decrease < settings.tolerance:
            break
    return q, log_s, lin
