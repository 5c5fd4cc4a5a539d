"""Stage ``cameras`` — the two calibrated cameras by name, or a documented default rig.

Default rig (no calibration): the subject stands at the world origin; the front camera is 4 m in
front of them, the side camera 4 m to their right, both 1.0 m high aiming at 0.9 m, with a focal
length of 0.9 × the image's long side and no distortion. Results then carry a warning: absolute
positions and the subject's heading are only as good as that assumption.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model_store.conventions import FOCAL_FACTOR
from model_store.geometry.cameras import OPENSIM_FROM_WORLD, Camera, look_at
from worker.pipeline.geometry.named_cameras import calibrated_pair

DEFAULT_DISTANCE_M = 4.0
DEFAULT_HEIGHT_M = 1.0
DEFAULT_AIM_M = 0.9


@dataclass
class RigCameras:
    front: Camera  # calibration world (Z up)
    side: Camera
    source: str  # "calibration" or "default"
    warnings: list[str] = field(default_factory=list)


def _look_at_world(name: str, centre_osim: np.ndarray, size: tuple[int, int]) -> Camera:
    r_osim, t = look_at(centre_osim, np.array([0.0, DEFAULT_AIM_M, 0.0]))
    f = FOCAL_FACTOR * max(size)
    k = np.array([[f, 0, (size[0] - 1) / 2], [0, f, (size[1] - 1) / 2], [0, 0, 1.0]])
    return Camera(name=name, K=k, dist=np.zeros(5), R=r_osim @ OPENSIM_FROM_WORLD, t=t, image_size=size)


def default_rig(front_size: tuple[int, int], side_size: tuple[int, int]) -> RigCameras:
    front = _look_at_world("front", np.array([DEFAULT_DISTANCE_M, DEFAULT_HEIGHT_M, 0.0]), front_size)
    side = _look_at_world("side", np.array([0.0, DEFAULT_HEIGHT_M, DEFAULT_DISTANCE_M]), side_size)
    msg = ("no calibration given: assumed the default rig (front camera 4 m ahead, side camera 4 m to the "
           "subject's right, 1 m high); pelvis translation and heading are approximate")
    return RigCameras(front, side, "default", [msg])


def select_cameras(
    calibration: Path | None, front_name: str | None, side_name: str | None,
    front_size: tuple[int, int], side_size: tuple[int, int],
) -> RigCameras:
    """Cameras for the two videos (sizes are the upright video sizes, px): the calibration's named ones
    (:func:`~worker.pipeline.geometry.named_cameras.calibrated_pair`, the API's upload check too), or the
    default rig without one."""
    if calibration is None:
        return default_rig(front_size, side_size)
    pair = calibrated_pair(calibration, front_name, side_name, front_size, side_size)  # raises PipelineError
    return RigCameras(Camera.from_calibration(pair.front), Camera.from_calibration(pair.side), "calibration",
                      pair.warnings)
