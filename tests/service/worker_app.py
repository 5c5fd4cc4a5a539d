"""Test-only Celery app module: the real worker (``worker.celery_app`` + ``worker.tasks``) with the
stand-in pipeline (:mod:`tests.service.slow_pipeline`) in place of ``worker.pipeline.run_pipeline``.

Service tests start their workers with ``celery -A tests.service.worker_app:celery_app worker``
(``Stack(worker_app=STAND_IN_WORKER)``); the substitution happens on import, before Celery forks
its pool processes, so every job in those workers runs the stand-in. Production configuration has no
way to swap the pipeline.
"""

from __future__ import annotations

import worker.pipeline
import worker.tasks  # the task module (imported here so the substitution below is in place first)
from tests.service import slow_pipeline
from worker.celery_app import celery_app

worker.pipeline.run_pipeline = slow_pipeline.run  # type: ignore[assignment]  # the substitution this module exists for

__all__ = ["celery_app"]
