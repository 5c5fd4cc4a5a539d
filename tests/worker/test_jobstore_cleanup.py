"""Cleanup of job folders without a record, against a real Redis: a private redis-server on a free port
(so the test needs no Redis running and shares none with other tests or pytest-xdist workers)."""

from __future__ import annotations

import os
import shutil
import time

import pytest
import redis

from app.stack import Stack
from tests.ports import free_port
from worker.jobs import Job, JobStore
from worker.settings import Settings

pytestmark = pytest.mark.service

REDIS_DB = 12


@pytest.fixture
def store(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is required (.ci/run installs it)")
    server = Stack(data_dir=tmp_path / "redis-data", redis_port=free_port())
    server.start_redis_server()
    try:
        settings = Settings(redis_url=f"redis://127.0.0.1:{server.redis_port}/{REDIS_DB}", data_dir=tmp_path / "data",
                            upload_grace_s=60, upload_deadline_s=50)
        yield JobStore(settings, redis.Redis.from_url(settings.redis_url))
    finally:
        server.close()


def _age(folder, seconds):
    old = time.time() - seconds
    for p in [folder, *folder.rglob("*")]:
        os.utime(p, (old, old))


def test_an_upload_in_progress_is_never_removed(store):
    receiving = store.job_dir("inflight") / "input"
    receiving.mkdir(parents=True)
    (receiving / "front.mp4").write_bytes(b"x" * 1000)  # being written: fresh, and no record yet
    stale = store.job_dir("abandoned") / "input"
    stale.mkdir(parents=True)
    (stale / "front.mp4").write_bytes(b"x")
    _age(store.job_dir("abandoned"), 3600)
    kept = store.create(Job(id="known", owner="o"))
    store.job_dir(kept.id).mkdir(parents=True, exist_ok=True)
    _age(store.job_dir(kept.id), 3600)
    assert store.cleanup_expired_files() == 1
    assert store.job_dir("inflight").is_dir() and store.job_dir("known").is_dir()
    assert not store.job_dir("abandoned").exists()
    _age(store.job_dir("inflight"), 3600)  # the client went away long ago
    assert store.cleanup_expired_files() == 1 and not store.job_dir("inflight").exists()
