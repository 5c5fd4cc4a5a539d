"""Real service processes on loopback: a private redis-server (database 13, AOF persistence so it can
be restarted), uvicorn serving ``app.main:app`` and a Celery worker, each stack on free ports of its own
(:mod:`tests.ports`), so stacks of different modules, or of pytest-xdist workers, never meet.

Every test here starts (or uses) real processes: each module is marked ``service`` and the fast lane
(``make test-fast``) leaves them out."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from app.stack import Stack
from tests.polling import wait_until
from tests.ports import free_ports
from tests.service.videos import write_video
from worker.settings import hash_key

KEY_A = "alpha-test-key"
KEY_B = "beta-test-key"
#: Celery app of a worker that runs the stand-in pipeline (tests.service.slow_pipeline) instead of the real one.
STAND_IN_WORKER = "tests.service.worker_app:celery_app"


def make_stack(tmp: Path, env: dict[str, str] | None = None,
               worker_app: str = "worker.celery_app:celery_app") -> Stack:
    """A stack (not started: use it as ``with make_stack(...) as s``) on two free ports (API, Redis)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is required for the service tests (.ci/run installs it)")
    base = {
        "API_KEYS": f"{KEY_A},sha256:{hash_key(KEY_B)}", "STALE_JOB_S": "4", "HEARTBEAT_S": "1",
        "MAX_UPLOAD_MB": "2", "MAX_VIDEO_SECONDS": "20", "MAX_DURATION_MISMATCH_S": "1.0",
    }
    port, redis_port = free_ports(2)
    return Stack(data_dir=tmp, port=port, redis_port=redis_port, redis_db=13, env={**base, **(env or {})},
                 worker_app=worker_app)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The service with the stand-in pipeline (tests.service.slow_pipeline)."""
    with make_stack(tmp_path_factory.mktemp("stack"), worker_app=STAND_IN_WORKER) as s:
        yield s


@pytest.fixture()
def client(stack):
    return Client(stack.base_url, KEY_A)


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {
        "a": write_video(d / "a.mp4", 1.0),
        "b": write_video(d / "b.mp4", 1.0),
        "long": write_video(d / "long.mp4", 4.0),
    }


class Client:
    def __init__(self, base: str, key: str | None) -> None:
        self.http = httpx.Client(base_url=base, timeout=30.0, headers={"X-API-Key": key} if key else {})

    def submit(self, front: Path, side: Path, **form) -> httpx.Response:
        files = {"front": (front.name, front.read_bytes(), "video/mp4"),
                 "side": (side.name, side.read_bytes(), "video/mp4")}
        if "calibration" in form:
            files["calibration"] = ("calibration.toml", form.pop("calibration"), "application/toml")
        return self.http.post("/jobs", files=files, data={k: str(v) for k, v in form.items()})

    def wait(self, job_id: str, until=("succeeded", "failed", "canceled"), timeout: float = 90.0) -> dict:
        def reached() -> dict | None:
            r = self.http.get(f"/jobs/{job_id}")
            return r.json() if r.status_code == 200 and r.json()["status"] in until else None

        return wait_until(reached, timeout=timeout, interval=0.3,
                          message=lambda: f"job {job_id} not in {until}: {self.http.get(f'/jobs/{job_id}').text}")
