"""A small BVH (Biovision Hierarchy) reader with forward kinematics.

Frames and units
----------------
* A BVH file stores a joint tree (``OFFSET`` of each joint in its parent's frame, in the file's length
  unit) and, per frame, the channel values: root translation in the file's unit and Euler angles in
  degrees. Rotation channels are applied in the order they are listed (``Zrotation Yrotation
  Xrotation`` gives ``R = Rz @ Ry @ Rx``, i.e. intrinsic rotations), the usual BVH convention.
* :func:`BVH.positions` returns world positions in the file's own frame and unit ("BVH world": for the
  CMU conversions Y is up, +Z is the subject's forward direction in the rest pose and +X its left).
* :func:`bvh_to_opensim` maps BVH-world points to OpenSim's ground frame in metres: X forward, Y up,
  Z right, with ``(x, y, z)_bvh -> (z, y, -x) * unit_m`` (a proper rotation, no mirroring).
* CMU's BVH conversions use CMU's ASF length unit: ``1 unit = 1/0.45 inch = 0.056444 m``
  (:data:`CMU_UNIT_M`). :func:`guess_unit_m` picks the unit from the rest-pose height.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: CMU ASF/AMC (and the cgspeed BVH conversions): 1 length unit = (1 / 0.45) inch, in metres.
CMU_UNIT_M = 0.0254 / 0.45

_AXES = {"x": 0, "y": 1, "z": 2}


class BVHError(ValueError):
    pass


@dataclass
class Joint:
    """One joint (or end site) of the hierarchy.

    ``offset`` is the joint origin in the parent's frame (file unit). ``channels`` are the channel
    names in file order; ``channel_start`` is the index of the first of them in a frame row. End sites
    have no channels and are named ``<parent>_End``.
    """

    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)
    channel_start: int = 0
    is_end: bool = False


@dataclass
class BVH:
    """A parsed BVH file: hierarchy, frame time (s) and the raw channel matrix ``[frames, channels]``."""

    joints: list[Joint]
    frame_time: float
    motion: np.ndarray

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        return self.names.index(name)

    def local_rotations(self, frames: np.ndarray | None = None) -> np.ndarray:
        """Per-frame local rotation matrices ``[F, J, 3, 3]`` (identity for joints without rotation channels)."""
        motion = self.motion if frames is None else self.motion[frames]
        n = motion.shape[0]
        rots = np.tile(np.eye(3), (n, len(self.joints), 1, 1))
        for j, joint in enumerate(self.joints):
            for k, ch in enumerate(joint.channels):
                if not ch.lower().endswith("rotation"):
                    continue
                axis = _AXES[ch[0].lower()]
                rots[:, j] = rots[:, j] @ _axis_rotation(axis, np.radians(motion[:, joint.channel_start + k]))
        return rots

    def root_translation(self, frames: np.ndarray | None = None) -> np.ndarray:
        """Root position channels ``[F, 3]`` (file unit; zeros where a channel is absent)."""
        motion = self.motion if frames is None else self.motion[frames]
        out = np.zeros((motion.shape[0], 3))
        root = self.joints[0]
        for k, ch in enumerate(root.channels):
            if ch.lower().endswith("position"):
                out[:, _AXES[ch[0].lower()]] = motion[:, root.channel_start + k]
        return out

    def positions(self, frames: np.ndarray | None = None, rest: bool = False) -> np.ndarray:
        """World positions ``[F, J, 3]`` of every joint and end site (BVH world frame, file unit).

        ``rest=True`` gives the rest pose (all channels zero, root at its offset) as ``[1, J, 3]``.
        """
        if rest:
            n = 1
            rots = np.tile(np.eye(3), (1, len(self.joints), 1, 1))
            trans = np.zeros((1, 3))
        else:
            rots = self.local_rotations(frames)
            trans = self.root_translation(frames)
            n = rots.shape[0]
        world_r = np.empty((n, len(self.joints), 3, 3))
        world_p = np.empty((n, len(self.joints), 3))
        for j, joint in enumerate(self.joints):
            if joint.parent < 0:
                world_p[:, j] = joint.offset + trans
                world_r[:, j] = rots[:, j]
            else:
                pr = world_r[:, joint.parent]
                world_p[:, j] = world_p[:, joint.parent] + pr @ joint.offset
                world_r[:, j] = pr @ rots[:, j]
        return world_p


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros((*angle.shape, 3, 3))
    i, j = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so that every axis rotates right-handedly
    r[..., axis, axis] = 1.0
    r[..., i, i] = c
    r[..., j, j] = c
    r[..., i, j] = -s
    r[..., j, i] = s
    return r


def parse_bvh(text: str) -> BVH:
    """Parse BVH text into a :class:`BVH` (hierarchy, channel layout, frame time, channel values)."""
    tokens = text.split()
    pos = 0
    joints: list[Joint] = []
    n_channels = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise BVHError("unexpected end of BVH text")
        tok = tokens[pos]
        pos += 1
        return tok

    if take().upper() != "HIERARCHY":
        raise BVHError("BVH text does not start with HIERARCHY")
    stack: list[int] = []
    kind = take().upper()
    if kind != "ROOT":
        raise BVHError("expected ROOT")
    pending_name = take()
    pending_end = False
    while True:
        tok = take()
        if tok != "{":
            raise BVHError(f"expected '{{' after joint {pending_name}, got {tok!r}")
        parent = stack[-1] if stack else -1
        joint = Joint(name=pending_name, parent=parent, offset=np.zeros(3), is_end=pending_end)
        joints.append(joint)
        stack.append(len(joints) - 1)
        # body of the joint
        while True:
            tok = take()
            up = tok.upper()
            if up == "OFFSET":
                joint.offset = np.array([float(take()) for _ in range(3)])
            elif up == "CHANNELS":
                count = int(take())
                joint.channels = [take() for _ in range(count)]
                joint.channel_start = n_channels
                n_channels += count
            elif up == "JOINT":
                pending_name, pending_end = take(), False
                break
            elif up == "END":
                take()  # "Site"
                pending_name, pending_end = f"{joint.name}_End", True
                break
            elif tok == "}":
                stack.pop()
                if not stack:
                    break
                joint = joints[stack[-1]]
            else:
                raise BVHError(f"unexpected token {tok!r} in hierarchy")
        if not stack:
            break
    if take().upper() != "MOTION":
        raise BVHError("expected MOTION after the hierarchy")
    if take().rstrip(":").upper() != "FRAMES":
        raise BVHError("expected 'Frames:'")
    n_frames = int(take())
    if take().upper() != "FRAME" or take().rstrip(":").upper() != "TIME":
        raise BVHError("expected 'Frame Time:'")
    frame_time = float(take())
    values = np.array(tokens[pos:pos + n_frames * n_channels], dtype=float)
    if values.size != n_frames * n_channels:
        # tolerate a truncated last frame: keep the complete ones
        n_frames = values.size // n_channels
        values = values[: n_frames * n_channels]
    if n_frames == 0:
        raise BVHError("BVH has no complete frame")
    return BVH(joints=joints, frame_time=frame_time, motion=values.reshape(n_frames, n_channels))


def read_bvh(path) -> BVH:
    with open(path) as f:
        return parse_bvh(f.read())


def rest_height_units(bvh: BVH) -> float:
    """Vertical extent (BVH Y, file unit) of the rest pose: lowest to highest joint or end site."""
    y = bvh.positions(rest=True)[0, :, 1]
    return float(y.max() - y.min())


def guess_unit_m(bvh: BVH) -> float:
    """Length of one file unit in metres, chosen so that the rest-pose height is 1.2–2.2 m.

    Candidates: metres, centimetres, millimetres, inches and CMU's ASF unit (1/0.45 inch). The rest pose
    of CMU files is upright, so its vertical extent is close to the standing height minus the head
    above the head joint's end site.
    """
    return unit_for_height(rest_height_units(bvh))


def unit_for_height(h: float) -> float:
    """Metres per file unit for an upright pose ``h`` file units tall: the first of CMU's ASF unit,
    inches, centimetres, metres and millimetres that makes it 1.2–2.2 m."""
    for unit in (CMU_UNIT_M, 0.0254, 0.01, 1.0, 0.001):
        if 1.2 <= h * unit <= 2.2:
            return unit
    raise BVHError(f"cannot determine the BVH unit: an upright pose is {h:.3g} file units tall")


#: BVH world (Y up, Z forward, X left) -> OpenSim ground (X forward, Y up, Z right).
BVH_TO_OPENSIM = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])


def bvh_to_opensim(points: np.ndarray, unit_m: float) -> np.ndarray:
    """Map BVH-world points ``[..., 3]`` (file unit) to OpenSim ground coordinates (m)."""
    return (np.asarray(points) @ BVH_TO_OPENSIM.T) * unit_m
