"""Silhouette and keypoint rendering of the capsule body from calibrated perspective cameras.

Projection uses ideal pinhole cameras (:class:`~model_store.geometry.cameras.Camera` with the OpenSim ground
frame as their world, :meth:`~model_store.geometry.cameras.Camera.project_pinhole`: synthetic cameras have
no lens distortion). Masks are anti-aliased: capsules are drawn with OpenCV's anti-aliased primitives on a
``supersample``× canvas and area-averaged down. Crops are the pipeline's (:mod:`model_store.keypoints.crops`):
the square around the pixels the full-resolution silhouette covers (mask > 127, as
:func:`~model_store.keypoints.crops.crop_box` measures a detected mask), metadata ``(x0, y0, scale)`` with
``crop_px = (full_px − (x0, y0)) × scale``.
"""

from __future__ import annotations

import cv2
import numpy as np

from model_store.geometry.cameras import Camera
from model_store.keypoints.crops import CROP_SIZE, box_from_extent

#: Bands (full px) drawn beside each side of the geometric box to find the silhouette's pixel extent.
EXTENT_BAND = 4
#: sub-pixel bits of the fixed-point coordinates given to OpenCV's drawing
_SHIFT = 4


def project_capsules(
    cam: Camera, endpoints: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Capsules [T, C, 2, 3] (m) with radii [C] (m) → end pixels [T, C, 2, 2], radii px [T, C], min depth [T]."""
    px, z = cam.project_pinhole(endpoints)
    r_px = cam.K[0, 0] * radii[None, :] / np.maximum(z.mean(-1), 1e-6)
    return px, r_px, z.min(axis=(1, 2))


def keypoint_visibility(
    cam: Camera, endpoints: np.ndarray, radii: np.ndarray, landmarks: np.ndarray,
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
    px, _ = cam.project_pinhole(landmarks)
    w, h = cam.image_size
    out = (lm_cam[..., 2] <= 0) | (px[..., 0] < 0) | (px[..., 1] < 0) | (px[..., 0] > w - 1) | (px[..., 1] > h - 1)
    return np.where(out, 0.0, vis).astype(np.float32)


def silhouette_box(px: np.ndarray, r_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of projected capsules per frame: lo [T, 2], hi [T, 2] (px)."""
    lo = (px - r_px[..., None, None]).min(axis=(1, 2))
    hi = (px + r_px[..., None, None]).max(axis=(1, 2))
    return lo, hi


def _inside(px: np.ndarray, r_px: np.ndarray, cap_lo: np.ndarray, cap_hi: np.ndarray,
            x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """``draw_mask`` at full resolution over the region [x0, x1) × [y0, y1) (px) > 127, drawing only
    the capsules whose boxes ``cap_lo``/``cap_hi`` [C, 2] reach it: exactly those pixels of the
    full-frame mask (the offset is whole pixels)."""
    near = (cap_hi[:, 0] >= x0 - 2) & (cap_lo[:, 0] <= x1 + 2) & (cap_hi[:, 1] >= y0 - 2) & (cap_lo[:, 1] <= y1 + 2)
    if not near.any() or x1 <= x0 or y1 <= y0:
        return np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), bool)
    return draw_mask(px[near], r_px[near], np.array([x0, y0], np.float64), 1.0, (x1 - x0, y1 - y0)) > 127


