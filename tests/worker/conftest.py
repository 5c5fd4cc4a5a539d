"""Pipeline fixtures: a synthetic clip with exact detections (the tiny trained checkpoint is in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthetic_clip(tmp_path_factory) -> Path:
    from model_store.biomech import write_mot
    from model_store.demo import sample_motion
    from training.synth.__main__ import main as synth_main

    d = tmp_path_factory.mktemp("synclip")
    times, q = sample_motion(1.5)
    write_mot(d / "motion.mot", times, q)
    assert synth_main(["clip", "--motion", str(d / "motion.mot"), "--out", str(d / "clip"), "--seed", "11"]) == 0
    return d / "clip"
