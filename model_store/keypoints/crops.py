"""Person crops as in the seed: a square around the silhouette's bounding box, side = margin × the
longer box side, resampled to ``size``² px. Metadata ``(x0, y0, scale)`` maps full-frame pixels to
crop pixels: ``crop_px = (full_px − (x0, y0)) × scale`` (scale = size / side).

The one home of this geometry: the pipeline (:func:`crop_box` on a detected mask) and the synthetic
renderer (``training.synth.render``, on the pixel extent of the silhouette it draws) both place their
crops with :func:`box_from_extent`, so a network trained on rendered crops sees the person where the
pipeline will put them. Pixel centres sit at integer coordinates in full frames and crops alike.
"""

from __future__ import annotations

import cv2
import numpy as np

CROP_SIZE = 256
CROP_MARGIN = 1.1


def crop_box(
    mask: np.ndarray, margin: float = CROP_MARGIN, size: int = CROP_SIZE, thresh: int = 127
) -> np.ndarray | None:
    """(x0, y0, scale) for a uint8 mask [H, W], or None when the mask is empty.

    Pixel centres sit at integer coordinates; the square's edges map onto the crop's outer edges.
    """
    inside = mask > thresh
    cols = np.flatnonzero(inside.any(0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(inside[:, cols[0]:cols[-1] + 1].any(1))
    lo = np.array([cols[0], rows[0]], np.float64)
    hi = np.array([cols[-1] + 1, rows[-1] + 1], np.float64)
    return box_from_extent(lo, hi, margin, size)


def box_from_extent(lo: np.ndarray, hi: np.ndarray, margin: float = CROP_MARGIN, size: int = CROP_SIZE) -> np.ndarray:
    """(x0, y0, scale) [..., 3] of the crop around a silhouette whose pixels span columns
    ``lo[..., 0]`` … ``hi[..., 0] − 1`` and rows ``lo[..., 1]`` … ``hi[..., 1] − 1`` (full-frame px).

    The square is centred on the pixels' extent; its edges map onto the crop's outer edges, so crop
    pixel centres sit at integer crop coordinates.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    centre = (lo + hi) / 2.0 - 0.5  # pixel-centre convention
    side = np.maximum((hi - lo).max(-1) * margin, 1.0)
    scale = size / side
    x0y0 = centre - (side / 2.0)[..., None] + (0.5 / scale)[..., None]
    return np.concatenate([x0y0, np.asarray(scale)[..., None]], -1)


def crop_image(image: np.ndarray, box: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Resample ``image`` [H, W(, C)] into the ``size``² crop (zeros outside the frame)."""
    x0, y0, s = box
    affine = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
    return cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0,))


def to_crop(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Full-frame px [..., 2] → crop px."""
    return (np.asarray(points) - box[:2]) * box[2]


def from_crop(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Crop px [..., 2] → full-frame px."""
    return np.asarray(points) / box[2] + box[:2]


def network_crop(
    mask: np.ndarray, input_size: int, size: int = CROP_SIZE
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A full-frame uint8 mask [H, W] → (crop box, float32 [input_size]² crop in [0, 1]): the
    ``size``² crop of :func:`crop_image`, area-resampled to the network's input size (what
    ``prepare_masks`` does to 256² crops). (None, None) when the mask is empty."""
    box = crop_box(mask, size=size)
    if box is None:
        return None, None
    crop: np.ndarray = crop_image(mask, box, size).astype(np.float32) / np.float32(255.0)
    if input_size != size:
        crop = cv2.resize(crop, (input_size, input_size), interpolation=cv2.INTER_AREA)
    return box, crop