def pixel_extent(px: np.ndarray, r_px: np.ndarray, image_size: tuple[int, int],
                 band: int = EXTENT_BAND) -> tuple[np.ndarray, np.ndarray] | None:
    """One frame's silhouette (capsule pixels [C, 2, 2], radii [C] px) drawn at full resolution:
    (first column, first row) and (last + 1) of the pixels over half covered, inside the image —
    what :func:`~model_store.keypoints.crops.crop_box` measures on the full-frame mask. None when no pixel is.

    Only bands of ``band`` px beside each side of the geometric box are drawn (a pixel more than
    ~0.2 px beyond the geometry is never covered); the whole box when a band finds nothing."""
    w, h = image_size
    cap_lo = (px - r_px[:, None, None]).min(1)  # [C, 2]
    cap_hi = (px + r_px[:, None, None]).max(1)
    finite = np.isfinite(cap_lo).all(1) & np.isfinite(cap_hi).all(1)
    if not finite.any():
        return None
    lo, hi = cap_lo[finite].min(0), cap_hi[finite].max(0)
    x0, y0 = int(np.clip(np.floor(lo[0]) - band, 0, w)), int(np.clip(np.floor(lo[1]) - band, 0, h))
    x1, y1 = int(np.clip(np.ceil(hi[0]) + band + 1, 0, w)), int(np.clip(np.ceil(hi[1]) + band + 1, 0, h))
    b = 2 * band + 1
    box = (px, r_px, cap_lo, cap_hi)
    strips = (_inside(*box, x0, y0, min(x0 + b, x1), y1).any(0),  # columns from the left
              _inside(*box, max(x1 - b, x0), y0, x1, y1).any(0),  # columns up to the right edge
              _inside(*box, x0, y0, x1, min(y0 + b, y1)).any(1),  # rows from the top
              _inside(*box, x0, max(y1 - b, y0), x1, y1).any(1))  # rows up to the bottom edge
    if all(s.any() for s in strips):
        left, right, top, bottom = (np.flatnonzero(s) for s in strips)
        return (np.array([x0 + left[0], y0 + top[0]], np.float64),
                np.array([max(x1 - b, x0) + right[-1] + 1, max(y1 - b, y0) + bottom[-1] + 1], np.float64))
    inside = _inside(*box, x0, y0, x1, y1)
    cols, rows = np.flatnonzero(inside.any(0)), np.flatnonzero(inside.any(1))
    if cols.size == 0:
        return None
    return (np.array([x0 + cols[0], y0 + rows[0]], np.float64),
            np.array([x0 + cols[-1] + 1, y0 + rows[-1] + 1], np.float64))


