"""Two cameras from the person they film: a rig for clips that come without a calibration.

Without a calibration the pipeline used to assume one fixed rig (front camera 4 m ahead, side camera
4 m to the right). Real rigs differ — the side camera on the left, 60° or 120° from the front one,
other focal lengths — and the network and the fit then read a pair of views that no body explains.
Here the rig is estimated from the synchronised keypoints instead, which are the same body points
seen from two places at the same instants:

1. **Relative pose.** The essential matrix of all confidently seen keypoint pairs (OpenCV, RANSAC)
   with each camera's focal length first guessed as :data:`FOCAL_FACTOR` × its image's long side and
   the principal point at the image centre, then ``recoverPose``: the side camera's rotation and the
   direction of its position relative to the front camera.
2. **Focal lengths and pose refined together** (:func:`_refine`): reprojection error plus
   bone-length constancy. With both cameras aimed at the person, two views alone cannot tell the focal
   lengths from the pose; a wrong focal length warps the reconstruction so that bones stretch and
   shrink as the person moves, which pins it. A weak prior (:data:`FOCAL_PRIOR_SIGMA`) keeps each
   focal length near its first guess.
3. **Scale.** Two uncalibrated views fix the scene only up to scale. The triangulated body is
   scaled so that its stature — from the medians of its trunk, thigh and shank lengths, which do not
   depend on the pose — is ``height_m`` (given by the user) or the generic model's.
4. **Up and the floor.** Cameras on tripods or held by people stand level: each image's x axis is
   horizontal, so the vertical is perpendicular to both (their cross product). When the two x axes
   are nearly parallel that product is ill-defined and the front camera's own vertical is used.
   The floor is at the lowest heel and toe points.
5. **World frame.** As the default rig: calibration world (Z up), origin on the floor under the
   person's median hip position, the front camera on the +X side.

The result reports how well the estimated rig explains the keypoints (median reprojection error as a
share of the person's size in the image). That error does not tell a wrong pairing of frames from
detector noise (both give ~1 %): :func:`pairing_error` compares time offsets of one clip instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import torch
from scipy.optimize import least_squares

from model_store.biomech import load_fullbody_model
from model_store.conventions import FOCAL_FACTOR, VIEW_NAMES
from model_store.geometry.cameras import Camera
from model_store.geometry.triangulation import dlt_points
from model_store.keypoints import skeleton
from model_store.keypoints.landmarks import load_landmarks, standing_height_m

#: Assumed focal length as a share of the image's long side (horizontal field of view ~58° for a
#: landscape image), the default rig's.
#: Fewest keypoint pairs seen in both views to estimate a rig from.
MIN_PAIRS = 150
#: Most keypoint pairs used (evenly spread over the clip), for speed.
MAX_PAIRS = 6000
#: Keypoint confidence needed in both views for a pair to count.
MIN_CONFIDENCE = 0.5
#: Height (m) of the heel and toe keypoints above the floor when they touch it.
FOOT_POINT_HEIGHT_M = 0.03
#: A rig whose median reprojection error exceeds this share of the person's size in the image is
#: not trusted (the caller falls back to its default).
MAX_RELATIVE_ERROR = 0.05

_SHOULDERS, _HIPS, _KNEES, _ANKLES = (skeleton.pair(p) for p in ("shoulder", "hip", "knee", "ankle"))
_FOOT = (*skeleton.pair("heel"), *skeleton.pair("foot_index"))


@cache
def generic_proportions() -> tuple[float, float]:
    """The generic full-body model's standing height (m), used when the user gives no stature, and that
    height per unit of its trunk + thigh + shank keypoint length (:func:`_trunk_leg_length`) in the
    default pose."""
    fk, lm = load_fullbody_model(), load_landmarks()
    scales = torch.ones(1, len(fk.body_names), 3, dtype=torch.float64)
    with torch.no_grad():
        pts = lm.positions(fk(fk.default_coordinates[None], scales), scales).numpy()
        height = float(standing_height_m(fk, scales)[0])
    return height, height / _trunk_leg_length(np.repeat(pts, 5, 0))


class SelfCalibrationError(ValueError):
    """The keypoints do not determine a rig (too few pairs, degenerate motion, a poor fit); says why."""


@dataclass(frozen=True)
class RigEstimate:
    """Front and side cameras (calibration world, Z up, m) estimated from the person, and how well
    they explain the keypoints: ``relative_error`` is the median reprojection error over the pairs
    as a share of the person's size in the image; ``inliers`` the share of pairs RANSAC kept;
    ``stature_m`` the stature the scale was set from and ``stature_given`` whether the user gave it."""

    front: Camera
    side: Camera
    relative_error: float
    inliers: float
    pairs: int
    stature_m: float
    stature_given: bool
    angle_between_deg: float

    def summary(self) -> dict:
        """JSON-able description for the job summary."""
        return {"relative_error": round(self.relative_error, 4), "inliers": round(self.inliers, 3),
                "pairs": self.pairs, "stature_m": round(self.stature_m, 3), "stature_given": self.stature_given,
                "angle_between_views_deg": round(self.angle_between_deg, 1),
                "focal_px": [round(float(c.K[0, 0]), 1) for c in (self.front, self.side)]}


def assumed_intrinsics(size: tuple[int, int]) -> np.ndarray:
    """``K`` [3, 3] (px) of an uncalibrated camera with images ``size`` (width, height) px."""
    f = FOCAL_FACTOR * max(size)
    return np.array([[f, 0.0, (size[0] - 1) / 2], [0.0, f, (size[1] - 1) / 2], [0.0, 0.0, 1.0]])


def _person_size(kp: np.ndarray, ok: np.ndarray) -> float:
    """Median over frames of the person's extent (px) in one view: keypoints [T, 33, 2], ok [T, 33]."""
    sizes = []
    for f in np.flatnonzero(ok.sum(1) >= 5):
        p = kp[f, ok[f]]
        sizes.append(float(np.max(p.max(0) - p.min(0))))
    return float(np.median(sizes)) if sizes else np.nan


