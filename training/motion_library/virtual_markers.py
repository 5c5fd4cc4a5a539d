"""Virtual markers from a BVH skeleton: which joints and end sites become markers, on which model body,
how the skeleton naming schemes (MotionBuilder, 3ds Max, Character Creator, Daz) map onto them, the
reference (T-) pose, and the marker trajectories a trial gives (metres, OpenSim ground, Y up).
Used by :mod:`training.motion_library.cmu_retarget`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.motion_library.bvh import BVH, bvh_to_opensim, guess_unit_m, unit_for_height


class RetargetError(RuntimeError):
    """A trial that cannot be retargeted (names the reason)."""


#: A skeleton's reference pose: joint and end-site positions by name.
Reference = dict[str, np.ndarray]


MAX_RATE_HZ = 60.0


MAX_DURATION_S = 60.0


@dataclass(frozen=True)
class MarkerDef:
    """A virtual marker: BVH joint per naming scheme, model body, location in the body (m), fixed, weight.

    ``location=None`` means "the centre of ``joint`` (the OpenSim joint whose child frame is on ``body``)".
    A naming scheme missing from ``bvh`` has no such point: the marker is left out for that skeleton.
    """

    name: str
    bvh: dict[str, str]
    body: str
    joint: str | None
    location: tuple[float, float, float] | None
    fixed: bool
    weight: float


def _side(s: str, side: str) -> str:
    return s.replace("{S}", side.upper()).replace("{s}", side).replace("{Side}", "Right" if side == "r" else "Left")


def _markers() -> list[MarkerDef]:
    out: list[MarkerDef] = []
    for s in ("r", "l"):
        z = 1.0 if s == "r" else -1.0
        rows = [
            # name, motionbuilder-style BVH joint, 3dsmax-style BVH joint, body, joint, location, fixed, weight
            ("{S}HJC", "{Side}UpLeg", "{Side}Hip", "femur_{s}", "hip_{s}", None, True, 10.0),
            ("{S}KJC", "{Side}Leg", "{Side}Knee", "tibia_{s}", "walker_knee_{s}", None, True, 10.0),
            ("{S}AJC", "{Side}Foot", "{Side}Ankle", "talus_{s}", "ankle_{s}", None, True, 10.0),
            ("{S}MTP", "{Side}ToeBase", "{Side}Toe", "toes_{s}", "mtp_{s}", None, True, 4.0),
            ("{S}TOE", "{Side}ToeBase_End", "{Side}Toe_End", "toes_{s}", None, (0.06, 0.0, 0.0), False, 2.0),
            ("{S}SJC", "{Side}Arm", "{Side}Shoulder", "humerus_{s}", "acromial_{s}", None, True, 3.0),
            ("{S}EJC", "{Side}ForeArm", "{Side}Elbow", "ulna_{s}", "elbow_{s}", None, True, 8.0),
            ("{S}WJC", "{Side}Hand", "{Side}Wrist", "hand_{s}", "radius_hand_{s}", None, True, 8.0),
            ("{S}HND", "{Side}HandIndex1_End", "{s}Fingers_End", "hand_{s}", None, (0.0, -0.07, 0.0), False, 1.0),
        ]
        # Character Creator (iClone) rig: the toe and finger end sites sit on their joints, so the
        # middle toe and the middle finger's knuckle (rigid with the hand) stand in for the tips
        cc = {"{S}HJC": "Thigh", "{S}KJC": "Calf", "{S}AJC": "Foot", "{S}MTP": "ToeBase", "{S}TOE": "MidToe1",
              "{S}SJC": "Upperarm", "{S}EJC": "Forearm", "{S}WJC": "Hand", "{S}HND": "Mid1"}
        # Daz/Poser-style rig (B. Hahne's Daz-friendly CMU release): no toe joint, so the foot's end
        # site (~10 cm ahead of the ankle) stands in for the MTP centre and there is no toe tip
        daz = {"{S}HJC": "Thigh", "{S}KJC": "Shin", "{S}AJC": "Foot", "{S}MTP": "Foot_End",
               "{S}SJC": "Shldr", "{S}EJC": "ForeArm", "{S}WJC": "Hand", "{S}HND": "Mid1"}
        for name, mb, mx, body, joint, loc, fixed, w in rows:
            if loc is not None:
                loc = (loc[0], loc[1], loc[2] * z)
            mx_name = _side(mx, s)
            if "{s}Fingers" in mx:
                mx_name = ("r" if s == "r" else "l") + "Fingers_End"
                mx_name = mx_name[0].upper() + mx_name[1:]  # RFingers_End / LFingers_End
            names = {"mb": _side(mb, s), "max": mx_name, "cc": f"CC_Base_{s.upper()}_{cc[name]}"}
            if name in daz:
                names["daz"] = f"{s}{daz[name]}"
            out.append(MarkerDef(_side(name, s), names, _side(body, s), _side(joint, s) if joint else None,
                                 loc, fixed, w))
    out += [
        # CC: the waist joint rides on the root (pelvis) segment 10 cm above the hips, which pins the
        # pelvis tilt; the root itself sits between the hip joints and would not
        # Daz: the abdomen joint rides on the root 16 cm above the hips, like the CC waist
        MarkerDef("PELV", {"mb": "Hips", "max": "Hips", "cc": "CC_Base_Waist", "daz": "abdomen"}, "pelvis", None,
                  (-0.05, 0.0, 0.0), False, 4.0),
        MarkerDef("CHEST", {"mb": "Spine1", "max": "Chest2", "cc": "CC_Base_Spine02", "daz": "chest"}, "torso", None,
                  (-0.03, 0.25, 0.0), False, 2.0),
        # the Rajagopal torso carries the head (no neck joint): head points only weakly steer the trunk
        MarkerDef("NECK", {"mb": "Neck1", "max": "Neck", "cc": "CC_Base_NeckTwist01", "daz": "neck"}, "torso", None,
                  (-0.02, 0.45, 0.0), False, 0.5),
        MarkerDef("HEAD", {"mb": "Head", "max": "Head", "cc": "CC_Base_Head", "daz": "head"}, "torso", None,
                  (0.0, 0.52, 0.0), False, 0.2),
        # CC and Daz have no head-top end site: the right eye (in front of and above the head joint) fixes the head
        MarkerDef("HTOP", {"mb": "Head_End", "max": "Head_End", "cc": "CC_Base_R_Eye", "daz": "rightEye"}, "torso",
                  None, (0.0, 0.65, 0.0), False, 0.2),
    ]
    return out


MARKERS = _markers()


def scheme_markers(scheme: str) -> list[MarkerDef]:
    """The markers a skeleton of naming ``scheme`` has (see :func:`naming_scheme`), in :data:`MARKERS` order."""
    return [m for m in MARKERS if scheme in m.bvh]


#: Segment scale measurements: name -> (marker pairs, bodies scaled uniformly by it).
MEASUREMENTS: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "pelvis": ([("RHJC", "LHJC")], ["pelvis"]),
    "thigh_r": ([("RHJC", "RKJC")], ["femur_r", "patella_r"]),
    "thigh_l": ([("LHJC", "LKJC")], ["femur_l", "patella_l"]),
    "shank_r": ([("RKJC", "RAJC")], ["tibia_r"]),
    "shank_l": ([("LKJC", "LAJC")], ["tibia_l"]),
    "foot_r": ([("RAJC", "RMTP")], ["talus_r", "calcn_r", "toes_r"]),
    "foot_l": ([("LAJC", "LMTP")], ["talus_l", "calcn_l", "toes_l"]),
    # hip -> shoulder only: the model's lumbar-to-shoulder length must match the data, or IK tilts the pelvis
    "torso": ([("RHJC", "RSJC"), ("LHJC", "LSJC")], ["torso"]),
    "upperarm_r": ([("RSJC", "REJC")], ["humerus_r"]),
    "upperarm_l": ([("LSJC", "LEJC")], ["humerus_l"]),
    "forearm_r": ([("REJC", "RWJC")], ["ulna_r", "radius_r", "hand_r"]),
    "forearm_l": ([("LEJC", "LWJC")], ["ulna_l", "radius_l", "hand_l"]),
}


#: Character Creator rig: its hip joints are 25 % wider apart than the model's. Scaling the whole
#: pelvis by that raises the lumbar joint, and since the torso is scaled by the hip-to-shoulder
#: distance, hip -> lumbar -> shoulder no longer fits straight: IK tilts the pelvis 16-20 deg forward
#: and bends the lumbar spine 25-35 deg in plain walking. So the hip width scales the pelvis across
#: (Z) only, and X and Y keep the model's size.
CC_PELVIS: dict[str, tuple[list[tuple[str, str]], list[str], str]] = {
    "pelvis_width": ([("RHJC", "LHJC")], ["pelvis"], "Z"),
}


def naming_scheme(bvh: BVH) -> str:
    """``mb`` (MotionBuilder-style cgspeed conversions), ``max`` (3dsMax-style), ``cc`` (CMU motion
    on iClone's Character Creator avatar, e.g. DragonForgedTheArtist/IClone-CMU-Mocap) or ``daz``
    (B. Hahne's Daz/Poser-friendly conversions: ``hip``, ``rThigh``, ``rShin``, ``rShldr``, ...)."""
    names = set(bvh.names)
    if "LeftUpLeg" in names:
        return "mb"
    if "LeftHip" in names and "LeftKnee" in names:
        return "max"
    if "CC_Base_L_Thigh" in names and "CC_Base_R_Thigh" in names:
        return "cc"
    if {"lThigh", "rThigh", "lShin", "rShin", "abdomen"} <= names:
        return "daz"
    raise RetargetError("unknown BVH skeleton naming (neither MotionBuilder-, 3dsMax-, Character "
                        "Creator- nor Daz-style CMU)")


#: Daz rig: (joint, segment's straight direction in BVH world) for the offsets that span a limb
#: segment. The Daz figure's zero pose bends its knees ~8 deg (ankle 4 cm behind the knee) and its
#: elbows ~17 deg, while the CMU motion put on it was recorded against a straight T-pose.
DAZ_STRAIGHT = {"{s}Shin": (0.0, -1.0, 0.0), "{s}Foot": (0.0, -1.0, 0.0), "{s}ForeArm": (1.0, 0.0, 0.0),
                "{s}Hand": (1.0, 0.0, 0.0)}


def straighten_daz_limbs(bvh: BVH) -> BVH:
    """Give a Daz-rig BVH straight limbs in its zero pose (in place; returns ``bvh``): the thigh,
    shank, upper-arm and forearm offsets point straight down / sideways (left arm +X, right arm -X),
    each keeping its length. The rotations in the file are relative to a straight T-pose, so on the
    figure's own bent zero pose every knee would read ~8 deg and every elbow ~17 deg too flexed."""
    for side, sign in (("l", 1.0), ("r", -1.0)):
        for name, direction in DAZ_STRAIGHT.items():
            joint = bvh.joints[bvh.index(name.replace("{s}", side))]
            d = np.array(direction) * (sign if direction[0] else 1.0)
            joint.offset = d * float(np.linalg.norm(joint.offset))
    return bvh


def _is_t_pose(bvh: BVH, frame: int) -> bool:
    """True when ``frame`` of a CC-rig BVH is a T-pose: hands at shoulder height, arms spread wide."""
    p = bvh.positions(np.array([frame]))[0]
    at = {n: p[bvh.index(f"CC_Base_{n}")] for n in ("L_Hand", "R_Hand", "L_Upperarm", "R_Upperarm", "Head",
                                                     "L_Foot", "R_Foot")}
    height = at["Head"][1] - min(at["L_Foot"][1], at["R_Foot"][1])
    level = max(abs(at["L_Hand"][1] - at["L_Upperarm"][1]), abs(at["R_Hand"][1] - at["R_Upperarm"][1]))
    span = np.linalg.norm((at["L_Hand"] - at["R_Hand"])[[0, 2]])
    return bool(height > 0 and level < 0.06 * height and span > 0.7 * height)


def reference_pose(bvh: BVH) -> Reference | None:
    """The BVH's own upright reference pose: the rest pose (mb, max) or a T-pose in frame 0 (cc);
    ``None`` for a cc file without one (use another trial's T-pose of the same avatar)."""
    scheme = naming_scheme(bvh)
    if scheme == "cc":
        if bvh.n_frames < 2 or not _is_t_pose(bvh, 0):
            return None
        pts = bvh.positions(np.array([0]))[0]
    else:
        pts = bvh.positions(rest=True)[0]
    return {n: pts[i] for i, n in enumerate(bvh.names)}


def reference_unit_m(reference: Reference) -> float:
    """Metres per file unit, from the reference pose's vertical extent (see :func:`unit_for_height`)."""
    y = np.array([v[1] for v in reference.values()])
    return unit_for_height(float(y.max() - y.min()))


def same_skeleton(bvh: BVH, reference: Reference, tol: float = 0.005) -> bool:
    """True when the limb segments of ``bvh`` (thigh, shank, foot, upper arm, forearm: the rigid
    marker pairs of :data:`MEASUREMENTS`) have the lengths they have in ``reference``, within the
    relative tolerance ``tol``: the two files carry the same skeleton."""
    scheme = naming_scheme(bvh)
    by = {m.name: m.bvh[scheme] for m in scheme_markers(scheme)}
    p = bvh.positions(np.array([0]))[0]
    for name, (pairs, _) in MEASUREMENTS.items():
        if name == "torso":  # hip to shoulder spans the spine, not one rigid segment
            continue
        for a, b in pairs:
            here = np.linalg.norm(p[bvh.index(by[a])] - p[bvh.index(by[b])])
            there = np.linalg.norm(reference[by[a]] - reference[by[b]])
            if abs(here - there) > tol * there:
                return False
    return True


def marker_trajectories(bvh: BVH, rate_hz: float = MAX_RATE_HZ, max_s: float = MAX_DURATION_S,
                        skip_first: bool = True, unit_m: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Virtual markers in OpenSim ground (m): returns (times [F] s, points [F, M, 3], unit_m); the
    markers are ``scheme_markers`` of the file's naming scheme.

    Frame 0 of the CMU conversions is a reset pose (or, on the CC rig, a T-pose) and is skipped
    (``skip_first``). Frames are decimated by an integer stride to at most ``rate_hz`` and cut to
    ``max_s`` seconds. ``unit_m`` (metres per file unit) is guessed from the rest pose when not given.
    """
    scheme = naming_scheme(bvh)
    unit = guess_unit_m(bvh) if unit_m is None else unit_m
    # "Frame Time: 0.008333" is 120.005 fps: a tolerance keeps that at stride 2 (60 Hz), not 3 (40 Hz)
    stride = max(1, int(np.ceil(bvh.fps / rate_hz - 1e-3)))
    start = 1 if skip_first and bvh.n_frames > 1 else 0
    frames = np.arange(start, bvh.n_frames, stride)
    n_max = int(np.floor(max_s * bvh.fps / stride)) + 1
    frames = frames[:n_max]
    pos = bvh.positions(frames)
    markers = scheme_markers(scheme)
    idx = [bvh.index(m.bvh[scheme]) for m in markers]
    pts = normalise_heading(bvh_to_opensim(pos[:, idx], unit), [m.name for m in markers])
    times = np.arange(len(frames)) * stride * bvh.frame_time
    return times, pts, unit


def normalise_heading(points: np.ndarray, names: list[str] | None = None) -> np.ndarray:
    """Rotate about the vertical and shift so that, in the first frame, the subject faces +X with the
    hip-joint-centre midpoint above the ground origin (OpenSim's default pose faces +X, so IK starts
    near the solution). ``points`` is ``[F, M, 3]`` in OpenSim ground (m), markers ``names`` (default:
    all of :data:`MARKERS`)."""
    names = names or [m.name for m in MARKERS]
    r, left = points[0, names.index("RHJC")], points[0, names.index("LHJC")]
    right = r - left
    right[1] = 0.0
    right /= np.linalg.norm(right)
    forward = np.cross([0.0, 1.0, 0.0], right)  # Y x Z = X
    rot = np.stack([forward, [0.0, 1.0, 0.0], right])  # rows: new X, Y, Z in old coordinates
    mid = 0.5 * (r + left)
    out = (points - np.array([mid[0], 0.0, mid[2]])) @ rot.T
    return out
