"""CMU motion capture (BVH) -> Rajagopal 2016 coordinates with OpenSim's own Scale and IK tools.

For each trial:

1. the BVH is parsed (:mod:`training.motion_library.bvh`), its joint centres and a few end sites are
   computed per frame, converted to metres and to OpenSim's ground frame (Y up) and written as virtual
   markers to a ``.trc`` (resampled to at most 60 Hz, at most :data:`MAX_DURATION_S` long);
2. a marker set with the same names is put on the generic Rajagopal model: joint-centre markers sit at
   the model's joint centres (a joint's child-frame origin in the child body) and are *fixed*; the
   markers that fix axial rotations and the trunk (toe tips, hand ends, pelvis root, chest, neck, head)
   are given rough positions and left free for OpenSim's MarkerPlacer to move onto the subject;
3. ``ScaleTool`` scales the segments from marker-pair distances (hip-knee -> femur, knee-ankle -> tibia,
   ...) measured on the first frames of the trial, then places the free markers;
4. ``InverseKinematicsTool`` solves the whole trial (joint centres weighted high, the rest lower); its
   ``.mot`` (degrees, Rajagopal coordinate names) and the marker-error summary are kept.

CLI::

    python -m training.motion_library.cmu_retarget --mirror /work/.mirror/una-dinosauria+cmu-mocap/repo \
        --out data_cache/motion_library/cmu [--trials 02_01 09_01 ...] [--jobs N]

``--mirror`` may be a bare git directory (as the ``fetch`` tool leaves it; files are read with
``git show``) or a plain folder; trials are found by file name (``<trial>.bvh``, else a suffixed
``<trial>_scaled.bvh`` and the like) anywhere in it. Several ``--mirror`` may be given. The trial table
(kind, description, optional ``split`` and ``unit_m``: metres per file unit where the height-based guess
would mislead) is ``cmu_trials.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.motion_library.bvh import BVH, bvh_to_opensim, guess_unit_m, parse_bvh, unit_for_height

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO_ROOT / "data" / "opensim" / "Rajagopal2016.osim"
TRIALS_JSON = Path(__file__).with_name("cmu_trials.json")
LICENCE = "CMU Graphics Lab Motion Capture Database: free for all uses (see mocap.cs.cmu.edu)"
MAX_RATE_HZ = 60.0
MAX_DURATION_S = 60.0
#: IK frames with a marker RMS above this are dropped: the longest run under it is the trial's .mot,
#: every other run of at least MIN_KEPT_S a further segment (``<id>.s<k>.mot``, listed in the index) ...
IK_FRAME_RMS_MAX_M = 0.06
#: ... and a trial keeps at least this much in one run, or fails.
MIN_KEPT_S = 2.0
STATIC_FRAMES = 3  # frames (at the output rate) averaged by ScaleTool for the static pose
SUBJECT_MASS_KG = 70.0  # unknown for CMU subjects; irrelevant to kinematics


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


class RetargetError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------- data


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


#: An upright reference pose: BVH joint name -> position (BVH world frame, file unit). The cgspeed
#: conversions' rest pose is one; a Character Creator rig's rest pose is not (its bone frames carry
#: the bind rotations), so for those a T-pose frame is used.
Reference = dict[str, np.ndarray]


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


class _quiet_stdout:
    """Silence C++ writes to stdout (OpenSim prints model summaries with printf)."""

    def __enter__(self):
        sys.stdout.flush()
        self._saved = os.dup(1)
        self._null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self._null, 1)

    def __exit__(self, *exc):
        os.dup2(self._saved, 1)
        os.close(self._saved)
        os.close(self._null)


def write_trc(path: Path, times: np.ndarray, points: np.ndarray, names: list[str]) -> None:
    """Write an OpenSim .trc marker file (metres)."""
    n, m = points.shape[:2]
    rate = 1.0 / float(np.median(np.diff(times))) if n > 1 else MAX_RATE_HZ
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate:.6g}\t{rate:.6g}\t{n}\t{m}\tm\t{rate:.6g}\t1\t{n}",
        "Frame#\tTime\t" + "\t\t\t".join(names) + "\t\t",
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(m)),
        "",
    ]
    for f in range(n):
        vals = "\t".join(f"{v:.6f}" for v in points[f].reshape(-1))
        lines.append(f"{f + 1}\t{times[f]:.6f}\t{vals}")
    path.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------ opensim


def _xml_tasks(weights: dict[str, float]) -> str:
    """IK marker tasks; a marker of weight 0 is left out of the solve."""
    return "".join(f'<IKMarkerTask name="{n}"><apply>{str(w > 0).lower()}</apply><weight>{w}</weight></IKMarkerTask>'
                   for n, w in weights.items())


def rest_pose_overrides(bvh: BVH, model_path: Path = DEFAULT_MODEL, reference: Reference | None = None,
                        unit_m: float | None = None) -> dict[str, np.ndarray]:
    """Fixed locations (unscaled model body frames, m) of the non-joint-centre markers, from the BVH.

    Each such marker is taken from the upright reference pose (the BVH rest pose unless ``reference``
    is given, in file units of ``unit_m`` metres; facing +X after :func:`bvh_to_opensim`) as an offset
    from a reference that the model also has, divided by that segment's size ratio (BVH / model) so
    that ScaleTool's scaling brings it back:

    * PELV (BVH root): from the hip-centre midpoint, ratio of hip widths (pins the pelvis tilt);
    * CHEST, NECK, HEAD, HTOP: from the shoulder-centre midpoint on the torso, ratio of shoulder widths;
    * toe tips: from the MTP centre on the toes body, ratio of ankle-MTP lengths;
    * hand ends: along the hand's -Y axis, wrist-to-end length over the forearm ratio.
    """
    import opensim as osim

    scheme = naming_scheme(bvh)
    by = {m.name: m.bvh[scheme] for m in scheme_markers(scheme)}
    if reference is None:
        reference = reference_pose(bvh)
        if reference is None:
            raise RetargetError("this BVH has no upright reference pose: give one from a trial of the same avatar")
    unit = reference_unit_m(reference) if unit_m is None else unit_m

    def p(name: str) -> np.ndarray:
        return bvh_to_opensim(reference[by[name]], unit)

    model = osim.Model(str(model_path))
    model.initSystem()
    joints = model.getJointSet()

    def parent_loc(joint: str) -> np.ndarray:
        return joints.get(joint).getParentFrame().findTransformInBaseFrame().p().to_numpy()

    out: dict[str, np.ndarray] = {}
    mr, ml = parent_loc("hip_r"), parent_loc("hip_l")
    s = np.linalg.norm(p("RHJC") - p("LHJC")) / np.linalg.norm(mr - ml)
    out["PELV"] = 0.5 * (mr + ml) + (p("PELV") - 0.5 * (p("RHJC") + p("LHJC"))) / s
    sr, sl = parent_loc("acromial_r"), parent_loc("acromial_l")
    state = model.initSystem()
    bodies = model.getBodySet()

    def ground(body: str) -> np.ndarray:
        return bodies.get(body).getPositionInGround(state).to_numpy()

    model_trunk = np.linalg.norm(0.5 * (ground("humerus_r") + ground("humerus_l"))
                                 - 0.5 * (ground("femur_r") + ground("femur_l")))
    s = np.linalg.norm(0.5 * (p("RSJC") + p("LSJC")) - 0.5 * (p("RHJC") + p("LHJC"))) / model_trunk
    for n in ("CHEST", "NECK", "HEAD", "HTOP"):
        out[n] = 0.5 * (sr + sl) + (p(n) - 0.5 * (p("RSJC") + p("LSJC"))) / s
    for side in ("R", "L"):
        sd = side.lower()
        # ankle -> mtp length of the model: talus origin to toes origin in ground, default pose
        state = model.initSystem()
        talus = model.getBodySet().get(f"talus_{sd}").getPositionInGround(state).to_numpy()
        toes = model.getBodySet().get(f"toes_{sd}").getPositionInGround(state).to_numpy()
        if f"{side}TOE" in by:
            s = np.linalg.norm(p(f"{side}MTP") - p(f"{side}AJC")) / np.linalg.norm(toes - talus)
            toe = (p(f"{side}TOE") - p(f"{side}MTP")) / s
            toe[1] = 0.0  # toe tip level with the MTP centre in the toes frame
            out[f"{side}TOE"] = toe
        ulna = model.getBodySet().get(f"ulna_{sd}").getPositionInGround(state).to_numpy()
        hand = model.getBodySet().get(f"hand_{sd}").getPositionInGround(state).to_numpy()
        s = np.linalg.norm(p(f"{side}WJC") - p(f"{side}EJC")) / np.linalg.norm(hand - ulna)
        out[f"{side}HND"] = np.array([0.0, -np.linalg.norm(p(f"{side}HND") - p(f"{side}WJC")) / s, 0.0])
    return out


def build_generic_model(model_path: Path, out_path: Path,
                        overrides: dict[str, np.ndarray] | None = None, markers: list[MarkerDef] | None = None) -> None:
    """Copy the Rajagopal model with its marker set replaced by ``markers`` (default :data:`MARKERS`;
    unscaled bodies).

    ``overrides`` maps marker names to fixed locations (m, unscaled body frame).
    """
    import opensim as osim

    overrides = overrides or {}
    model = osim.Model(str(model_path))
    model.initSystem()
    for name in ("pelvis_tilt", "pelvis_list", "pelvis_rotation"):
        # free-floating root: its +-90 deg clamps would trap IK when the subject turns or bends far
        model.updCoordinateSet().get(name).set_clamped(False)
    ms = model.updMarkerSet()
    ms.clearAndDestroy()
    for m in markers or MARKERS:
        body = model.getBodySet().get(m.body)
        if m.name in overrides:
            loc = np.asarray(overrides[m.name], dtype=float)
        elif m.location is None:
            joint = model.getJointSet().get(m.joint)
            loc = joint.getChildFrame().findTransformInBaseFrame().p().to_numpy()
        else:
            loc = np.array(m.location)
        marker = osim.Marker(m.name, body, osim.Vec3(*[float(x) for x in loc]))
        marker.set_fixed(m.fixed or m.name in overrides)
        model.addMarker(marker)
    model.finalizeConnections()
    model.printToXML(str(out_path))


def _scale_setup(generic: Path, static_trc: Path, t0: float, t1: float, work: Path,
                 cc_rig: bool = False, markers: list[MarkerDef] | None = None) -> Path:
    table = {n: (pairs, bodies, "X Y Z") for n, (pairs, bodies) in MEASUREMENTS.items()}
    if cc_rig:
        del table["pelvis"]
        table.update(CC_PELVIS)
    meas = []
    for name, (pairs, bodies, axes) in table.items():
        mp = "".join(f"<MarkerPair><markers> {a} {b}</markers></MarkerPair>" for a, b in pairs)
        bs = "".join(f'<BodyScale name="{b}"><axes> {axes}</axes></BodyScale>' for b in bodies)
        meas.append(f'<Measurement name="{name}"><apply>true</apply><MarkerPairSet><objects>{mp}</objects>'
                    f"</MarkerPairSet><BodyScaleSet><objects>{bs}</objects></BodyScaleSet></Measurement>")
    # on the CC path the free markers start far from their data (their default spots are the
    # cgspeed skeleton's), so the static pose is solved on the joint centres alone before they are placed
    tasks = _xml_tasks({m.name: (m.weight if m.fixed or not cc_rig else 0.0) for m in markers or MARKERS})
    xml = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
<ScaleTool name="cmu_subject">
  <mass>{SUBJECT_MASS_KG}</mass><height>-1</height><age>-1</age>
  <GenericModelMaker><model_file>{generic.name}</model_file><marker_set_file>Unassigned</marker_set_file></GenericModelMaker>
  <ModelScaler>
    <apply>true</apply>
    <scaling_order> measurements</scaling_order>
    <MeasurementSet><objects>{''.join(meas)}</objects></MeasurementSet>
    <ScaleSet><objects /></ScaleSet>
    <marker_file>{static_trc.name}</marker_file>
    <time_range> {t0:.6f} {t1:.6f}</time_range>
    <preserve_mass_distribution>true</preserve_mass_distribution>
    <output_model_file>Unassigned</output_model_file>
    <output_scale_file>scale_factors.xml</output_scale_file>
  </ModelScaler>
  <MarkerPlacer>
    <apply>true</apply>
    <IKTaskSet><objects>{tasks}</objects></IKTaskSet>
    <marker_file>{static_trc.name}</marker_file>
    <coordinate_file>Unassigned</coordinate_file>
    <time_range> {t0:.6f} {t1:.6f}</time_range>
    <output_motion_file>static_pose.mot</output_motion_file>
    <output_model_file>scaled.osim</output_model_file>
    <output_marker_file>Unassigned</output_marker_file>
    <max_marker_movement>-1</max_marker_movement>
  </MarkerPlacer>
</ScaleTool>
</OpenSimDocument>
"""
    path = work / "scale_setup.xml"
    path.write_text(xml)
    return path


