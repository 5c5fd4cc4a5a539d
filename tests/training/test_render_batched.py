"""The frame-batched renderer (all frames of a view drawn as tiles of one canvas) gives the very
pixels and crop extents of the frame-by-frame reference functions, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest

from training.synth.render import draw_mask, draw_masks, pixel_extent, pixel_extents, project_capsules, silhouette_box
from training.synth.sequence import build_sequence


@pytest.fixture(scope="module", params=[5, 6])
def projected(request):
    """Capsule pixels [T, C, 2, 2] and radii [T, C] of one view, with frames made awkward: shifted
    partly out of the image, wholly out of it, and with a non-finite capsule."""
    seq = build_sequence(np.random.default_rng(request.param), 24)
    cam = seq.cameras[request.param % 2]
    px, r_px, _ = project_capsules(cam, seq.capsules, seq.radii)
    px, r_px = px.copy(), r_px.copy()
    w, h = cam.image_size
    px[2:6] += np.array([0.45 * w, 0.0])  # partly out on the right
    px[6:8] -= np.array([0.0, 0.6 * h])  # partly out at the top
    px[8] += np.array([3.0 * w, 0.0])  # nothing in the image
    px[9, 3] = np.nan  # one capsule not finite
    r_px[10, :] = np.inf  # no finite capsule
    return px, r_px, cam.image_size


def test_batched_extents_are_the_frame_by_frame_extents(projected):
    px, r_px, size = projected
    lo, hi, found = pixel_extents(px, r_px, size)
    for i in range(len(px)):
        ref = pixel_extent(px[i], r_px[i], size)
        assert found[i] == (ref is not None), i
        if ref is not None:
            np.testing.assert_array_equal(lo[i], ref[0])
            np.testing.assert_array_equal(hi[i], ref[1])
    assert found.sum() >= len(px) - 2  # the two empty frames only


def test_batched_masks_are_the_frame_by_frame_masks(projected):
    px, r_px, _ = projected
    rng = np.random.default_rng(0)
    with np.errstate(invalid="ignore"):
        lo, hi = silhouette_box(px, r_px)  # body boxes, jittered so that some frames cut the body
    lo, hi = (np.nan_to_num(a, nan=v, posinf=v, neginf=v) for a, v in ((lo, 0.0), (hi, 1.0)))
    offsets = lo + rng.uniform(-20.0, 60.0, lo.shape)
    scales = 1.0 / np.maximum((hi - lo).max(1), 1.0) * rng.uniform(0.6, 1.4, len(px))
    for size, ss in (((64, 64), 2), ((48, 40), 1), ((32, 32), 3)):
        scaled = scales * min(size)
        masks = draw_masks(px, r_px, offsets, scaled, size, ss)
        assert masks.shape == (len(px), size[1], size[0]) and masks.dtype == np.uint8
        ref = np.stack([draw_mask(px[i], r_px[i], offsets[i], scaled[i], size, ss) for i in range(len(px))])
        np.testing.assert_array_equal(masks, ref)
        assert (masks > 127).any((1, 2)).sum() >= len(px) - 3  # all but the empty frames drawn
