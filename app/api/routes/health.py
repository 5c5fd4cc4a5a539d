"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.api.deps import StoreDep
from app.core.errors import ApiError
from worker.celery_app import celery_app
from worker.errors import ErrorCode

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The API process is alive")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Redis reachable and at least one worker answering",
            responses={503: {"description": "not ready"}})
def readyz(store: StoreDep) -> dict:
    try:
        store.r.ping()
    except redis.RedisError as exc:
        raise ApiError(503, ErrorCode.UNAVAILABLE, "Redis is not reachable") from exc
    try:
        replies = celery_app.control.ping(timeout=1.0) or []
    except Exception as exc:  # broker errors surface as various kombu exceptions
        raise ApiError(503, ErrorCode.UNAVAILABLE, "cannot reach the workers") from exc
    if not replies:
        raise ApiError(503, ErrorCode.UNAVAILABLE, "no worker is answering")
    return {"status": "ready", "workers": len(replies)}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(store: StoreDep) -> Response:
    reg = CollectorRegistry()
    jobs = Gauge("kinematics_jobs", "Jobs by status", ["status"], registry=reg)
    queue = Gauge("kinematics_queue_length", "Messages waiting per queue", ["queue"], registry=reg)
    stage_sum = Gauge("kinematics_stage_seconds_sum", "Total seconds spent per stage", ["stage"], registry=reg)
    stage_count = Gauge("kinematics_stage_seconds_count", "Stage executions", ["stage"], registry=reg)
    up = Gauge("kinematics_redis_up", "Redis reachable", registry=reg)
    try:
        for status, n in store.count_by_status().items():
            jobs.labels(status).set(n)
        for q in ("cpu", "gpu"):
            queue.labels(q).set(store.r.llen(q))
        for key, value in store.stats().items():
            kind, _, stage = key.partition(":")
            (stage_sum if kind == "stage_sum" else stage_count).labels(stage).set(value)
        up.set(1)
    except redis.RedisError:
        up.set(0)
    return Response(generate_latest(reg), media_type=CONTENT_TYPE_LATEST)
