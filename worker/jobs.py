"""Job records in Redis (status, stage, progress, errors, results) with a TTL, files on disk.

Keys: ``kin:job:<id>`` (hash), ``kin:owner:<owner>`` (sorted set of job ids by creation time),
``kin:stats`` (counters for metrics). Times are UNIX seconds (float). Files live under
``DATA_DIR/jobs/<id>/input`` and ``.../output``; a re-run overwrites its outputs.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import redis
from redis.typing import EncodableT, FieldT

from worker.settings import Settings


class JobStatus(StrEnum):
    """A job's state. ``queued`` → ``running`` → ``succeeded`` | ``failed``; ``canceled`` by the user
    from ``queued`` or ``running`` (and it stays so, whatever the run does after). A running job whose
    worker died goes back to ``queued`` (or ``failed`` with ``worker_lost`` after ``MAX_ATTEMPTS``)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


STATUSES = tuple(JobStatus)
#: States a job can still leave on its own (DELETE cancels these; it deletes the others).
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
#: Final states.
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)
PREFIX = "kin"


@dataclass
class Job:
    id: str
    owner: str
    status: JobStatus = JobStatus.QUEUED
    stage: str | None = None
    progress: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    heartbeat: float | None = None
    worker: str | None = None
    task_id: str | None = None

    def __post_init__(self) -> None:
        self.status = JobStatus(self.status)  # a record read back from Redis holds the plain string

    def to_redis(self) -> dict[FieldT, EncodableT]:
        raw = {k: v for k, v in self.__dict__.items() if v is not None}
        return {k: json.dumps(v) for k, v in raw.items()}

    @classmethod
    def from_redis(cls, data: Mapping[bytes | str, bytes | str]) -> Job:
        fields = {_text(k): v for k, v in data.items()}
        return cls(**{k: json.loads(v) for k, v in fields.items() if k in cls.__dataclass_fields__})


def _text(value: bytes | str) -> str:
    """A Redis reply item as text (the client returns bytes unless built with decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value


def _newest_mtime(folder: Path) -> float:
    """Latest modification time (s since the epoch) of ``folder`` and anything under it."""
    times = [folder.stat().st_mtime]
    for p in folder.rglob("*"):
        try:
            times.append(p.stat().st_mtime)
        except OSError:  # removed meanwhile
            continue
    return max(times)


class JobStore:
    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        self.settings = settings
        self.r = client or redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)

    def _key(self, job_id: str) -> str:
        return f"{PREFIX}:job:{job_id}"

    def job_dir(self, job_id: str) -> Path:
        return self.settings.jobs_dir / job_id

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def create(self, job: Job) -> Job:
        now = time.time()
        job.created_at = job.updated_at = now
        pipe = self.r.pipeline()
        pipe.hset(self._key(job.id), mapping=job.to_redis())
        pipe.expire(self._key(job.id), self.settings.job_ttl_s)
        pipe.zadd(f"{PREFIX}:owner:{job.owner}", {job.id: now})
        pipe.expire(f"{PREFIX}:owner:{job.owner}", self.settings.job_ttl_s)
        pipe.execute()
        return job

    def get(self, job_id: str) -> Job | None:
        data = self.r.hgetall(self._key(job_id))
        return Job.from_redis(data) if data else None

    def update(self, job_id: str, **fields: Any) -> Job | None:
        """Set fields (JSON-encoded). Returns the updated job, or None if it no longer exists."""
        key = self._key(job_id)
        if not self.r.exists(key):
            return None
        fields["updated_at"] = time.time()
        encoded: dict[FieldT, EncodableT] = {k: json.dumps(v) for k, v in fields.items()}
        self.r.hset(key, mapping=encoded)
        return self.get(job_id)

    def list_for_owner(self, owner: str, offset: int = 0, limit: int = 20) -> tuple[list[Job], int]:
        key = f"{PREFIX}:owner:{owner}"
        members = cast("list[bytes]", self.r.zrevrange(key, offset, offset + limit - 1))  # no scores asked
        ids = [_text(i) for i in members]
        jobs = [j for j in (self.get(i) for i in ids) if j is not None]
        return jobs, int(self.r.zcard(key))

    def delete(self, job: Job) -> None:
        pipe = self.r.pipeline()
        pipe.delete(self._key(job.id))
        pipe.zrem(f"{PREFIX}:owner:{job.owner}", job.id)
        pipe.execute()
        shutil.rmtree(self.job_dir(job.id), ignore_errors=True)

    def redis_uptime_s(self) -> float:
        """Seconds since Redis started: a heartbeat is judged stale only once Redis has been up longer
        than ``STALE_JOB_S`` (no worker could write one while it was away)."""
        return float(self.r.info("server").get("uptime_in_seconds", float("inf")))

    def all_ids(self) -> list[str]:
        return [_text(k).rsplit(":", 1)[1] for k in self.r.scan_iter(f"{PREFIX}:job:*", count=500)]

    def count_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for job_id in self.all_ids():
            raw = self.r.hget(self._key(job_id), "status")
            if raw is not None:
                counts[json.loads(raw)] = counts.get(json.loads(raw), 0) + 1
        return counts

    def stats(self) -> dict[str, float]:
        return {_text(k): float(v) for k, v in self.r.hgetall(f"{PREFIX}:stats").items()}

    def record_stage_seconds(self, seconds: dict[str, float]) -> None:
        pipe = self.r.pipeline()
        for stage, s in seconds.items():
            pipe.hincrbyfloat(f"{PREFIX}:stats", f"stage_sum:{stage}", float(s))
            pipe.hincrby(f"{PREFIX}:stats", f"stage_count:{stage}", 1)
        pipe.execute()

    def cleanup_expired_files(self) -> int:
        """Delete job directories without a record (expired, or an upload abandoned) whose newest file
        is older than ``UPLOAD_GRACE_S``: a folder still being uploaded into (its record is written
        only after the upload is checked) is never removed. Returns how many were removed."""
        removed = 0
        if not self.settings.jobs_dir.is_dir():
            return 0
        now = time.time()
        for d in self.settings.jobs_dir.iterdir():
            if not d.is_dir() or self.r.exists(self._key(d.name)):
                continue
            if now - _newest_mtime(d) < self.settings.upload_grace_s:
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
        return removed
