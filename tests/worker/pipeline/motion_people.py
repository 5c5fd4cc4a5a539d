"""Synthetic people in motion for the motion-matching tests: MediaPipe-style keypoint series as an
upright camera would see them (image y down, px), at the motion survey's rate."""

from __future__ import annotations

import numpy as np

from worker.pipeline.people import motion_match
from worker.pipeline.people.subject import Person

SAMPLE_HZ = 60.0 / motion_match.MOTION_STEP
N = int(motion_match.MOTION_SECONDS * 60) // motion_match.MOTION_STEP + 1


def moving_person(cadence_hz: float, phase: float, height_px: float, x_px: float, seed: int,
                  start: int = 0, still: bool = False) -> Person:
    """A person stepping at ``cadence_hz`` strides a second (``still``: standing), seen ``height_px``
    tall with feet at y = 900 px, from sample ``start`` of their motion (a later survey frame)."""
    rng = np.random.default_rng(seed)
    t = (np.arange(N) + start) / SAMPLE_HZ
    w = 2 * np.pi * cadence_hz * t + phase
    amp = 0.0 if still else 1.0
    kp = np.zeros((N, 33, 3))
    kp[..., 2] = 0.9
    foot = 900.0
    kp[:, :, 0] = x_px + rng.normal(0, 0.05 * height_px, 33)
    kp[:, :, 1] = foot - height_px * np.linspace(0.0, 1.0, 33)[::-1]  # a column of points, head at the top
    for side, sign in ((0, 1), (1, -1)):  # left, right
        kp[:, 27 + side, 1] = foot - amp * height_px * 0.08 * np.maximum(0, sign * np.sin(w))  # feet lift in turn
        kp[:, 25 + side, 1] = foot - height_px * (0.28 + amp * 0.05 * np.maximum(0, sign * np.sin(w)))
        kp[:, 15 + side, 1] = foot - height_px * (0.48 + amp * 0.06 * sign * np.sin(w + 0.3))  # arms swing
        kp[:, 11 + side, 1] = foot - height_px * 0.82
        kp[:, 23 + side, 1] = foot - height_px * (0.52 + amp * 0.015 * np.cos(2 * w))  # the hips bob twice a stride
    kp[..., :2] += rng.normal(0, 0.004 * height_px, (N, 33, 2))  # detector jitter
    box = np.array([x_px - 0.15 * height_px, foot - height_px, x_px + 0.15 * height_px, foot])
    return Person(box, kp[0].astype(np.float32), kp)
