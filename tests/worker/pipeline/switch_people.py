"""Two synthetic people filmed by the same calibrated rig, and a tracker that jumps from one to the other
mid-clip in both views: exact detections of each person (training.synth's renderer), spliced at a frame."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from model_store.biomech import load_fullbody_model
from model_store.biomech.motion_files import Motion
from model_store.demo import sample_motion
from model_store.keypoints.detections import ViewDetections
from training.synth.clip import RenderedClip, _scaled_camera, render_clip
from training.synth.render import draw_mask, keypoint_visibility, project_capsules
from training.synth.sequence import build_sequence
from training.synth.subjects import sample_subject


def _motion(seconds: float, shift_s: float = 0.0, offset_m: tuple[float, float] = (0.0, 0.0)) -> Motion:
    """The demo's walking-like motion, ``shift_s`` later in its cycle, its pelvis moved by ``offset_m``
    (x, z: horizontal, metres)."""
    times, q = sample_motion(seconds + shift_s)
    n = times.size - int(round(shift_s * 60))
    q = q[-n:].copy()
    names = load_fullbody_model().coordinate_names
    q[:, names.index("pelvis_tx")] += offset_m[0]
    q[:, names.index("pelvis_tz")] += offset_m[1]
    return Motion(times[:n], q, tuple(names))


def render_pair(seconds: float = 2.0, seed: int = 3, offset_m: tuple[float, float] = (0.7, 0.4),
                size_ratio: float = 1.0) -> tuple[RenderedClip, tuple[ViewDetections, ViewDetections]]:
    """Person A (a rendered clip, which fixes the rig) and person B (another body, ``size_ratio`` × A's height,
    half a stride later in the walk, ``offset_m`` away), B's exact detections through A's cameras."""
    clip = render_clip(_motion(seconds), seed=seed)
    rng = np.random.default_rng(seed + 100)
    other = sample_subject(rng)
    height = clip.subject.height_m * size_ratio
    other = replace(other, scales=other.scales * height / other.height_m, height_m=height)
    seq = build_sequence(rng, clip.times_s.size, coords=_motion(seconds, 0.5, offset_m).coords, subject=other)
    dets = []
    for cam, det in zip(clip.sequence.cameras, clip.detections, strict=True):
        cam = _scaled_camera(cam, 960)
        px, r_px, _ = project_capsules(cam, seq.capsules, seq.radii)
        masks = np.stack([draw_mask(px[i], r_px[i], np.zeros(2), 1.0, cam.image_size) for i in range(len(px))])
        kp_px, _ = cam.project_pinhole(seq.landmarks)
        vis = keypoint_visibility(cam, seq.capsules, seq.radii, seq.landmarks)
        kps = np.concatenate([kp_px, vis[..., None]], -1).astype(np.float32)
        dets.append(ViewDetections(masks, kps, det.person_found.copy(), det.fps, det.image_size))
    return clip, (dets[0], dets[1])


def splice(a: ViewDetections, b: ViewDetections, k: int) -> ViewDetections:
    """``a``'s frames before ``k``, ``b``'s from ``k`` on."""
    pick = np.arange(a.n_frames) >= k
    return ViewDetections(np.where(pick[:, None, None], b.masks, a.masks),
                          np.where(pick[:, None, None], b.keypoints, a.keypoints),
                          np.where(pick, b.person_found, a.person_found), a.fps, a.image_size)
