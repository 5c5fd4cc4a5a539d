"""Celery tasks: one task per job (``kinematics.run_job``), the stale-job reaper and file cleanup.

The task receives only the job id and re-reads everything from the job record (idempotent: its
outputs go to ``DATA_DIR/jobs/<id>/output`` and a re-run overwrites them). While it runs, a
heartbeat thread refreshes the record; a job whose heartbeat stops (worker killed) is re-queued by
the reaper, or failed with ``worker_lost`` once ``MAX_ATTEMPTS`` starts have been used.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import redis
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready

from worker import pipeline
from worker.celery_app import celery_app
from worker.errors import ErrorCode
from worker.jobs import FINISHED, Job, JobStatus, JobStore
from worker.params import JobParams
from worker.pipeline.contract import PipelineError, PipelineRequest
from worker.settings import get_settings

log = logging.getLogger(__name__)
TASK_NAME = "kinematics.run_job"
T = TypeVar("T")


class JobCanceled(Exception):
    """Raised from the progress callback when the job was canceled or deleted while it ran."""


def _store() -> JobStore:
    return JobStore(get_settings())


def enqueue(job_id: str) -> str:
    """Queue the job's task; returns the Celery task id (kept in the record for cancellation)."""
    task_id = celery_app.send_task(TASK_NAME, args=[job_id], queue=get_settings().job_queue).id
    _store().update(job_id, task_id=task_id)
    return task_id


def _request(job: Job, job_dir: Path) -> PipelineRequest:
    return JobParams.model_validate(job.params).request(job_dir)


class _Heartbeat(threading.Thread):
    def __init__(self, store: JobStore, job_id: str, period: float) -> None:
        super().__init__(daemon=True)
        self.store, self.job_id, self.period = store, job_id, period
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            with contextlib.suppress(redis.RedisError):
                self.store.r.hset(f"kin:job:{self.job_id}", "heartbeat", str(time.time()))


def _patient(call: Callable[[], T], wait_s: float) -> T:
    """``call()``, waiting out a Redis outage of up to ``wait_s`` (then its error is raised): a running
    job goes on when Redis is back instead of failing its task (which would cost one of its
    ``MAX_ATTEMPTS`` when it is started again)."""
    deadline = time.monotonic() + wait_s
    pause = 0.25
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(pause)  # the outage's pace: Redis is polled until it answers
            pause = min(pause * 2, 2.0)


@celery_app.task(name=TASK_NAME, bind=True, autoretry_for=(redis.ConnectionError, redis.TimeoutError),
                 retry_backoff=2, max_retries=5)
def run_job(self: Any, job_id: str) -> str:
    settings = get_settings()
    store = _store()
    job = store.get(job_id)
    if job is None or job.status in FINISHED:
        return "skipped"
    # a retry of this task after Redis stayed away longer than REDIS_OUTAGE_S goes on with the same attempt
    retry = bool(getattr(self.request, "retries", 0)) and job.status == JobStatus.RUNNING
    if not retry and job.status == JobStatus.RUNNING and job.heartbeat and \
            time.time() - job.heartbeat < settings.stale_job_s:
        return "skipped"  # another worker is on it (a redelivered duplicate)
    if not retry and job.attempts >= settings.max_attempts:
        store.update(job_id, status=JobStatus.FAILED, error_code=ErrorCode.WORKER_LOST, finished_at=time.time(),
                     error_message="the job's worker stopped repeatedly; please resubmit")
        return "failed"
    store.update(job_id, status=JobStatus.RUNNING, stage=None, progress=0.0, started_at=time.time(),
                 heartbeat=time.time(), attempts=job.attempts + (0 if retry else 1), worker=socket.gethostname(),
                 error_code=None, error_message=None)
    wait = settings.redis_outage_s
    beat = _Heartbeat(store, job_id, settings.heartbeat_s)
    beat.start()

    def progress(stage: str, fraction: float) -> None:
        from worker.pipeline.contract import STAGES

        current = _patient(lambda: store.get(job_id), wait)
        if current is None or current.status == JobStatus.CANCELED:
            raise JobCanceled(job_id)  # stop at the next progress report; the record stays as the user left it
        done = STAGES.index(stage) if stage in STAGES else 0
        _patient(lambda: store.update(job_id, stage=stage, progress=round((done + fraction) / len(STAGES), 4),
                                      heartbeat=time.time()), wait)

    def fail(code: str, message: str) -> str:
        current = _patient(lambda: store.get(job_id), wait)
        if current is None or current.status == JobStatus.CANCELED:  # cancel wins over anything the run did after it
            return "canceled"
        _patient(lambda: store.update(job_id, status=JobStatus.FAILED, error_code=code, error_message=message,
                                      finished_at=time.time()), wait)
        return "failed"

    try:
        # looked up on the package at call time (it loads the network's libraries on first use)
        result = pipeline.run_pipeline(_request(job, store.job_dir(job_id)), progress)
    except JobCanceled:
        return "canceled"
    except PipelineError as exc:
        return fail(exc.code, exc.message)
    except SoftTimeLimitExceeded:
        return fail("timeout", f"the job took longer than {settings.task_soft_time_limit_s} s")
    except (redis.ConnectionError, redis.TimeoutError):
        raise
    except Exception as exc:  # unexpected: record a reason the user can report
        log.exception("job %s failed", job_id)
        return fail("internal", f"internal error ({exc.__class__.__name__}); the team has the details")
    finally:
        beat.stop_event.set()
    current = _patient(lambda: store.get(job_id), wait)
    if current is None or current.status == JobStatus.CANCELED:
        return "canceled"
    out = Path(result.out_dir)
    files = [{"name": f, "size": (out / f).stat().st_size} for f in result.files if (out / f).is_file()]
    _patient(lambda: store.record_stage_seconds(result.summary.get("stage_seconds", {})), wait)
    _patient(lambda: store.update(job_id, status=JobStatus.SUCCEEDED, stage=None, progress=1.0, results=files,
                                  finished_at=time.time()), wait)
    return "succeeded"


def reap_job(store: JobStore, job: Job) -> str | None:
    """Re-queue (or fail) a running job whose heartbeat is stale; returns the action taken."""
    settings = store.settings
    if job.status != JobStatus.RUNNING or job.heartbeat is None or time.time() - job.heartbeat < settings.stale_job_s:
        return None
    if store.redis_uptime_s() < settings.stale_job_s:  # Redis was just (re)started: no beat could be written
        return None
    if job.attempts >= settings.max_attempts:
        store.update(job.id, status=JobStatus.FAILED, error_code=ErrorCode.WORKER_LOST, finished_at=time.time(),
                     error_message="the worker processing this job stopped; please resubmit")
        return "failed"
    store.update(job.id, status=JobStatus.QUEUED, stage=None, progress=0.0, heartbeat=None)
    enqueue(job.id)
    return "requeued"


@celery_app.task(name="kinematics.reap_stale_jobs")
def reap_stale_jobs() -> dict[str, int]:
    store = _store()
    counts = {"requeued": 0, "failed": 0}
    for job_id in store.all_ids():
        job = store.get(job_id)
        action = reap_job(store, job) if job else None
        if action:
            counts[action] += 1
    return counts


@celery_app.task(name="kinematics.cleanup_expired")
def cleanup_expired() -> int:
    return _store().cleanup_expired_files()


@worker_ready.connect
def _on_worker_ready(**_: Any) -> None:
    try:
        log.info("reaper on start-up: %s", reap_stale_jobs())
        cleanup_expired()
    except redis.RedisError as exc:
        log.warning("reaper skipped: %s", exc)
