"""Cleanup of job folders without a record, against a real Redis (its own database number)."""

from __future__ import annotations

import os
import time

import pytest
import redis

from worker.jobs import Job, JobStore
from worker.settings import Settings

REDIS_DB = 12


@pytest.fixture
def store(tmp_path):
    settings = Settings(redis_url=f"redis://127.0.0.1:6379/{REDIS_DB}", data_dir=tmp_path, upload_grace_s=60,
                        upload_deadline_s=50)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
    client.flushdb()
    yield JobStore(settings, client)
    client.flushdb()


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
