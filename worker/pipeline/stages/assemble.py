"""Stage ``assemble`` — initial motion from the network (fill gaps, pelvis translation from the cameras, one scale set)
and the final OpenSim results: ``kinematics.mot`` (degrees), ``model_scaled.osim``,
``joint_centers.trc`` (mm).

Pelvis translation: the hip keypoints of both views are triangulated (undistorted pixels, the
calibrated cameras) into the calibration world, converted to OpenSim ground (Y up), and the FK hip
midpoint of the predicted pose (pelvis at the origin) is subtracted; short gaps are interpolated
and the track is smoothed over 5 frames (≈ 83 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model_store import results
from model_store.biomech import load_fullbody_model, write_mot, write_scaled_osim, write_trc
from model_store.geometry.cameras import OPENSIM_FROM_WORLD, Camera
from model_store.geometry.triangulation import triangulate
from model_store.keypoints.detections import PersonTrack
from model_store.keypoints.landmarks import load_landmarks, standing_height_m
from model_store.network.outputs import assemble_coordinates

MAX_GAP_FRAMES = 30  # gaps up to 0.5 s at 60 fps are interpolated


@dataclass
class Assembled:
    times_s: np.ndarray
    coords: np.ndarray  # [T, 39] rad / m
    scales: np.ndarray  # [22, 3]
    joint_centers: np.ndarray  # [T, 22, 3] m
    filled_frames: int
    held_frames: int
    model_height_m: float
    clipped_values: int = 0


def fill_gaps(x: np.ndarray, max_gap: int = MAX_GAP_FRAMES) -> tuple[np.ndarray, int, int]:
    """Interpolate NaN rows of ``x`` [T, D] (angles unwrapped first); longer gaps hold the nearest value.

    Returns the filled array, the number of interpolated frames and the number of held frames.
    """
    missing = ~np.isfinite(x).all(1)
    if missing.all():
        raise ValueError("no frame has a value")
    t = np.arange(x.shape[0])
    good = ~missing
    out = x.copy()
    for d in range(x.shape[1]):
        col = np.unwrap(x[good, d])
        out[:, d] = np.interp(t, t[good], col)
    held = 0
    # runs longer than max_gap (or at the ends) are held, not interpolated
    run_start = None
    for i in range(len(t) + 1):
        if i < len(t) and missing[i]:
            run_start = i if run_start is None else run_start
        elif run_start is not None:
            length = i - run_start
            at_edge = run_start == 0 or i == len(t)
            if length > max_gap or at_edge:
                held += length
                src = run_start - 1 if run_start > 0 else i
                out[run_start:i] = out[src]
            run_start = None
    return out, int(missing.sum()) - held, held


def clip_to_ranges(angles: np.ndarray) -> tuple[np.ndarray, int]:
    """Clamp joint angles [T, 36] (rad) into the model's coordinate ranges, as OpenSim's clamped
    coordinates would; the pelvis's global orientation is left free. Returns the count clamped."""
    fk = load_fullbody_model()
    rot = [i for i, c in enumerate(fk.definition.coordinates) if c.motion_type != "translational"]
    ranges = fk.coordinate_ranges.numpy()[rot]
    free = np.array([fk.coordinate_names[i].startswith("pelvis_") for i in rot])
    lo = np.where(free, -np.inf, ranges[:, 0])
    hi = np.where(free, np.inf, ranges[:, 1])
    clipped = np.clip(angles, lo, hi)
    return clipped, int((clipped != angles).sum())


def hip_midpoints(views: tuple[PersonTrack, PersonTrack], cams: tuple[Camera, Camera]) -> np.ndarray:
    """Hip midpoint per frame in OpenSim ground [T, 3] (NaN where either view misses it)."""
    lm = load_landmarks()
    hips = [lm.index("left_hip"), lm.index("right_hip")]
    mid = np.stack([v.keypoints[:, hips, :2].mean(1) for v in views])
    vis = np.stack([v.keypoints[:, hips, 2].min(1) * v.person_found for v in views])
    world, _ = triangulate(mid, vis, cams, min_confidence=0.3)
    return world @ OPENSIM_FROM_WORLD.T


