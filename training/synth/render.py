"""Silhouette and keypoint rendering of the capsule body from calibrated perspective cameras.

Projection uses ideal pinhole cameras in the OpenSim ground frame (synthetic cameras have no lens
distortion). Masks are anti-aliased: capsules are drawn with OpenCV's anti-aliased primitives on a
``supersample``× canvas and area-averaged down. Crops follow the seed: a square around the person's
silhouette, side = ``margin`` × the larger bounding-box side, resized to ``crop_size``; metadata
``(x0, y0, scale)`` maps ``crop_px = (full_px − (x0, y0)) × scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CROP_SIZE = 256
CROP_MARGIN = 1.1


@dataclass(frozen=True)
class PinholeCamera:
    """Ideal camera in the OpenSim ground frame: ``x_cam = R X + t``; ``K`` px; image (w, h)."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]

    def project(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points [..., 3] (m) → pixels [..., 2] and depths [...] (m)."""
        cam = x @ self.R.T + self.t
        z = cam[..., 2]
        uv = cam[..., :2] / np.maximum(z, 1e-6)[..., None]
        return uv * np.diag(self.K)[:2] + self.K[:2, 2], z


def project_capsules(
    cam: PinholeCamera, endpoints: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Capsules [T, C, 2, 3] (m) with radii [C] (m) → end pixels [T, C, 2, 2], radii px [T, C], min depth [T]."""
    px, z = cam.project(endpoints)
    r_px = cam.K[0, 0] * radii[None, :] / np.maximum(z.mean(-1), 1e-6)
    return px, r_px, z.min(axis=(1, 2))


def keypoint_visibility(
    cam: PinholeCamera, endpoints: np.ndarray, radii: np.ndarray, landmarks: np.ndarray,
    tolerance_m: float = 0.03, occluded: float = 0.5,
) -> np.ndarray:
    """Visibility [T, 33] of landmarks [T, 33, 3] (m) behind the capsule body [T, C, 2, 3] / [C] (m).

    A landmark is occluded when some capsule's near surface along its pixel ray lies more than
    ``tolerance_m`` in front of it. Joint-centre landmarks lie inside their own capsules (a hip
    centre is ~0.1 m deep), so for a capsule that contains the landmark the allowance grows by
    that capsule's radius: a knee stays visible from the front and back, a nose is hidden from
    behind (two radii of head in front of it). Occluded landmarks get ``occluded`` (a detector's
    low but non-zero confidence); landmarks outside the image or behind the camera get 0.
    """
    cam_pts = endpoints @ cam.R.T + cam.t  # [T, C, 2, 3]
    lm_cam = landmarks @ cam.R.T + cam.t  # [T, L, 3]
    a, b = cam_pts[:, None, :, 0], cam_pts[:, None, :, 1]  # [T, 1, C, 3]
    za, zb = np.maximum(a[..., 2], 1e-6), np.maximum(b[..., 2], 1e-6)
    ua, ub = a[..., :2] / za[..., None], b[..., :2] / zb[..., None]  # normalised image coords
    zl = np.maximum(lm_cam[..., 2], 1e-6)
    ul = (lm_cam[..., :2] / zl[..., None])[:, :, None]  # [T, L, 1, 2]
    ab = ub - ua
    s = np.clip(((ul - ua) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    d = np.linalg.norm(ul - (ua + s[..., None] * ab), axis=-1)  # [T, L, C]
    z_axis = za + s * (zb - za)
    r = radii[None, None, :] / z_axis  # radius in normalised image units
    inside = d < r
    surface = z_axis - radii[None, None, :] * np.sqrt(np.clip(1.0 - (d / np.maximum(r, 1e-12)) ** 2, 0.0, 1.0))
    ab3 = b - a  # 3-D axes in the camera frame
    lm3 = lm_cam[:, :, None]
    s3 = np.clip(((lm3 - a) * ab3).sum(-1) / np.maximum((ab3 * ab3).sum(-1), 1e-12), 0.0, 1.0)
    contains = np.linalg.norm(lm3 - (a + s3[..., None] * ab3), axis=-1) < 1.05 * radii[None, None, :]
    allowance = tolerance_m + np.where(contains, radii[None, None, :], 0.0)
    hidden = (inside & (surface < zl[..., None] - allowance)).any(-1)
    vis = np.where(hidden, occluded, 1.0)
    px, _ = cam.project(landmarks)
    w, h = cam.image_size
    out = (lm_cam[..., 2] <= 0) | (px[..., 0] < 0) | (px[..., 1] < 0) | (px[..., 0] > w - 1) | (px[..., 1] > h - 1)
    return np.where(out, 0.0, vis).astype(np.float32)


def silhouette_box(px: np.ndarray, r_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of projected capsules per frame: lo [T, 2], hi [T, 2] (px)."""
    lo = (px - r_px[..., None, None]).min(axis=(1, 2))
    hi = (px + r_px[..., None, None]).max(axis=(1, 2))
    return lo, hi


def crop_boxes(lo: np.ndarray, hi: np.ndarray, crop_size: int = CROP_SIZE, margin: float = CROP_MARGIN) -> np.ndarray:
    """Square crops around boxes → [T, 3] (x0, y0, scale)."""
    centre = (lo + hi) / 2.0
    side = np.maximum((hi - lo).max(-1), 1.0) * margin
    return np.concatenate([centre - side[:, None] / 2.0, (crop_size / side)[:, None]], axis=1)


def draw_mask(
    px: np.ndarray, r_px: np.ndarray, offset: np.ndarray, scale: float, size: tuple[int, int], supersample: int = 2
) -> np.ndarray:
    """One frame's mask: capsule pixels [C, 2, 2] and radii [C] mapped by ``(px − offset) × scale``.

    ``size`` is (width, height) of the output; returns uint8 [height, width] in 0–255.
    """
    w, h = size
    ss = supersample
    canvas = np.zeros((h * ss, w * ss), np.uint8)
    shift = 4  # sub-pixel precision for OpenCV drawing
    f = float(1 << shift)
    # output pixel j covers canvas pixels ss·j … ss·j + ss − 1 (pixel centres at integers)
    pts = (px - offset) * scale * ss + (ss - 1) / 2.0
    rad = r_px * scale * ss
    for (a, b), r in zip(pts, rad, strict=True):
        if not np.all(np.isfinite([*a, *b, r])):
            continue
        ia, ib = tuple(np.round(a * f).astype(int)), tuple(np.round(b * f).astype(int))
        thick = max(int(round(2 * r)), 1)
        if thick < 32767:
            cv2.line(canvas, ia, ib, (255,), thick, cv2.LINE_AA, shift)
            rr = int(round(r * f))
            cv2.circle(canvas, ia, rr, (255,), -1, cv2.LINE_AA, shift)
            cv2.circle(canvas, ib, rr, (255,), -1, cv2.LINE_AA, shift)
    if ss == 1:
        return canvas
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)


def render_crops(
    cam: PinholeCamera, endpoints: np.ndarray, radii: np.ndarray, landmarks: np.ndarray,
    out_size: int, crop_size: int = CROP_SIZE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame person crops of one view.

    Returns masks uint8 [T, out_size, out_size], keypoints [T, 33, 3] (x, y in ``crop_size`` crop
    px, occlusion visibility, see :func:`keypoint_visibility`) and crops [T, 3]. ``out_size``
    may be smaller than ``crop_size`` (the mask is the crop resampled).
    """
    px, r_px, _ = project_capsules(cam, endpoints, radii)
    lo, hi = silhouette_box(px, r_px)
    crops = crop_boxes(lo, hi, crop_size)
    masks = np.empty((px.shape[0], out_size, out_size), np.uint8)
    k = out_size / crop_size  # mask px per crop px; pixel centres: mask = (crop + 0.5)·k − 0.5
    for i in range(px.shape[0]):
        offset = crops[i, :2] - (0.5 * k - 0.5) / (crops[i, 2] * k)
        masks[i] = draw_mask(px[i], r_px[i], offset, crops[i, 2] * k, (out_size, out_size))
    kp_px, _ = cam.project(landmarks)
    kps = (kp_px - crops[:, None, :2]) * crops[:, None, 2:3]
    vis = keypoint_visibility(cam, endpoints, radii, landmarks)
    return masks, np.concatenate([kps, vis[..., None]], -1), crops