def _trunk_leg_length(points: np.ndarray) -> float:
    """Trunk + thigh + shank length (same units as ``points`` [T, 33, 3]): per side, the medians over frames
    of shoulder → hip, hip → knee and knee → ankle, averaged over the sides that show them (a side view
    often sees only the near side). NaN when a segment is seen on neither side."""
    total = 0.0
    for a, b in ((_SHOULDERS, _HIPS), (_HIPS, _KNEES), (_KNEES, _ANKLES)):
        d = np.linalg.norm(points[:, list(a)] - points[:, list(b)], axis=-1)  # [T, 2]
        per_side = [float(np.median(col[np.isfinite(col)])) for col in d.T if np.isfinite(col).sum() >= 5]
        total += float(np.mean(per_side)) if per_side else np.nan
    return total


def _spread(n: int, most: int) -> np.ndarray:
    """At most ``most`` indices evenly spread over ``range(n)``."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int))


def _seen(kps: list[np.ndarray]) -> list[np.ndarray]:
    return [np.isfinite(k).all(-1) & (np.nan_to_num(k[..., 2]) >= MIN_CONFIDENCE) for k in kps]


def _relative_pose(kps: list[np.ndarray], seen: list[np.ndarray], ks: list[np.ndarray], person: list[float],
                   max_pairs: int, max_iters: int = 1000) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Side-camera rotation [3, 3] and unit translation [3] relative to the front camera (front-camera
    coordinates) from the essential matrix of the keypoint pairs seen in both views (at most
    ``max_pairs``, evenly spread; RANSAC for at most ``max_iters`` rounds), the share of pairs RANSAC kept
    and the number of pairs used."""
    frames, points = np.nonzero(seen[0] & seen[1])
    if frames.size < MIN_PAIRS:
        raise SelfCalibrationError(f"only {frames.size} keypoints are seen clearly in both views at once; "
                                   f"at least {MIN_PAIRS} are needed to estimate the cameras")
    if frames.size > max_pairs:
        keep = np.linspace(0, frames.size - 1, max_pairs).round().astype(int)
        frames, points = frames[keep], points[keep]
    norm = [(k[frames, points, :2] - kk[:2, 2]) / kk[0, 0] for k, kk in zip(kps, ks, strict=True)]
    # RANSAC threshold: 1.5 % of the person's size, in normalised image units (focal 1)
    thr = float(np.mean([0.015 * p / k[0, 0] for p, k in zip(person, ks, strict=True)]))
    e, mask = cv2.findEssentialMat(norm[0], norm[1], np.eye(3), method=cv2.RANSAC, prob=0.999, threshold=thr,
                                   maxIters=max_iters)
    if e is None or e.shape != (3, 3):
        raise SelfCalibrationError("the keypoints do not determine the cameras' relative position "
                                   "(does the person move enough, and do both views show the same person?)")
    _, r, t, _ = cv2.recoverPose(e, norm[0], norm[1], np.eye(3), mask=mask.copy())
    return r, t.ravel(), float(mask.ravel().astype(bool).mean()), int(frames.size)