def model_height(scales: np.ndarray) -> float:
    """Standing height (m) of the scaled model in its default pose (heel to head top)."""
    with torch.no_grad():
        return float(standing_height_m(load_fullbody_model(), torch.tensor(scales, dtype=torch.float64)[None])[0])


@dataclass
class InitialMotion:
    """The network's answer made whole: ``coords`` [T, 39] (rad / m; gaps filled, angles clamped to the
    model's ranges, pelvis translation from the cameras), ``scales`` [22, 3] (rescaled to the given
    height), and how many frames were interpolated or held and how many angle values were clamped."""

    coords: np.ndarray
    scales: np.ndarray
    filled_frames: int
    held_frames: int
    clipped_values: int


def initial_motion(
    angles: np.ndarray, scales: np.ndarray, hip_mid: np.ndarray, height_m: float | None = None
) -> InitialMotion:
    """Network angles [T, 36] (rad, NaN where no prediction) + scales [22, 3] + triangulated hip
    midpoints [T, 3] (OpenSim ground, m, NaN where unseen) → a complete motion."""
    fk = load_fullbody_model()
    lm = load_landmarks()
    filled, n_interp, n_held = fill_gaps(angles)
    filled, n_clipped = clip_to_ranges(filled)
    scales = np.asarray(scales, np.float64)
    if height_m is not None:
        scales = scales * (height_m / model_height(scales))
    t = filled.shape[0]
    s = torch.tensor(scales)[None].expand(t, -1, -1)
    q0 = torch.tensor(assemble_coordinates(filled, np.zeros((t, 3))))
    with torch.no_grad():
        out0 = fk(q0, s)
        hips = [lm.index("left_hip"), lm.index("right_hip")]
        model_mid = lm.positions(out0, s)[:, hips].mean(1).numpy()
    trans = hip_mid - model_mid
    if np.isfinite(trans).all(1).any():
        trans, _, _ = fill_gaps(trans)
        kernel = np.ones(5) / 5
        pad = np.pad(trans, ((2, 2), (0, 0)), mode="edge")
        trans = np.stack([np.convolve(pad[:, d], kernel, mode="valid") for d in range(3)], 1)
    else:
        trans = np.tile(fk.default_coordinates[3:6].numpy(), (t, 1))
    return InitialMotion(assemble_coordinates(filled, trans), scales, n_interp, n_held, n_clipped)


def assemble(coords: np.ndarray, scales: np.ndarray, fps: float, initial: InitialMotion) -> Assembled:
    """Final coordinates [T, 39] (rad / m) and scales [22, 3] → joint centres, model height, counts.

    Joint angles are clamped to the model's ranges once more (a fit keeps them inside only softly);
    the clamp count adds to the initial one.
    """
    fk = load_fullbody_model()
    rot = [i for i, c in enumerate(fk.definition.coordinates) if c.motion_type != "translational"]
    coords = np.array(coords, np.float64)
    coords[:, rot], n_clipped = clip_to_ranges(coords[:, rot])
    t = coords.shape[0]
    s = torch.tensor(scales, dtype=torch.float64)[None].expand(t, -1, -1)
    with torch.no_grad():
        out = fk(torch.tensor(coords), s)
    return Assembled(np.arange(t) / fps, out.coords.numpy(), np.asarray(scales, np.float64),
                     out.joint_centers.numpy(), initial.filled_frames, initial.held_frames,
                     model_height(scales), initial.clipped_values + n_clipped)


def write_results(result: Assembled, out_dir: Path, mass_kg: float | None, fps: float) -> list[str]:
    """Write the OpenSim files; returns their names relative to ``out_dir``."""
    fk = load_fullbody_model()
    write_mot(out_dir / results.KINEMATICS, result.times_s, result.coords)
    write_scaled_osim(out_dir / results.SCALED_MODEL, result.scales, mass_kg=mass_kg)
    write_trc(out_dir / results.JOINT_CENTERS, result.times_s, result.joint_centers, fk.body_names, fps)
    return [results.KINEMATICS, results.SCALED_MODEL, results.JOINT_CENTERS]
