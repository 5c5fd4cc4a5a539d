"""Shared test fixtures: the repository's third-party data (data/), a quiet OpenSim, and a network checkpoint produced
by our training code (tiny config, a few steps on toy data) for mechanics tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_store.network import get_config
from tests.training.toy_data import toy_sequences
from training.configs import get_train_config
from training.train import train
from worker.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The repository's ``data/`` (model, walking trial, demo recording; ``data/README.md``). A test that
    needs it fails when it is missing: a clone without it is not complete."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the repository's data folder is missing: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def opensim_module():
    import opensim

    opensim.Logger.setLevelString("error")
    return opensim


@pytest.fixture(scope="session")
def rajagopal_osim(shared_data: Path) -> Path:
    path = shared_data / "opensim" / "Rajagopal2016.osim"
    if not path.is_file():
        pytest.fail(f"model file not found: {path}")
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tiny_ck")
    data = toy_sequences(4, 16, get_config("tiny").input_size)
    cfg = get_train_config("tiny", stage1_steps=4, stage2_steps=2)
    summary = train(cfg, d, data, data, progress=False)
    return Path(summary["checkpoint"]).with_suffix(".json")


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test reads the environment afresh (``get_settings`` is cached per process), so a test's
    ``monkeypatch.setenv`` reaches :class:`~worker.settings.Settings` and does not leak."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture()
def use_tiny_checkpoint(monkeypatch, tiny_checkpoint):
    """The service's checkpoint (``KINEMATICS_CHECKPOINT``) is the tiny test network."""
    monkeypatch.setenv("KINEMATICS_CHECKPOINT", str(tiny_checkpoint))
    return tiny_checkpoint
