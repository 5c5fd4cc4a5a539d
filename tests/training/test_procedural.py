"""Procedural motion kinds: finite, in range, smooth, with the advertised amplitudes, varied, groundable."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.biomech import load_definition
from model_store.conventions import MODEL_RATE_HZ
from training.synth.procedural import MOTION_KINDS, ground_feet, motion_of_kind
from training.synth.sequence import build_sequence
from training.synth.subjects import sample_subject

FPS = MODEL_RATE_HZ
NAMES = load_definition().coordinate_names
RANGES = np.array([c.range for c in load_definition().coordinates])
JOINTS = [i for i, n in enumerate(NAMES) if not n.startswith("pelvis") and not n.endswith("_beta")]
ANGLES = [i for i, n in enumerate(NAMES) if n not in ("pelvis_tx", "pelvis_ty", "pelvis_tz")]
#: Largest frame-to-frame change (rad at 60 fps) of any angle; running knees move at up to ~900°/s.
MAX_STEP = {"run": 0.3}
KINDS = sorted(MOTION_KINDS)


def _col(q: np.ndarray, name: str) -> np.ndarray:
    return q[:, NAMES.index(name)]


def _deg_max(q: np.ndarray, *names: str) -> float:
    return float(np.degrees(max(np.abs(_col(q, n)).max() for n in names)))


@pytest.mark.parametrize("kind", KINDS)
def test_shape_finite_in_range_and_betas_zero(kind: str) -> None:
    for seed in range(3):
        q = motion_of_kind(kind, np.random.default_rng(seed), 180, FPS)
        assert q.shape == (180, len(NAMES)) and np.isfinite(q).all()
        j = q[:, JOINTS]
        assert (j >= RANGES[JOINTS, 0]).all() and (j <= RANGES[JOINTS, 1]).all()
        assert not _col(q, "knee_angle_r_beta").any() and not _col(q, "knee_angle_l_beta").any()


@pytest.mark.parametrize("kind", KINDS)
def test_smooth_with_continuous_velocity(kind: str) -> None:
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    q60 = motion_of_kind(kind, rng_a, 121, 60.0)
    q240 = motion_of_kind(kind, rng_b, 481, 240.0)
    # the same continuous motion, sampled at two rates (grounding aside)
    np.testing.assert_allclose(q240[::4][:, ANGLES], q60[:, ANGLES], atol=1e-9)
    assert np.abs(np.diff(q60[:, ANGLES], axis=0)).max() < MAX_STEP.get(kind, 0.15)
    # a velocity kink keeps second differences ∝ 1/fps; smooth motion makes them ∝ 1/fps²
    acc60 = np.abs(np.diff(q60[:, ANGLES], 2, axis=0)).max(0)
    acc240 = np.abs(np.diff(q240[:, ANGLES], 2, axis=0)).max(0)
    moving = acc60 > 1e-6
    assert (acc60[moving] / np.maximum(acc240[moving], 1e-12)).min() > 8.0
    ty60, ty240 = _col(q60, "pelvis_ty"), _col(q240, "pelvis_ty")
    assert np.abs(np.diff(ty240, 2)).max() < np.abs(np.diff(ty60, 2)).max() / 4.0 + 1e-6


def test_run_amplitudes_and_progression() -> None:
    for seed in range(5):
        q = motion_of_kind("run", np.random.default_rng(seed), 121, FPS)  # 2 s
        assert _deg_max(q, "knee_angle_r") > 100.0 and _deg_max(q, "knee_angle_l") > 100.0
        hip = np.degrees(np.concatenate([_col(q, "hip_flexion_r"), _col(q, "hip_flexion_l")]))
        assert hip.max() > 35.0 and -20.0 < hip.min() < 0.0
        elbow = np.degrees(_col(q, "elbow_flex_r"))
        assert 60.0 < elbow.mean() < 110.0
        speed = np.hypot(*np.diff(q[[0, -1]][:, [NAMES.index("pelvis_tx"), NAMES.index("pelvis_tz")]], axis=0)[0]) / 2.0
        assert 2.3 < speed < 4.7
        # each shoulder swings with the opposite hip
        assert np.corrcoef(_col(q, "arm_flex_r"), _col(q, "hip_flexion_l"))[0, 1] > 0.5


def test_squat_amplitudes() -> None:
    for seed in range(5):
        q = motion_of_kind("squat", np.random.default_rng(seed), 241, FPS)  # 4 s: at least one squat
        assert _deg_max(q, "knee_angle_r", "knee_angle_l") > 90.0
        assert float(np.degrees(_col(q, "hip_flexion_r").max())) > 75.0
        assert float(np.degrees(_col(q, "ankle_angle_r").max())) > 15.0
        assert np.ptp(_col(q, "pelvis_ty")) > 0.2  # the body goes down


def test_arm_raises_amplitudes() -> None:
    for seed in range(5):
        q = motion_of_kind("arm_raises", np.random.default_rng(seed), 601, 30.0)  # 20 s: several repetitions
        assert _deg_max(q, "arm_flex_r", "arm_add_r", "arm_flex_l", "arm_add_l") > 90.0
        assert _deg_max(q, "knee_angle_r", "knee_angle_l") < 15.0  # standing


def test_lunge_and_sit_to_stand_amplitudes() -> None:
    for seed in range(5):
        q = motion_of_kind("lunge", np.random.default_rng(seed), 241, FPS)  # 4 s: at least one lunge
        assert _deg_max(q, "knee_angle_r", "knee_angle_l") > 55.0
        assert _deg_max(q, "hip_flexion_r", "hip_flexion_l") > 45.0
        assert np.degrees(min(_col(q, "mtp_angle_r").min(), _col(q, "mtp_angle_l").min())) < -15.0  # back heel up
        q = motion_of_kind("sit_to_stand", np.random.default_rng(seed), 301, FPS)  # 5 s: one cycle
        knee = np.degrees(_col(q, "knee_angle_r"))
        assert knee.max() > 80.0 and knee.min() < 12.0


def test_bend_reach_amplitudes() -> None:
    for seed in range(5):
        q = motion_of_kind("bend_reach", np.random.default_rng(seed), 481, FPS)  # 8 s: at least one bend
        assert _deg_max(q, "hip_flexion_r", "hip_flexion_l") > 45.0  # pelvis tilt + thigh
        assert float(np.degrees(_col(q, "lumbar_extension").min())) < -8.0  # the trunk flexes
        assert _deg_max(q, "arm_flex_r", "arm_flex_l") > 35.0  # an arm reaches


@pytest.mark.parametrize("kind", KINDS)
def test_differs_between_seeds(kind: str) -> None:
    a = motion_of_kind(kind, np.random.default_rng(1), 60, FPS)
    b = motion_of_kind(kind, np.random.default_rng(2), 60, FPS)
    c = motion_of_kind(kind, np.random.default_rng(1), 60, FPS)
    assert np.array_equal(a, c)
    assert np.abs(a[:, JOINTS] - b[:, JOINTS]).max() > np.radians(5.0)


def test_headings_vary() -> None:
    from training.synth.motions import facing_angle

    headings = [facing_angle(motion_of_kind("run", np.random.default_rng(s), 30, FPS)) for s in range(12)]
    assert np.ptp(np.cos(headings)) > 1.0 and np.ptp(np.sin(headings)) > 1.0


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known kinds: arm_raises, bend_reach, lunge, run, sit_to_stand, squat"):
        motion_of_kind("cartwheel", np.random.default_rng(0), 10, FPS)
    with pytest.raises(ValueError):
        motion_of_kind("run", np.random.default_rng(0), 0, FPS)


def test_ground_feet_only_moves_pelvis_height() -> None:
    q = motion_of_kind("squat", np.random.default_rng(0), 30, FPS)
    lifted = q.copy()
    lifted[:, NAMES.index("pelvis_ty")] += 0.5
    back = ground_feet(lifted)
    np.testing.assert_allclose(back, q, atol=1e-9)
    assert lifted[0, NAMES.index("pelvis_ty")] == pytest.approx(q[0, NAMES.index("pelvis_ty")] + 0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_build_sequence_with_feet_on_the_ground(kind: str) -> None:
    rng = np.random.default_rng(11)
    subject = sample_subject(rng)
    q = motion_of_kind(kind, rng, 40, FPS, scales=subject.scales)
    seq = build_sequence(rng, 40, coords=q, subject=subject)
    low = seq.landmarks[..., 1].min(1)  # lowest landmark per frame (m, ground y = 0)
    assert low.min() > -0.01 and low.min() < 0.02
    # feet stay on the floor; running may be in flight for a moment
    assert low.max() < (0.12 if kind == "run" else 0.03)
    assert np.isfinite(seq.landmarks).all()
