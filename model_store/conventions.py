"""Conventions every package shares, named once (no imports: the API process may read them too).

- :data:`MODEL_RATE_HZ`: the network is trained at this frame rate, the pipeline resamples videos to
  it, and every motion file is written at it (Hz). Checkpoints record it (``NetworkConfig.rate_hz``).
- :data:`VIEW_NAMES`: the two views a job has, in order: the upload's file fields, the summary's keys.
- :data:`FOCAL_FACTOR`: a camera's focal length as a share of its image's long side when nothing else
  is known (the default rig, and the first guess of cameras estimated from the person).
"""

from __future__ import annotations

MODEL_RATE_HZ = 60.0
VIEW_NAMES: tuple[str, str] = ("front", "side")
FOCAL_FACTOR = 0.9

__all__ = ["FOCAL_FACTOR", "MODEL_RATE_HZ", "VIEW_NAMES"]
