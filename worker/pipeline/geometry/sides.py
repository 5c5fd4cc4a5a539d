"""Make the two views agree on the person's left and right before the network and the fit see them.

A pose detector at times labels the person's left as right in one view for a stretch of frames, at
full confidence (seen on the real demo recording in one of its four cameras, a third of the frames).
Left as it is, the network reads an impossible pair of views and the fit pulls each limb towards the
other side's keypoints. With calibrated cameras the swap shows in the geometry;
:func:`model_store.geometry.laterality.swapped_sides` finds it and tells which view to put back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from model_store.fit import ClipEvidence
from model_store.geometry.cameras import Camera
from model_store.geometry.laterality import exchange_sides, swapped_sides
from model_store.keypoints.detections import ViewTrack


@dataclass(frozen=True, eq=False)
class SidesReport:
    """Which frames of each view (bool [T] over the synchronised tracks) had their left and right exchanged."""

    front: np.ndarray
    side: np.ndarray

    @property
    def front_frames(self) -> int:
        return int(self.front.sum())

    @property
    def side_frames(self) -> int:
        return int(self.side.sum())

    def warning(self) -> str | None:
        """A sentence for the user when anything was exchanged, else None."""
        parts = [f"{n} {name}-view frame{'s' if n != 1 else ''}" for name, n in
                 (("front", self.front_frames), ("side", self.side_frames)) if n]
        if not parts:
            return None
        return (f"the detector mixed up the person's left and right in {' and '.join(parts)}; "
                "they were put back to agree with the other view")


def agree_sides(front: ViewTrack, side: ViewTrack, cams: tuple[Camera, Camera]) -> tuple[ViewTrack, ViewTrack,
                                                                                          SidesReport]:
    """Synchronised tracks (same length) of both views with each view's left/right labels put back
    where the other view and the neighbouring frames show it swapped; calibration-world cameras."""
    ev = ClipEvidence.from_views((front, side), cams, front.fps)
    swapped = swapped_sides(np.nan_to_num(ev.keypoints), ev.confidence, cams)
    out = [replace(v, keypoints=exchange_sides(v.keypoints, s)) if s.any() else v
           for v, s in zip((front, side), swapped, strict=True)]
    return out[0], out[1], SidesReport(swapped[0], swapped[1])
