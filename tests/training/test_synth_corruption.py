"""Detector-like corruption of rendered views keeps the person recognisable and the formats intact."""

from __future__ import annotations

import numpy as np

from training.synth.corruption import corrupt_view
from training.synth.sequence import build_sequence, render_views


def test_corruption_perturbs_but_preserves_the_person():
    rng = np.random.default_rng(12)
    seq = build_sequence(rng, 40)
    clean = render_views(seq, np.random.default_rng(0), 128, corrupt=False)
    masks, kps = clean["masks"][:, 0], clean["keypoints"][:, 0]
    m, k, vis, found = corrupt_view(np.random.default_rng(3), masks, kps[..., :2], kps[..., 2], p_missed=0.1)
    assert m.dtype == np.uint8 and m.shape == masks.shape and k.shape == (40, 33, 2)
    assert (~found).any() and found.any()
    assert np.all(m[~found] == 0) and np.all(vis[~found] == 0)
    assert np.all((vis >= 0) & (vis <= 1))
    a, b = masks[found] > 127, m[found] > 127
    iou = (a & b).sum((1, 2)) / np.maximum((a | b).sum((1, 2)), 1)
    assert iou.min() > 0.6 and iou.mean() < 0.99  # changed, yet the same silhouette
    err = np.linalg.norm(k - kps[..., :2], axis=-1)[found]
    assert 0.5 < np.median(err) < 10.0  # crop px jitter
    assert np.all(vis[found] <= kps[found][..., 2] + 1e-6)  # corruption never raises confidence
