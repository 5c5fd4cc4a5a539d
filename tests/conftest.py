"""Shared test fixtures: paths to ../shared data and a quiet OpenSim."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a clear message when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
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
        pytest.skip(f"model file not found: {path}")
    return path
