"""Pipeline fixtures: a network checkpoint produced by our training code (tiny config, a few steps on
toy data) for mechanics tests, and a synthetic clip with exact detections."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_store.network import get_config
from tests.training.toy_data import toy_sequences
from training.configs import get_train_config
from training.train import train


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tiny_ck")
    data = toy_sequences(4, 16, get_config("tiny").input_size)
    cfg = get_train_config("tiny", stage1_steps=4, stage2_steps=2)
    summary = train(cfg, d, data, data, progress=False)
    return Path(summary["checkpoint"]).with_suffix(".json")


@pytest.fixture()
def use_tiny_checkpoint(monkeypatch, tiny_checkpoint):
    monkeypatch.setenv("KINEMATICS_CHECKPOINT", str(tiny_checkpoint))
    return tiny_checkpoint


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
