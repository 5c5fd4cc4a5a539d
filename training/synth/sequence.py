"""One synthetic two-view sequence: motion + subject + rig → truth, crops, masks, keypoints.

Everything is in the OpenSim ground frame (Y up, metres, radians). Keypoints are in px of the
256² crop (see :mod:`training.synth.render`); masks are the crop resampled to ``mask_size``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from model_store.biomech import load_fullbody_model
from model_store.conventions import MODEL_RATE_HZ
from model_store.geometry.cameras import Camera
from model_store.keypoints.landmarks import load_landmarks
from training.synth import motions
from training.synth.body import build_capsules
from training.synth.corruption import corrupt_view
from training.synth.motion_mix import MotionMix
from training.synth.render import render_crops
from training.synth.rig import sample_rig
from training.synth.subjects import Subject, sample_subject


@cache
def _fk():
    """The FK module, built once per process (building it solves the model's splines)."""
    return load_fullbody_model()


@contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """Per-sequence FK (tens of frames) is fastest on one thread; intra-op threads on a shared
    2-core machine made it ~40× slower. The caller's setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class SyntheticSequence:
    coords: np.ndarray  # [F, 39] rad / m
    scales: np.ndarray  # [22, 3]
    body_origins: np.ndarray  # [F, 22, 3] m
    joint_centers: np.ndarray  # [F, 22, 3] m
    landmarks: np.ndarray  # [F, 33, 3] m
    capsules: np.ndarray  # [F, C, 2, 3] m
    radii: np.ndarray  # [C] m
    cameras: tuple[Camera, Camera]
    subject: Subject
    source: str


def pose_sequence(
    rng: np.random.Generator, frames: int, walk: np.ndarray | None, walk_fps: float,
    walk_mirror: bool = False, p_walk: float = 0.4,
) -> tuple[np.ndarray, str]:
    """Coordinates [frames, 39] from the real walk (augmented) or the random generator.

    ``walk_mirror`` selects the left/right mirrored trial: the training split uses the original
    trial only and the test split the mirrored one only, so the two never share a motion.
    """
    if walk is not None and rng.random() < p_walk:
        q = motions.walk_window(rng, walk, walk_fps, frames, MODEL_RATE_HZ)
        source = "walk"
        if walk_mirror:
            q, source = motions.mirror(q), "walk_mirrored"
        q = motions.scale_amplitude(q, rng)
        q = motions.rotate_heading(q, rng.uniform(-np.pi, np.pi))
        return q, source
    return motions.random_motion(rng, frames, MODEL_RATE_HZ), "random"


def build_sequence(
    rng: np.random.Generator, frames: int, walk: np.ndarray | None = None, walk_fps: float = 100.0,
    coords: np.ndarray | None = None, subject: Subject | None = None, walk_mirror: bool = False,
    mix: MotionMix | None = None,
) -> SyntheticSequence:
    """Sample (or take) a motion and a subject, ground the feet, run FK, place the cameras.

    With ``mix`` the motion comes from the mixture (real library trials, procedural kinds, random;
    grounded for the sampled subject) instead of the walk-or-random recipe."""
    with _single_threaded_torch(), torch.no_grad():
        return _build_sequence(rng, frames, walk, walk_fps, coords, subject, walk_mirror, mix)


def _build_sequence(
    rng: np.random.Generator, frames: int, walk: np.ndarray | None, walk_fps: float,
    coords: np.ndarray | None, subject: Subject | None, walk_mirror: bool, mix: MotionMix | None = None,
) -> SyntheticSequence:
    fk = _fk()
    subject = subject or sample_subject(rng)
    source = "given"
    if coords is None and mix is not None:
        coords, source = mix.sample(rng, frames, MODEL_RATE_HZ, subject.scales)
    elif coords is None:
        coords, source = pose_sequence(rng, frames, walk, walk_fps, walk_mirror)
    coords = coords.copy()
    scales_t = torch.tensor(subject.scales)[None].expand(coords.shape[0], -1, -1)
    out = fk(torch.tensor(coords), scales_t)
    if source == "random":  # put the lowest foot point on the floor, frame by frame
        feet = [fk.body_names.index(n) for n in ("calcn_r", "calcn_l", "toes_r", "toes_l")]
        lowest = out.body_origins[:, feet, 1].min(1).values.numpy()
        coords[:, fk.coordinate_names.index("pelvis_ty")] += rng.uniform(0.0, 0.03) - lowest
        out = fk(torch.tensor(coords), scales_t)
    lms = load_landmarks().positions(out, scales_t).numpy()
    capsule_set = build_capsules()
    caps = capsule_set.endpoints(out, scales_t).numpy()
    radii = capsule_set.radii(subject.scales, subject.girth, subject.clothing)
    cams = sample_rig(rng, caps, radii, motions.facing_angle(coords))
    return SyntheticSequence(
        coords=out.coords.numpy(), scales=subject.scales, body_origins=out.body_origins.numpy(),
        joint_centers=out.joint_centers.numpy(), landmarks=lms, capsules=caps, radii=radii,
        cameras=cams, subject=subject, source=source,
    )


def render_views(
    seq: SyntheticSequence, rng: np.random.Generator, mask_size: int, corrupt: bool = True
) -> dict[str, np.ndarray]:
    """Per-view crops: masks [F, V, S, S] uint8, keypoints [F, V, 33, 3], crops [F, V, 3], found [F, V]."""
    masks, kps, crops, found = [], [], [], []
    for cam in seq.cameras:
        m, k, c = render_crops(cam, seq.capsules, seq.radii, seq.landmarks, mask_size)
        k, vis = k[..., :2], k[..., 2]
        f = np.ones(k.shape[0], bool)
        if corrupt:
            m, k, vis, f = corrupt_view(rng, m, k, vis)
        masks.append(m)
        kps.append(np.concatenate([k, vis[..., None]], -1).astype(np.float32))
        crops.append(c.astype(np.float32))
        found.append(f)
    return {
        "masks": np.stack(masks, 1), "keypoints": np.stack(kps, 1), "crops": np.stack(crops, 1),
        "person_found": np.stack(found, 1),
    }
