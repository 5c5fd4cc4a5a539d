"""Two-camera rig sampler: a front-ish and a side-ish static perspective camera per clip.

Cameras are built in the OpenSim ground frame (Y up) looking at the subject's path. The angle
between the views, distances (m), heights (m), focal lengths (from a horizontal field of view) and
image sizes vary; the rig is pushed back until every frame's silhouette stays inside both images.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from model_store.geometry.cameras import OPENSIM_FROM_WORLD, Camera, look_at
from training.synth.render import project_capsules, silhouette_box

IMAGE_SIZES = ((1920, 1080), (1080, 1920), (1280, 720), (720, 1280), (1088, 1920))


def _camera(rng: np.random.Generator, azimuth: float, target: np.ndarray, dist: float) -> Camera:
    w, h = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    hfov = np.radians(rng.uniform(40.0, 70.0)) if w > h else np.radians(rng.uniform(28.0, 45.0))
    f = (w / 2) / np.tan(hfov / 2)
    k = np.array([[f, 0, (w - 1) / 2 + rng.normal(0, 5)], [0, f, (h - 1) / 2 + rng.normal(0, 5)], [0, 0, 1.0]])
    height = rng.uniform(0.7, 1.8)
    centre = target + dist * np.array([np.cos(azimuth), 0.0, -np.sin(azimuth)])
    centre[1] = height
    aim = target + rng.normal(0, 0.1, 3)
    r, t = look_at(centre, aim, roll=np.radians(rng.normal(0, 1.5)))
    return Camera(name="synthetic", K=k, dist=np.zeros(5), R=r, t=t, image_size=(w, h))


def _fits(cam: Camera, endpoints: np.ndarray, radii: np.ndarray, border: float = 0.03) -> bool:
    px, r_px, zmin = project_capsules(cam, endpoints, radii)
    if np.any(zmin < 0.8):
        return False
    lo, hi = silhouette_box(px, r_px)
    w, h = cam.image_size
    return bool(np.all(lo >= border * min(w, h)) and np.all(hi[:, 0] <= w * (1 - border))
                and np.all(hi[:, 1] <= h * (1 - border)))


def sample_rig(
    rng: np.random.Generator, endpoints: np.ndarray, radii: np.ndarray, facing: float
) -> tuple[Camera, Camera]:
    """Front and side cameras for capsules [T, C, 2, 3] (m). ``facing`` is the subject's mean heading (rad,
    about +Y, 0 = facing +X). The side view is 55–125° away from the front view, either side."""
    path = endpoints.reshape(-1, 3)
    target = np.array([np.median(path[:, 0]), 0.95, np.median(path[:, 2])])
    extent = float(np.ptp(path[:, [0, 2]], axis=0).max())
    front_az = facing + np.radians(rng.normal(0, 20))
    side_az = front_az + rng.choice([-1, 1]) * np.radians(rng.uniform(55, 125))
    cams = []
    for az in (front_az, side_az):
        dist = rng.uniform(2.5, 6.0) + extent / 2
        cam = _camera(rng, az, target, dist)
        for _ in range(25):
            if _fits(cam, endpoints, radii):
                break
            dist *= 1.15
            cam = _camera(rng, az, target, dist)
        else:
            raise RuntimeError("could not place a camera that keeps the subject in view")
        cams.append(cam)
    return cams[0], cams[1]


def to_calibration_camera(name: str, cam: Camera) -> Camera:
    """Express a ground-frame synthetic camera in the calibration world (Z up), no distortion."""
    return replace(cam, name=name, dist=np.zeros(5), R=cam.R @ OPENSIM_FROM_WORLD)
