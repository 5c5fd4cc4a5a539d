"""The Celery application (configuration only; tasks live in ``worker.tasks``).

Reliability settings: late acknowledgement with ``reject_on_worker_lost`` (a job whose worker dies
is redelivered), one message prefetched per worker process, a Redis visibility timeout longer than
the hard time limit, soft/hard time limits, and separate ``gpu`` and ``cpu`` queues. Jobs whose
worker vanished are also caught by a reaper (``worker.tasks.reap_stale_jobs``) that runs when a
worker starts, on ``GET /jobs/{id}``, and every ``REAP_INTERVAL_S`` (5 s) in the watchdog
(:mod:`worker.watchdog`): with a heartbeat every 2 s and ``STALE_JOB_S`` = 20, a killed worker's job
is queued again within ~25 s, without anyone polling.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from worker.settings import get_settings

settings = get_settings()

celery_app = Celery("kinematics", broker=settings.redis_url, backend=settings.redis_url, include=["worker.tasks"])
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=settings.task_soft_time_limit_s,
    task_time_limit=settings.task_time_limit_s,
    broker_transport_options={"visibility_timeout": settings.task_time_limit_s + 600},
    result_backend_transport_options={"visibility_timeout": settings.task_time_limit_s + 600},
    result_expires=settings.job_ttl_s,
    task_queues=(Queue("cpu"), Queue("gpu")),
    task_default_queue="cpu",
    task_track_started=True,
    broker_connection_retry_on_startup=True,
    worker_send_task_events=False,
)