def _projections(ks: list[np.ndarray], r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.stack([ks[0] @ np.hstack([np.eye(3), np.zeros((3, 1))]), ks[1] @ np.hstack([r, t[:, None]])])


def pairing_error(front_kp: np.ndarray, side_kp: np.ndarray, sizes: tuple[tuple[int, int], tuple[int, int]],
                  max_pairs: int = 1000, max_frames: int = 240) -> float:
    """How well one quick rig (essential matrix at the assumed focal lengths, no refinement) explains two
    views' keypoints [T, 33, 3] paired frame by frame: the median reprojection error as a share of the
    person's size; NaN where no rig can be estimated. Low for a true pairing of the frames, higher when
    they are paired at a wrong time offset: for choosing the sync without a calibration. Uses at most
    ``max_frames`` frames (evenly spread) and ``max_pairs`` keypoint pairs, for speed."""
    frames = _spread(len(front_kp), max_frames)
    kps = [np.asarray(k, np.float64)[frames] for k in (front_kp, side_kp)]
    seen = _seen(kps)
    ks = [assumed_intrinsics(s) for s in sizes]
    person = [_person_size(k[..., :2], s) for k, s in zip(kps, seen, strict=True)]
    try:
        r, t, _, _ = _relative_pose(kps, seen, ks, person, max_pairs, max_iters=300)
    except SelfCalibrationError:
        return np.nan
    proj = _projections(ks, r, t)
    return _relative_error(_triangulate_all(kps, seen, proj), kps, seen, proj, person)


def estimate_rig(
    front_kp: np.ndarray, side_kp: np.ndarray, sizes: tuple[tuple[int, int], tuple[int, int]],
    height_m: float | None = None, names: tuple[str, str] = VIEW_NAMES,
) -> RigEstimate:
    """The rig of two synchronised views of one person: keypoints [T, 33, 3] (px + confidence 0–1, frame
    i of both showing the same instant; NaN or confidence 0 where unseen), image ``sizes`` (width,
    height) px, the person's stature ``height_m`` (m) if known. Raises :class:`SelfCalibrationError`."""
    kps = [np.asarray(k, np.float64) for k in (front_kp, side_kp)]
    seen = _seen(kps)
    ks = [assumed_intrinsics(s) for s in sizes]
    person = [_person_size(k[..., :2], s) for k, s in zip(kps, seen, strict=True)]
    r, t, inliers, pairs = _relative_pose(kps, seen, ks, person, MAX_PAIRS)
    ks, r, t = _refine(kps, seen, ks, r, t, person)
    # reconstruction in the front camera's frame, unit baseline
    proj = _projections(ks, r, t)
    tri = _triangulate_all(kps, seen, proj)
    if np.nanmedian(tri[..., 2]) < 0:
        # reprojections cannot tell a scene in front of both cameras from its reflection behind both
        # (translation reversed), and the refinement may slide there: the person must be in front
        t = -t
        proj = _projections(ks, r, t)
        tri = _triangulate_all(kps, seen, proj)
    err = _relative_error(tri, kps, seen, proj, person)
    if not np.isfinite(err) or err > MAX_RELATIVE_ERROR:
        raise SelfCalibrationError(f"no rig explains both views well (median reprojection error "
                                   f"{err:.1%} of the person's size); are both videos of the same person, "
                                   "synchronised?")
    generic_height, per_length = generic_proportions()
    stature = float(height_m) if height_m is not None else generic_height
    unit_length = _trunk_leg_length(tri)
    if not np.isfinite(unit_length) or unit_length <= 0:
        raise SelfCalibrationError("the person's trunk and legs are not seen in both views")
    scale = stature / (per_length * unit_length)
    tri = tri * scale
    t_side = t * scale
    up = _up_direction(r)
    front, side = _place(r, t_side, tri, up, ks, sizes, names)
    cosang = float(np.clip(np.dot(np.array([0, 0, 1.0]), r[2]), -1, 1))  # optical axes
    return RigEstimate(front, side, float(err), inliers, pairs, stature, height_m is not None,
                       float(np.degrees(np.arccos(cosang))))


#: Keypoint pairs on one rigid body part whose distance stays constant (limb bones, shoulder, hip width).
BONES = tuple((skeleton.index(a), skeleton.index(b)) for a, b in (
    ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"),
    ("right_elbow", "right_wrist"), ("left_hip", "left_knee"), ("right_hip", "right_knee"), ("left_knee", "left_ankle"),
    ("right_knee", "right_ankle"), ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_ankle", "left_heel"), ("right_ankle", "right_heel"), ("left_heel", "left_foot_index"),
    ("right_heel", "right_foot_index")))
#: Spread (log units) of the prior on each focal length around :data:`FOCAL_FACTOR` × long side; one
#: spread weighs as much as a reprojection error of :data:`PRIOR_WEIGHT` × the person's size.
FOCAL_PRIOR_SIGMA = 0.3
PRIOR_WEIGHT = 0.05
#: A bone twice its median length weighs as much as a reprojection error of this share of the person's
#: size (residuals: reprojection errors in person sizes, and bone lengths relative to their median).
BONE_WEIGHT = 0.05


def _refine(kps: list[np.ndarray], seen: list[np.ndarray], ks: list[np.ndarray], r: np.ndarray, t: np.ndarray,
            person: list[float], max_frames: int = 240) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Focal lengths (both K's, px) and the relative pose (rotation, unit translation) refined together from
    the first guess ``ks``, ``r``, ``t`` on up to ``max_frames`` frames: reprojection errors in person sizes
    plus bone-length constancy (a wrong focal length warps the reconstruction so that bones stretch as the
    person moves) plus the focal prior, under a robust (soft L1) loss; each focal length stays within
    0.4–2.5 × its guess."""
    fr = _spread(kps[0].shape[0], max_frames)
    sub = [k[fr] for k in kps]
    ok = [s[fr] for s in seen]
    bones = np.array(BONES)

    def unpack(x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        kk = []
        for v in range(2):
            k = ks[v].copy()
            k[0, 0] = k[1, 1] = ks[v][0, 0] * np.exp(x[v])
            kk.append(k)
        rr = cv2.Rodrigues(x[2:5])[0]
        th, ph = x[5], x[6]
        tt = np.array([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)])
        return kk, rr, tt

    def residuals(x: np.ndarray) -> np.ndarray:
        kk, rr, tt = unpack(x)
        proj = _projections(kk, rr, tt)
        tri = _triangulate_all(sub, ok, proj)
        res = [r.ravel() for r in _reprojection_residuals(tri, sub, ok, proj, person)]
        d = np.linalg.norm(tri[:, bones[:, 0]] - tri[:, bones[:, 1]], axis=-1)  # [F, B]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(d, axis=0)
        rel = (d / med - 1.0) * BONE_WEIGHT
        res.append(np.nan_to_num(rel[:, np.isfinite(med)], nan=0.0).ravel())
        res.append(x[:2] / FOCAL_PRIOR_SIGMA * PRIOR_WEIGHT)
        out = np.concatenate(res)
        return np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0)

    tt = t / np.linalg.norm(t)
    x0 = np.concatenate([[0.0, 0.0], cv2.Rodrigues(r)[0].ravel(), [np.arccos(np.clip(tt[2], -1, 1)),
                                                                    np.arctan2(tt[1], tt[0])]])
    sol = least_squares(residuals, x0, loss="soft_l1", f_scale=0.02, bounds=(
        [np.log(0.4), np.log(0.4), -np.inf, -np.inf, -np.inf, -np.inf, -np.inf],
        [np.log(2.5), np.log(2.5), np.inf, np.inf, np.inf, np.inf, np.inf]), x_scale=0.1, max_nfev=200)
    return unpack(sol.x)


def _triangulate_all(kps: list[np.ndarray], seen: list[np.ndarray], proj: np.ndarray) -> np.ndarray:
    """Every keypoint seen in both views, triangulated: [T, 33, 3] (NaN elsewhere)."""
    both = seen[0] & seen[1]
    out = np.full((*both.shape, 3), np.nan)
    idx = np.nonzero(both)
    if idx[0].size:
        und = np.stack([k[idx][:, :2] for k in kps])
        out[idx] = dlt_points(und, np.ones(und.shape[:2]), proj)
    return out


def _reprojection_residuals(tri: np.ndarray, kps: list[np.ndarray], seen: list[np.ndarray], proj: np.ndarray,
                            person: list[float]) -> list[np.ndarray]:
    """Per view, the reprojection residuals [N, 2] of the N keypoints seen in both views (``tri`` [T, 33, 3]
    through ``proj``), in shares of the person's size in that view."""
    both = seen[0] & seen[1]
    x = tri[both]
    out = []
    for v in range(2):
        h = x @ proj[v][:, :3].T + proj[v][:, 3]
        out.append((h[:, :2] / h[:, 2:3] - kps[v][both][:, :2]) / person[v])
    return out


def _relative_error(tri: np.ndarray, kps: list[np.ndarray], seen: list[np.ndarray], proj: np.ndarray,
                    person: list[float]) -> float:
    """Median reprojection error over both views' shared keypoints, in shares of the person's size."""
    res = _reprojection_residuals(tri, kps, seen, proj, person)
    return float(np.median(np.linalg.norm(np.concatenate(res), axis=1))) if res[0].size else np.nan


def _up_direction(r: np.ndarray) -> np.ndarray:
    """The vertical (unit, front-camera frame) from two level cameras: perpendicular to both image x axes,
    pointing against the front image's y (down) axis; the front camera's own vertical when the x axes are
    within 20° of parallel."""
    x_front = np.array([1.0, 0.0, 0.0])
    x_side = r[0]  # the side camera's x axis in front-camera coordinates
    up = np.cross(x_front, x_side)
    if np.linalg.norm(up) < np.sin(np.radians(20)):
        up = np.array([0.0, -1.0, 0.0])
    up /= np.linalg.norm(up)
    return up if up[1] < 0 else -up


def _place(r: np.ndarray, t_side: np.ndarray, tri: np.ndarray, up: np.ndarray, ks: list[np.ndarray],
           sizes: tuple[tuple[int, int], tuple[int, int]], names: tuple[str, str]) -> tuple[Camera, Camera]:
    """Cameras in a calibration world (Z up): origin on the floor under the median hip position, the
    front camera on +X. ``tri`` [T, 33, 3] are the triangulated points in front-camera coordinates (m)."""
    hips = np.nanmedian(tri[:, list(_HIPS)].reshape(-1, 3), axis=0)
    foot = tri[:, list(_FOOT)].reshape(-1, 3)
    heights = foot[np.isfinite(foot).all(1)] @ up
    floor = float(np.percentile(heights, 2)) - FOOT_POINT_HEIGHT_M if heights.size else float(hips @ up) - 0.95
    origin = hips - (hips @ up - floor) * up  # on the floor, front-camera coordinates
    to_cam = -origin  # front camera centre (at 0) relative to the origin
    ex = to_cam - (to_cam @ up) * up
    if np.linalg.norm(ex) < 1e-6:
        raise SelfCalibrationError("the front camera looks straight down on the person")
    ex /= np.linalg.norm(ex)
    ez = up
    ey = np.cross(ez, ex)
    axes = np.stack([ex, ey, ez], 1)  # world → front-camera rotation (columns: world axes)
    r_front, t_front = axes, origin
    r_side, t_side_w = r @ axes, r @ origin + t_side
    return (Camera(names[0], ks[0], np.zeros(5), r_front, t_front, sizes[0]),
            Camera(names[1], ks[1], np.zeros(5), r_side, t_side_w, sizes[1]))
