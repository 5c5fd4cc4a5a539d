"""Static validation of the deployment files (no Docker engine here) and launcher/compose parity."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.stack import Stack
from tests.conftest import REPO_ROOT

DOCKERFILES = sorted((REPO_ROOT / "docker").glob("Dockerfile.*"))


def _hadolint() -> str:
    exe = Path(sys.executable).parent / "hadolint"
    return str(exe) if exe.exists() else (shutil.which("hadolint") or "")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[d.name for d in DOCKERFILES])
def test_dockerfiles_pass_hadolint_and_run_as_non_root(dockerfile):
    tool = _hadolint()
    assert tool, "hadolint not found (it is in the dev extra: pip install -e '.[dev]')"
    res = subprocess.run([tool, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    text = dockerfile.read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text


@pytest.fixture(scope="module")
def compose_config():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose (Debian package) not installed; .ci/run installs it")
    env = {**os.environ, "API_KEYS": "sha256:" + "0" * 64}
    res = subprocess.run([exe, "--profile", "cpu", "config"], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    return yaml.safe_load(res.stdout)


def test_compose_services_volumes_and_gpu(compose_config):
    services = compose_config["services"]
    assert set(services) == {"redis", "api", "worker", "worker-cpu", "beat"}
    assert "--appendonly" in services["redis"]["command"]
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    for name in ("api", "worker", "worker-cpu"):
        assert any(str(v).endswith(":/data") or "/data" in str(v) for v in services[name]["volumes"])


def test_exactly_one_scheduler(compose_config):
    """Periodic sweeps run in one ``beat`` service, never inside (possibly many) workers."""
    services = compose_config["services"]
    beats = [n for n, svc in services.items() if "beat" in (svc.get("command") or [])]
    assert beats == ["beat"]
    for df in ("Dockerfile.worker", "Dockerfile.worker-cpu"):
        cmd = [line for line in (REPO_ROOT / "docker" / df).read_text().splitlines() if line.startswith("CMD")]
        assert cmd and "-B" not in cmd[-1] and "beat" not in cmd[-1], df


def test_launcher_sets_the_environment_compose_sets(compose_config, tmp_path):
    compose_env = set(compose_config["services"]["api"]["environment"])
    launcher_env = Stack(data_dir=tmp_path).environment()
    for name in ("REDIS_URL", "DATA_DIR", "JOB_QUEUE"):
        assert name in compose_env and name in launcher_env
    assert set(compose_config["services"]["worker"]["environment"]) == compose_env


def test_compose_requires_api_keys():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose not installed")
    env = {k: v for k, v in os.environ.items() if k != "API_KEYS"}
    res = subprocess.run([exe, "config", "-q"], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert res.returncode != 0 and "API_KEYS" in res.stderr
