"""Real motion: OpenSim Scale + IK on the shared walking trial, cached and reused."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.biomech import load_definition
from training.synth import motions
from training.synth.real_motion import RealMotionError, load_walk_motion, walk_trial_ik


@pytest.mark.slow
def test_walk_ik_gives_a_plausible_cached_gait(shared_data, tmp_path):
    motion = load_walk_motion(tmp_path, shared_data)
    names = load_definition().coordinate_names
    assert motion.coords.shape == (238, 39)
    assert np.diff(motion.times_s) == pytest.approx(0.01)  # 100 Hz
    col = {n: motion.coords[:, i] for i, n in enumerate(names)}
    travel = np.hypot(np.ptp(col["pelvis_tx"]), np.ptp(col["pelvis_tz"]))
    assert 2.0 < travel < 4.0  # the trial walks ~3 m overground
    for side in ("r", "l"):  # a gait: the knee swings through ≥ 40°, the hip through ≥ 30°
        assert np.degrees(np.ptp(col[f"knee_angle_{side}"])) > 40
        assert np.degrees(np.ptp(col[f"hip_flexion_{side}"])) > 30
    cached = walk_trial_ik(tmp_path, shared_data)
    stamp = cached.stat().st_mtime_ns
    assert walk_trial_ik(tmp_path, shared_data).stat().st_mtime_ns == stamp  # reused, not re-solved
    # a window of it, time-warped and resampled to 60 fps, keeps the walking pattern
    window = motions.walk_window(np.random.default_rng(0), motion.coords, 100.0, 64, 60.0)
    assert window.shape == (64, 39) and np.all(np.isfinite(window))


def test_missing_inputs_are_a_clear_error(tmp_path):
    with pytest.raises(RealMotionError, match="walking-trial inputs not found"):
        walk_trial_ik(tmp_path / "cache", shared=tmp_path / "nowhere")
