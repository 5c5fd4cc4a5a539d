"""Simulated detector errors on exact detections: sizes, correlation, dropouts, masks, sync, purity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_store.conventions import MODEL_RATE_HZ
from model_store.keypoints.detections import N_LANDMARKS, ViewDetections
from training.synth.detector_noise import correlated_noise, estimate_height_px, perturb_clip_detections

FPS = MODEL_RATE_HZ
W, H = 120, 240
TOP, BOTTOM = 20, 219  # the person's rows: 200 px tall


def _view(frames: int, seed: int = 0, found: np.ndarray | None = None) -> ViewDetections:
    """A hand-made view: a 200 px tall ellipse-ish silhouette and 33 keypoints inside it (vis 1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    centre_y, half_h = (TOP + BOTTOM) / 2, (BOTTOM - TOP + 1) / 2
    body = ((yy - centre_y) / half_h) ** 2 + ((xx - W / 2) / 25.0) ** 2 <= 1.0
    masks = np.repeat((body * 255).astype(np.uint8)[None], frames, 0)
    xy = np.stack([rng.uniform(50, 70, N_LANDMARKS), rng.uniform(TOP + 10, BOTTOM - 10, N_LANDMARKS)], -1)
    walk = np.cumsum(rng.normal(0, 0.3, (frames, 1, 2)), 0)
    kps = np.concatenate([xy[None] + walk, np.ones((frames, N_LANDMARKS, 1))], -1).astype(np.float32)
    person = np.ones(frames, bool) if found is None else found
    return ViewDetections(masks, kps, person, FPS, (W, H))


def _quiet(**over: object) -> dict:
    """Settings with every effect off, then ``over``."""
    base = {"noise_frac": 0.0, "bias_frac": 0.0, "p_drop": 0.0, "mask_px": 0, "sync_frames": (0, 0),
            "jitter_share": 0.0, "mask_jitter_px": 0, "p_soft": 0.0, "visibility_jitter": 0.0}
    return {**base, **over}


def test_height_estimate_from_mask_and_keypoints() -> None:
    det = _view(5)
    assert estimate_height_px(det) == pytest.approx(200, abs=2)
    empty = ViewDetections(np.zeros_like(det.masks), det.keypoints, det.person_found, FPS, (W, H))
    spread = np.ptp(det.keypoints[0, :, 1])
    assert estimate_height_px(empty) == pytest.approx(1.1 * spread, rel=0.05)


def test_noise_std_matches_fraction_of_height_and_is_correlated() -> None:
    front, side = _view(600, 1), _view(600, 2)
    f2, s2, info = perturb_clip_detections(np.random.default_rng(3), front, side, **_quiet(noise_frac=0.015))
    for before, after, name in ((front, f2, "front"), (side, s2, "side")):
        err = (after.keypoints[..., :2] - before.keypoints[..., :2]).astype(np.float64)
        wanted = 0.015 * info[name]["height_px"]
        assert info[name]["noise_std_px"] == pytest.approx(wanted)
        assert abs(err.std() / wanted - 1.0) < 0.3
        assert abs(err.mean()) < 0.3 * wanted
        centred = err - err.mean(0)
        lag1 = (centred[1:] * centred[:-1]).sum() / (centred**2).sum()
        assert lag1 > 0.5


def test_default_noise_keeps_its_size_with_white_jitter() -> None:
    front, side = _view(600, 1), _view(600, 2)
    f2, _, info = perturb_clip_detections(np.random.default_rng(4), front, side, **_quiet(noise_frac=0.02,
                                                                                         jitter_share=0.25))
    err = (f2.keypoints[..., :2] - front.keypoints[..., :2]).astype(np.float64)
    assert abs(err.std() / info["front"]["noise_std_px"] - 1.0) < 0.3
    centred = err - err.mean(0)
    assert (centred[1:] * centred[:-1]).sum() / (centred**2).sum() > 0.5


def test_correlated_noise_is_unit_variance() -> None:
    x = correlated_noise(np.random.default_rng(0), (4000, 20), 6.0)
    assert x.std() == pytest.approx(1.0, rel=0.1)
    assert np.corrcoef(x[1:].ravel(), x[:-1].ravel())[0, 1] > 0.9


def test_bias_is_fixed_per_landmark_and_independent_per_view() -> None:
    front, side = _view(30, 1), _view(30, 2)
    f2, s2, info = perturb_clip_detections(np.random.default_rng(5), front, side, **_quiet(bias_frac=0.02))
    fb = f2.keypoints[..., :2] - front.keypoints[..., :2]
    sb = s2.keypoints[..., :2] - side.keypoints[..., :2]
    assert np.allclose(fb, fb[:1], atol=1e-3) and np.allclose(sb, sb[:1], atol=1e-3)
    assert 0.5 < fb[0].std() / info["front"]["bias_std_px"] < 1.5
    assert not np.allclose(fb[0], sb[0])


def test_dropped_fraction_visibility_and_displacement() -> None:
    front, side = _view(600, 1), _view(600, 2)
    f2, _, info = perturb_clip_detections(
        np.random.default_rng(6), front, side, **_quiet(p_drop=0.05, visibility_jitter=0.15)
    )
    low = f2.keypoints[..., 2] <= 0.2
    assert abs(low.mean() - 0.05) < 0.015
    assert info["front"]["dropped_fraction"] == pytest.approx(low.mean())
    assert f2.keypoints[~low, 2].min() >= 0.85  # kept keypoints stay confident
    jump = np.linalg.norm(f2.keypoints[..., :2] - front.keypoints[..., :2], axis=-1)
    assert np.median(jump[low]) > 5.0 * max(np.median(jump[~low]), 1e-6)


def test_frames_without_a_person_are_left_alone() -> None:
    found = np.ones(40, bool)
    found[10:15] = False
    front, side = _view(40, 1, found), _view(40, 2)
    f2, _, _ = perturb_clip_detections(np.random.default_rng(7), front, side, mask_px=3, sync_frames=(0, 0))
    assert np.array_equal(f2.keypoints[10:15], front.keypoints[10:15])
    assert np.array_equal(f2.masks[10:15], front.masks[10:15])
    assert np.array_equal(f2.person_found, found)


@pytest.mark.parametrize("seed", range(12))
def test_mask_area_follows_erosion_or_dilation(seed: int) -> None:
    front, side = _view(6, 1), _view(6, 2)
    f2, s2, info = perturb_clip_detections(np.random.default_rng(seed), front, side, **_quiet(mask_px=3))
    for before, after, name in ((front, f2, "front"), (side, s2, "side")):
        r = info[name]["mask_radius_px"]
        assert -3 <= r <= 3
        change = (after.masks >= 128).sum() - (before.masks >= 128).sum()
        assert np.sign(change) == np.sign(r)


def test_mask_radius_covers_both_directions() -> None:
    radii = set()
    for seed in range(30):
        _, _, info = perturb_clip_detections(np.random.default_rng(seed), _view(2, 1), _view(2, 2), mask_px=3)
        radii.update({info["front"]["mask_radius_px"], info["side"]["mask_radius_px"]})
    assert min(radii) < 0 < max(radii)


def test_soft_edges_on_some_frames() -> None:
    front, side = _view(60, 1), _view(60, 2)
    f2, _, info = perturb_clip_detections(np.random.default_rng(8), front, side, **_quiet(p_soft=0.2))
    grey = ((f2.masks > 0) & (f2.masks < 255)).reshape(60, -1).any(1)
    assert grey.sum() == info["front"]["soft_edge_frames"] > 0
    assert not ((front.masks > 0) & (front.masks < 255)).any()


@pytest.mark.parametrize("k", [-3, -1, 1, 2])
def test_sync_shift_moves_side_by_exactly_k_frames(k: int) -> None:
    front, side = _view(20, 1), _view(20, 2)
    f2, s2, info = perturb_clip_detections(np.random.default_rng(9), front, side, **_quiet(sync_frames=(k, k)))
    assert info["sync_shift_frames"] == k
    assert np.array_equal(f2.keypoints, front.keypoints)
    src = np.clip(np.arange(20) - k, 0, 19)
    assert np.array_equal(s2.keypoints, side.keypoints[src])
    assert s2.n_frames == side.n_frames
    # front frame f matches side frame f + k
    f = 8
    assert np.array_equal(s2.keypoints[f + k], side.keypoints[f])


def test_sync_shift_is_drawn_from_the_range() -> None:
    shifts = {
        perturb_clip_detections(np.random.default_rng(s), _view(3, 1), _view(3, 2), sync_frames=(-2, 1))[2][
            "sync_shift_frames"
        ]
        for s in range(40)
    }
    assert shifts == {-2, -1, 0, 1}


def test_inputs_unchanged_and_deterministic() -> None:
    front, side = _view(30, 1), _view(30, 2)
    copies = [(d.masks.copy(), d.keypoints.copy(), d.person_found.copy()) for d in (front, side)]
    a = perturb_clip_detections(np.random.default_rng(10), front, side)
    b = perturb_clip_detections(np.random.default_rng(10), front, side)
    for d, (m, kp, pf) in zip((front, side), copies, strict=True):
        assert np.array_equal(d.masks, m) and np.array_equal(d.keypoints, kp) and np.array_equal(d.person_found, pf)
    for x, y in zip(a[:2], b[:2], strict=True):
        assert np.array_equal(x.masks, y.masks) and np.array_equal(x.keypoints, y.keypoints)
    assert a[2] == b[2]
    json.dumps(a[2])
    c = perturb_clip_detections(np.random.default_rng(11), front, side)
    assert not np.array_equal(a[0].keypoints, c[0].keypoints)
    assert a[0].keypoints.dtype == np.float32 and a[0].masks.dtype == np.uint8


def test_given_heights_set_the_noise_scale() -> None:
    _, _, info = perturb_clip_detections(np.random.default_rng(12), _view(5, 1), _view(5, 2), (400.0, 100.0))
    assert info["front"]["noise_std_px"] == pytest.approx(0.015 * 400.0)
    assert info["side"]["noise_std_px"] == pytest.approx(0.015 * 100.0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        perturb_clip_detections(np.random.default_rng(0), _view(3), _view(3), sync_frames=(2, -2))
    with pytest.raises(ValueError):
        perturb_clip_detections(np.random.default_rng(0), _view(3), _view(4))


def test_swapped_sides_come_in_runs_and_leave_the_other_errors_as_they_were() -> None:
    from model_store.keypoints.landmarks import load_landmarks
    from model_store.keypoints.skeleton import mirror_permutation

    front, side = _view(1200, 1), _view(1200, 2)
    base = perturb_clip_detections(np.random.default_rng(13), front, side)
    f2, s2, info = perturb_clip_detections(np.random.default_rng(13), front, side, p_swap=0.3, swap_run_s=0.5)
    flip = mirror_permutation(load_landmarks().names)
    for name, plain, swapped in (("front", base[0], f2), ("side", base[1], s2)):
        frames = np.asarray(info[name]["swapped_frames"], int)
        rest = np.setdiff1d(np.arange(1200), frames)
        assert 0.15 < len(frames) / 1200 < 0.45, len(frames)
        assert len(frames) / (np.diff(frames) > 1).sum() > 10  # runs of ~30 frames, not single frames
        np.testing.assert_array_equal(swapped.keypoints[frames], plain.keypoints[frames][:, flip])
        np.testing.assert_array_equal(swapped.keypoints[rest], plain.keypoints[rest])
        np.testing.assert_array_equal(swapped.masks, plain.masks)
    assert base[2]["front"]["swapped_frames"] == []
    with pytest.raises(ValueError, match="p_swap"):
        perturb_clip_detections(np.random.default_rng(0), _view(3), _view(3), p_swap=1.0)