def _ik_setup(model: Path, trc: Path, t0: float, t1: float, work: Path, mot: Path,
              markers: list[MarkerDef] | None = None) -> Path:
    tasks = _xml_tasks({m.name: m.weight for m in markers or MARKERS})
    xml = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
<InverseKinematicsTool name="cmu_ik">
  <results_directory>.</results_directory>
  <model_file>{model.name}</model_file>
  <constraint_weight>Inf</constraint_weight>
  <accuracy>1e-05</accuracy>
  <IKTaskSet><objects>{tasks}</objects></IKTaskSet>
  <marker_file>{trc.name}</marker_file>
  <coordinate_file>Unassigned</coordinate_file>
  <time_range> {t0:.6f} {t1:.6f}</time_range>
  <report_errors>true</report_errors>
  <output_motion_file>{mot.name}</output_motion_file>
  <report_marker_locations>false</report_marker_locations>
</InverseKinematicsTool>
</OpenSimDocument>
"""
    path = work / "ik_setup.xml"
    path.write_text(xml)
    return path


def _header_end(lines: list[str]) -> int:
    """Index of the ``endheader`` line of an OpenSim .sto/.mot (the column names follow it)."""
    return next(i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader")


def _read_sto_columns(path: Path) -> dict[str, np.ndarray]:
    lines = path.read_text().splitlines()
    end = _header_end(lines)
    header = lines[end + 1].split("\t")
    data = np.array([[float(v) for v in ln.split("\t")] for ln in lines[end + 2:] if ln.strip()])
    return {h.strip(): data[:, i] for i, h in enumerate(header)}


def scale_and_ik(trc: Path, times: np.ndarray, work: Path, mot_out: Path,
                 model_path: Path = DEFAULT_MODEL, overrides: dict[str, np.ndarray] | None = None,
                 static_frames: int = STATIC_FRAMES, ik_from: int = 0, cc_rig: bool = False,
                 markers: list[MarkerDef] | None = None) -> dict:
    """Run ScaleTool on the first ``static_frames`` frames of ``trc``, then InverseKinematicsTool from
    frame ``ik_from`` to the end; returns IK error summary (m). ``cc_rig``: the Character Creator
    avatar's settings (:data:`CC_PELVIS` scaling; the static pose solved on the joint centres alone).
    ``markers``: those in ``trc`` (default :data:`MARKERS`)."""
    import opensim as osim

    osim.Logger.setLevelString("error")
    work.mkdir(parents=True, exist_ok=True)
    generic = work / "generic_markers.osim"
    build_generic_model(model_path, generic, overrides, markers)
    t0 = float(times[0])
    t1 = float(times[min(static_frames, len(times)) - 1])
    setup = _scale_setup(generic, trc, t0, t1, work, cc_rig, markers)
    cwd = os.getcwd()
    try:
        os.chdir(work)
        with _quiet_stdout():
            scaled_ok = osim.ScaleTool(str(setup)).run()
        if not scaled_ok or not (work / "scaled.osim").is_file():
            raise RetargetError("OpenSim ScaleTool failed")
        mot = work / "ik.mot"
        ik = osim.InverseKinematicsTool(str(_ik_setup(work / "scaled.osim", trc, float(times[ik_from]),
                                                      float(times[-1]), work, mot, markers)))
        with _quiet_stdout():
            ik_ok = ik.run()
        if not ik_ok or not mot.is_file():
            raise RetargetError("OpenSim InverseKinematicsTool failed")
    finally:
        os.chdir(cwd)
    err_file = next(work.glob("*_ik_marker_errors.sto"))
    err = _read_sto_columns(err_file)
    rms = err["marker_error_RMS"]
    mx = err["marker_error_max"]
    start, stop = longest_good_run(rms, IK_FRAME_RMS_MAX_M)
    rate = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else MAX_RATE_HZ
    if (stop - start) < MIN_KEPT_S * rate:
        raise RetargetError(f"IK fits no {MIN_KEPT_S:.0f} s stretch with a marker RMS under "
                            f"{IK_FRAME_RMS_MAX_M * 100:.0f} cm (median {np.median(rms) * 100:.1f} cm)")
    write_mot_rows(mot, mot_out, start, stop)
    segments = write_segments(mot, mot_out, rms, mx, (start, stop), int(np.ceil(MIN_KEPT_S * rate)))
    rms, mx = rms[start:stop], mx[start:stop]
    return {"ik_rms_m": float(np.sqrt(np.mean(rms ** 2))), "ik_max_m": float(mx.max()),
            "ik_rms_p95_m": float(np.percentile(rms, 95)), "ik_frames_dropped": int(len(err["time"]) - (stop - start)),
            "segments": segments}


def longest_good_run(frame_rms: np.ndarray, limit: float) -> tuple[int, int]:
    """``(start, stop)`` of the longest run of frames whose marker RMS is under ``limit`` (``stop``
    exclusive; ``(0, 0)`` when no frame is). IK that loses the subject (a flipped pelvis, the spine at
    its limit) does so for a stretch of frames; the run around it is kept, not the trial thrown away."""
    runs = good_runs(frame_rms, limit, 1)
    return max(runs, key=lambda r: r[1] - r[0]) if runs else (0, 0)  # the first of equally long runs


def good_runs(frame_rms: np.ndarray, limit: float, min_frames: int) -> list[tuple[int, int]]:
    """Every ``(start, stop)`` run of at least ``min_frames`` frames whose marker RMS is under ``limit``,
    in time order (``stop`` exclusive)."""
    good = np.concatenate([[False], np.asarray(frame_rms) < limit, [False]])
    edges = np.flatnonzero(np.diff(good.astype(int)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_frames]


def write_segments(mot: Path, mot_out: Path, frame_rms: np.ndarray, frame_max: np.ndarray, main: tuple[int, int],
                   min_frames: int) -> list[dict]:
    """Write the IK result ``mot``'s good stretches other than ``main`` (runs of at least ``min_frames``
    frames with a marker RMS under :data:`IK_FRAME_RMS_MAX_M`) beside ``mot_out`` as ``<stem>.s<k>.mot``
    (``k``: its place in time among the long-enough runs, from 1); returns per file its name, frames and IK error (m). A
    glitch of a few frames in the middle of a take no longer throws away the rest of it."""
    segments = []
    for k, (a, b) in enumerate(good_runs(frame_rms, IK_FRAME_RMS_MAX_M, min_frames), 1):
        if (a, b) == tuple(main):
            continue
        seg = mot_out.with_name(f"{mot_out.stem}.s{k}.mot")
        write_mot_rows(mot, seg, a, b)
        segments.append({"file": seg.name, "frames": b - a,
                         "ik_rms_m": round(float(np.sqrt(np.mean(frame_rms[a:b] ** 2))), 5),
                         "ik_max_m": round(float(frame_max[a:b].max()), 5)})
    return segments


def write_mot_rows(src: Path, dst: Path, start: int, stop: int) -> None:
    """Copy the .mot ``src`` to ``dst`` keeping data rows ``start:stop`` (and the header's nRows right)."""
    lines = src.read_text().splitlines()
    end = _header_end(lines)
    rows = [ln for ln in lines[end + 2:] if ln.strip()][start:stop]
    head = [f"nRows={len(rows)}" if ln.replace(" ", "").lower().startswith("nrows=") else ln for ln in lines[:end + 2]]
    dst.write_text("\n".join(head + rows) + "\n")


# -------------------------------------------------------------------------------------- mirror I/O


class Mirror:
    """A source of BVH files: a bare git directory (read with ``git show``) or a plain folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.is_git = (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()
        name = self.path.parent.name if self.path.name == "repo" else self.path.name
        self.repo = name.replace("+", "/", 1) if "+" in name else name
        self.commit = self._git("rev-parse", "HEAD").strip() if self.is_git else None
        if self.is_git:
            # a snapshot may list its largest files without holding them (size shown as non-numeric)
            rows = [ln.split("\t", 1) for ln in self._git("ls-tree", "-r", "-l", "HEAD").splitlines() if "\t" in ln]
            files = [path for meta, path in rows if meta.split()[-1].isdigit()]
        else:
            files = [str(p.relative_to(self.path)) for p in self.path.rglob("*.bvh")]
        self.by_trial: dict[str, str] = {}
        self._reference: Reference | None = None
        for f in sorted(files):
            base = f.rsplit("/", 1)[-1]
            # 007_01.bvh -> 07_01; a suffixed copy (60_01_scaled.bvh) serves when the plain name is absent
            m = re.fullmatch(r"(\d+)_(\d+)(_[A-Za-z][A-Za-z0-9_]*)?\.bvh", base)
            key = f"{int(m.group(1)):02d}_{m.group(2)}" if m else None
            if key and key not in self.by_trial:
                self.by_trial[key] = f

    def shared_reference(self) -> Reference:
        """The first upright reference pose found among this mirror's trials (sorted by trial): what
        a Character Creator file without a T-pose of its own borrows from a file of the same avatar."""
        if self._reference is None:
            for rel in self.by_trial.values():
                try:
                    ref = reference_pose(parse_bvh(self.read(rel)))
                except (RetargetError, ValueError, subprocess.CalledProcessError):
                    continue
                if ref is not None:
                    self._reference = ref
                    break
            else:
                raise RetargetError(f"no trial in {self.path} has an upright reference pose (T-pose)")
        return self._reference

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", f"--git-dir={self.path}", *args], check=True, capture_output=True,
                              text=True).stdout

    def read(self, rel: str) -> str:
        return self._git("show", f"HEAD:{rel}") if self.is_git else (self.path / rel).read_text()


def _trial_id(trial: str) -> str:
    subj, num = trial.split("_")
    return f"cmu_{int(subj):02d}_{num}"


#: What the licence text adds for conversions made by others than the cgspeed release.
SCHEME_LICENCE_NOTES = {
    "cc": "; retargeted onto iClone's Character Creator avatar in the source repository, which carries no "
          "licence file of its own",
    "daz": "; B. Hahne's Daz-friendly BVH release (outworldz.com), rescaled to metres in the source "
           "repository, which carries no licence file of its own and quotes CMU's terms in its READMEs",
}


def load_trial_table() -> list[dict]:
    return json.loads(TRIALS_JSON.read_text())["trials"]


def convert_trial(trial: dict, mirror: Mirror, out_dir: Path, model_path: Path = DEFAULT_MODEL,
                  keep_work: bool = False) -> dict:
    rel = mirror.by_trial[trial["trial"]]
    bvh = parse_bvh(mirror.read(rel))
    scheme = naming_scheme(bvh)
    if scheme == "daz":
        straighten_daz_limbs(bvh)
    reference = reference_pose(bvh)
    if reference is None:
        reference = mirror.shared_reference()
        if not same_skeleton(bvh, reference):
            raise RetargetError(f"{rel} has no T-pose and another skeleton than the mirror's reference T-pose")
    # a table entry's unit_m: files rescaled by hand, whose height would otherwise mislead the unit guess
    unit = float(trial["unit_m"]) if "unit_m" in trial else reference_unit_m(reference)
    times, pts, unit = marker_trajectories(bvh, unit_m=unit)
    tid = _trial_id(trial["trial"])
    markers = scheme_markers(scheme)
    names = [m.name for m in markers]
    work = Path(tempfile.mkdtemp(prefix=f"{tid}_", dir=out_dir))
    try:
        trc = work / f"{tid}.trc"
        if scheme == "cc":
            # the avatar's rest pose is not upright: its T-pose goes first as the static trial, and
            # MarkerPlacer puts the non-joint-centre markers on the model there (measured on this
            # avatar, not fixed from a rest pose); the pelvis scaling is what keeps the spine straight
            tpose = np.array([[reference[m.bvh[scheme]] for m in markers]])
            static = normalise_heading(bvh_to_opensim(tpose, unit), names)
            dt = float(times[1] - times[0]) if len(times) > 1 else 1.0 / MAX_RATE_HZ
            all_times = np.concatenate([[0.0, dt], times - times[0] + 2 * dt])  # ScaleTool averages >= 2 frames
            write_trc(trc, all_times, np.concatenate([static, static, pts]), names)
            summary = scale_and_ik(trc, all_times, work, out_dir / f"{tid}.mot", model_path, None,
                                   static_frames=2, ik_from=2, cc_rig=True, markers=markers)
        else:
            write_trc(trc, times, pts, names)
            overrides = rest_pose_overrides(bvh, model_path, reference, unit)
            summary = scale_and_ik(trc, times, work, out_dir / f"{tid}.mot", model_path, overrides,
                                   markers=markers)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    rate = 1.0 / float(np.median(np.diff(times)))
    kept = int(len(times) - summary["ik_frames_dropped"])
    return {
        "id": tid, "kind": trial["kind"], "description": trial["description"],
        "source": {"repo": mirror.repo, "commit": mirror.commit, "path": rel},
        "licence": LICENCE + SCHEME_LICENCE_NOTES.get(scheme, ""),
        "subject": f"cmu_{int(trial['trial'].split('_')[0]):02d}",
        "fps": round(rate, 3), "frames": kept, "duration_s": round((kept - 1) / rate, 3),
        "source_fps": round(bvh.fps, 3), "unit_m": unit,
        **({"split": trial["split"]} if "split" in trial else {}),
        **{k: round(v, 5) for k, v in summary.items() if k != "segments"},
        # further good stretches (own .mot files beside the trial's): seconds, IK error
        "segments": [{**seg, "duration_s": round((seg["frames"] - 1) / rate, 3)} for seg in summary["segments"]],
    }


def _convert_logged(trial: dict, mirror: Mirror, out: Path, model: Path, keep_work: bool) -> dict | None:
    """:func:`convert_trial`, its failure printed instead of raised (one bad trial must not stop a batch)."""
    try:
        return convert_trial(trial, mirror, out, model, keep_work)
    except Exception as exc:
        print(f"{trial['trial']}: failed: {exc}", file=sys.stderr, flush=True)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirror", type=Path, action="append", required=True,
                    help="bare git dir or folder holding CMU BVH files (repeatable)")
    ap.add_argument("--out", type=Path, default=Path("data_cache/motion_library/cmu"))
    ap.add_argument("--trials", nargs="*", help="trial numbers like 02_01 (default: the whole table)")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--keep-work", action="store_true", help="keep the work folder (trc, setups, scaled model)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="trials converted at once, one process each (default: one per core)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mirrors = [Mirror(p) for p in args.mirror]
    table = load_trial_table()
    if args.trials:
        table = [t for t in table if t["trial"] in set(args.trials)]
    index_path = out / "index.json"
    index = {e["id"]: e for e in json.loads(index_path.read_text())} if index_path.is_file() else {}
    work: list[tuple[dict, Mirror]] = []
    for trial in table:
        # the table names the repository a trial comes from; a plain folder (not a git snapshot) serves
        # any trial it holds
        mirror = next((m for m in mirrors if m.repo == trial["repo"] and trial["trial"] in m.by_trial),
                      next((m for m in mirrors if not m.is_git and trial["trial"] in m.by_trial), None))
        if mirror is None:
            print(f"{trial['trial']}: not in any mirror, skipped", file=sys.stderr)
            continue
        work.append((trial, mirror))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:  # OpenSim's IK is single-threaded
        futures = [pool.submit(_convert_logged, trial, mirror, out, args.model, args.keep_work)
                   for trial, mirror in work]
        for future in as_completed(futures):
            entry = future.result()
            if entry is None:
                continue
            index[entry["id"]] = entry  # the index is written here only, by this process
            print(f"{entry['id']}: {entry['kind']} {entry['duration_s']:.1f} s, IK RMS "
                  f"{entry['ik_rms_m'] * 100:.2f} cm, max {entry['ik_max_m'] * 100:.2f} cm", flush=True)
            index_path.write_text(json.dumps(sorted(index.values(), key=lambda e: e["id"]), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