def _strip_hits(px: np.ndarray, r_px: np.ndarray, cap_lo: np.ndarray, cap_hi: np.ndarray,
                region: np.ndarray, along: int, ss: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_inside` of each frame's region [T, 4] (x0, y0, x1, y1; full px), reduced to the
    columns (``along`` = 0) or rows (1) holding a covered pixel: (first, last, any) [T] in region
    coordinates. The regions are drawn as tiles of one canvas, each into its own view (the clipping of
    a canvas of the region's size, so the same pixels), downsampled at once."""
    x0, y0, x1, y1 = region.T
    w, h = np.maximum(x1 - x0, 0), np.maximum(y1 - y0, 0)
    near = ((cap_hi[..., 0] >= (x0 - 2)[:, None]) & (cap_lo[..., 0] <= (x1 + 2)[:, None])
            & (cap_hi[..., 1] >= (y0 - 2)[:, None]) & (cap_lo[..., 1] <= (y1 + 2)[:, None]))
    drawn = near.any(1) & (w > 0) & (h > 0)
    rows = np.concatenate([[0], np.cumsum(h)])
    width = int(max(w.max(initial=0), 1))
    canvas = np.zeros((int(rows[-1]) * ss, width * ss), np.uint8)
    strokes = _strokes(px, r_px, region[:, :2], 1.0, ss, keep=near & drawn[:, None])
    for i in np.flatnonzero(drawn):
        _stroke(canvas[rows[i] * ss:rows[i + 1] * ss, :w[i] * ss], strokes[i])
    t = len(region)
    first, last, hit = np.zeros(t, int), np.zeros(t, int), np.zeros(t, bool)
    tiles = np.flatnonzero(h > 0)
    if tiles.size == 0:
        return first, last, hit
    small = canvas if ss == 1 else cv2.resize(canvas, (width, int(rows[-1])), interpolation=cv2.INTER_AREA)
    inside = small > 127  # columns past a tile's width are never drawn
    if along == 0:  # per tile: which columns hold a covered pixel
        per_tile = np.add.reduceat(inside, rows[tiles], axis=0) > 0  # [tiles, width]
        idx = np.arange(width)
    else:  # per row; then per tile, in the tile's own rows
        per_row = inside.any(1)
        idx = np.arange(per_row.size)
        lo_i = np.minimum.reduceat(np.where(per_row, idx, per_row.size), rows[tiles])
        hi_i = np.maximum.reduceat(np.where(per_row, idx, -1), rows[tiles])
        hit[tiles] = hi_i >= rows[tiles]  # a hit inside the tile (reduceat spans exactly its rows)
        first[tiles], last[tiles] = lo_i - rows[tiles], hi_i - rows[tiles]
        return first, last, hit
    hit[tiles] = per_tile.any(1)
    first[tiles] = np.where(per_tile, idx, width).min(1)
    last[tiles] = np.where(per_tile, idx, -1).max(1)
    return first, last, hit


def pixel_extents(px: np.ndarray, r_px: np.ndarray, image_size: tuple[int, int],
                  band: int = EXTENT_BAND) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pixel_extent` of every frame (capsule pixels [T, C, 2, 2], radii [T, C] px), the same
    numbers, with each band drawn for all frames at once: (lo [T, 2], hi [T, 2], found [T]); lo and hi
    are meaningless where ``found`` is False (no pixel covered)."""
    w, h = image_size
    cap_lo = (px - r_px[..., None, None]).min(2)  # [T, C, 2]
    cap_hi = (px + r_px[..., None, None]).max(2)
    finite = np.isfinite(cap_lo).all(2) & np.isfinite(cap_hi).all(2)
    some = finite.any(1)
    lo = np.where(finite[..., None], cap_lo, np.inf).min(1)
    hi = np.where(finite[..., None], cap_hi, -np.inf).max(1)
    lo[~some], hi[~some] = 0.0, 0.0
    x0 = np.clip(np.floor(lo[:, 0]) - band, 0, w).astype(int)
    y0 = np.clip(np.floor(lo[:, 1]) - band, 0, h).astype(int)
    x1 = np.clip(np.ceil(hi[:, 0]) + band + 1, 0, w).astype(int)
    y1 = np.clip(np.ceil(hi[:, 1]) + band + 1, 0, h).astype(int)
    b = 2 * band + 1
    xr, yb = np.maximum(x1 - b, x0), np.maximum(y1 - b, y0)
    box = (px, r_px, cap_lo, cap_hi)
    left, _, hit_l = _strip_hits(*box, np.stack([x0, y0, np.minimum(x0 + b, x1), y1], 1), 0)
    _, right, hit_r = _strip_hits(*box, np.stack([xr, y0, x1, y1], 1), 0)
    top, _, hit_t = _strip_hits(*box, np.stack([x0, y0, x1, np.minimum(y0 + b, y1)], 1), 1)
    _, bottom, hit_b = _strip_hits(*box, np.stack([x0, yb, x1, y1], 1), 1)
    found = some & hit_l & hit_r & hit_t & hit_b
    out_lo = np.stack([x0 + left, y0 + top], 1).astype(np.float64)
    out_hi = np.stack([xr + right + 1, yb + bottom + 1], 1).astype(np.float64)
    for i in np.flatnonzero(some & ~found):  # a band found nothing: the whole box, frame by frame (rare)
        extent = pixel_extent(px[i], r_px[i], image_size, band)
        if extent is not None:
            out_lo[i], out_hi[i] = extent
            found[i] = True
    return out_lo, out_hi, found


def crop_boxes(cam: Camera, px: np.ndarray, r_px: np.ndarray, crop_size: int = CROP_SIZE) -> np.ndarray:
    """The pipeline's crop boxes [T, 3] (x0, y0, scale) of each frame's silhouette (capsule pixels
    [T, C, 2, 2], radii [T, C] px): :func:`~model_store.keypoints.crops.box_from_extent` of :func:`pixel_extent`,
    or of the geometric box for a frame whose silhouette covers no pixel."""
    lo, hi = silhouette_box(px, r_px)
    ext_lo, ext_hi, found = pixel_extents(px, r_px, cam.image_size)
    # geometry in pixel-centre coordinates → pixel-edge extent where no pixel is covered
    lo = np.where(found[:, None], ext_lo, lo + 0.5)
    hi = np.where(found[:, None], ext_hi, hi + 0.5)
    return box_from_extent(lo, hi, size=crop_size)


def _strokes(px: np.ndarray, r_px: np.ndarray, offset: np.ndarray, scale: float | np.ndarray, ss: int,
             keep: np.ndarray | None = None) -> list[list[tuple]]:
    """OpenCV drawing arguments of capsule pixels [N, C, 2, 2] / radii [N, C] (or one frame's [C, 2, 2]
    / [C]) mapped by ``(px − offset) × scale`` (offsets [N, 2] or [2], scales [N] or one) onto an
    ``ss``× canvas, one list per frame: (end a, end b, line thickness, end-circle radius), fixed-point
    ends and radius, of the finite capsules (of those in ``keep`` [N, C], when given), in order."""
    px, r_px = np.asarray(px, np.float64), np.asarray(r_px, np.float64)
    px, r_px = px.reshape(-1, *px.shape[-3:]), r_px.reshape(-1, r_px.shape[-1])
    n = px.shape[0]
    offset = np.broadcast_to(np.asarray(offset, np.float64).reshape(-1, 2), (n, 2))
    scale = np.broadcast_to(np.asarray(scale, np.float64).reshape(-1), (n,))
    f = float(1 << _SHIFT)
    # output pixel j covers canvas pixels ss·j … ss·j + ss − 1 (pixel centres at integers)
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite capsules are left out below
        pts = (px - offset[:, None, None]) * scale[:, None, None, None] * ss + (ss - 1) / 2.0
        rad = r_px * scale[:, None] * ss
    ok = np.isfinite(pts).all((2, 3)) & np.isfinite(rad)
    ok &= np.maximum(np.round(2 * np.where(ok, rad, 0.0)), 1) < 32767  # OpenCV's thickness limit
    if keep is not None:
        ok &= keep.reshape(n, -1)
    fi, ci = np.nonzero(ok)  # frame by frame, capsules in order
    ends = np.round(pts[fi, ci] * f).astype(int).tolist()
    thick = np.maximum(np.round(2 * rad[fi, ci]), 1).astype(int).tolist()
    radius = np.round(rad[fi, ci] * f).astype(int).tolist()
    out: list[list[tuple]] = [[] for _ in range(n)]
    for i, (a, b), t, r in zip(fi.tolist(), ends, thick, radius, strict=True):
        out[i].append((tuple(a), tuple(b), t, r))
    return out


def _stroke(canvas: np.ndarray, strokes: list[tuple]) -> None:
    """Draw capsules (one frame of :func:`_strokes`) white on ``canvas`` (uint8, may be a view)."""
    for a, b, t, rr in strokes:
        cv2.line(canvas, a, b, (255,), t, cv2.LINE_AA, _SHIFT)
        cv2.circle(canvas, a, rr, (255,), -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(canvas, b, rr, (255,), -1, cv2.LINE_AA, _SHIFT)


def draw_mask(
    px: np.ndarray, r_px: np.ndarray, offset: np.ndarray, scale: float, size: tuple[int, int], supersample: int = 2
) -> np.ndarray:
    """One frame's mask: capsule pixels [C, 2, 2] and radii [C] mapped by ``(px − offset) × scale``.

    ``size`` is (width, height) of the output; returns uint8 [height, width] in 0–255.
    """
    return draw_masks(np.asarray(px)[None], np.asarray(r_px)[None], np.asarray(offset, np.float64).reshape(1, 2),
                      np.array([scale], np.float64), size, supersample)[0]


def draw_masks(
    px: np.ndarray, r_px: np.ndarray, offsets: np.ndarray, scales: np.ndarray, size: tuple[int, int],
    supersample: int = 2,
) -> np.ndarray:
    """:func:`draw_mask` of every frame (capsule pixels [T, C, 2, 2], radii [T, C], offsets [T, 2],
    scales [T]) → uint8 [T, height, width], the same pixels: frames are drawn as tiles of one tall
    canvas (each into its own view, so nothing crosses a tile) and downsampled at once."""
    w, h = size
    ss = supersample
    t = px.shape[0]
    canvas = np.zeros((t * h * ss, w * ss), np.uint8)
    for i, args in enumerate(_strokes(px, r_px, offsets, scales, ss)):
        _stroke(canvas[i * h * ss:(i + 1) * h * ss], args)
    small = canvas if ss == 1 else cv2.resize(canvas, (w, t * h), interpolation=cv2.INTER_AREA)
    return small.reshape(t, h, w)


def render_crops(
    cam: Camera, endpoints: np.ndarray, radii: np.ndarray, landmarks: np.ndarray,
    out_size: int, crop_size: int = CROP_SIZE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame person crops of one view.

    Returns masks uint8 [T, out_size, out_size], keypoints [T, 33, 3] (x, y in ``crop_size`` crop
    px, occlusion visibility, see :func:`keypoint_visibility`) and crops [T, 3]. ``out_size``
    may be smaller than ``crop_size`` (the mask is the crop resampled).
    """
    px, r_px, _ = project_capsules(cam, endpoints, radii)
    crops = crop_boxes(cam, px, r_px, crop_size)
    k = out_size / crop_size  # mask px per crop px; pixel centres: mask = (crop + 0.5)·k − 0.5
    offsets = crops[:, :2] - ((0.5 * k - 0.5) / (crops[:, 2] * k))[:, None]
    masks = draw_masks(px, r_px, offsets, crops[:, 2] * k, (out_size, out_size))
    kp_px, _ = cam.project_pinhole(landmarks)
    kps = (kp_px - crops[:, None, :2]) * crops[:, None, 2:3]
    vis = keypoint_visibility(cam, endpoints, radii, landmarks)
    return masks, np.concatenate([kps, vis[..., None]], -1), crops
