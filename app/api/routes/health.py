"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Annotated

import redis
from fastapi import APIRouter, Header, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.api.deps import SettingsDep, StoreDep
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
    """After a Redis restart the first use of a pooled connection (the job store's, or the broker
    connection the ping goes out on) fails and drops it, and the first ping on the new broker
    connection gets no reply; so a check that fails on a connection error is tried again (Redis once,
    the workers' ping twice, 1 s each). Only a Redis or worker still away answers 503."""
    for attempt in range(2):
        try:
            store.r.ping()
            break
        except redis.RedisError as exc:
            if attempt:
                raise ApiError(503, ErrorCode.UNAVAILABLE, "Redis is not reachable") from exc
    replies: list = []
    tries, reconnected = 1, False
    while tries:
        tries -= 1
        try:
            replies = celery_app.control.ping(timeout=1.0) or []
        except Exception as exc:  # broker errors surface as various kombu exceptions
            if reconnected:
                raise ApiError(503, ErrorCode.UNAVAILABLE, "cannot reach the workers") from exc
            tries, reconnected = 2, True
            continue
        if replies:
            break
    if not replies:
        raise ApiError(503, ErrorCode.UNAVAILABLE, "no worker is answering")
    return {"status": "ready", "workers": len(replies)}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={401: {"description": "METRICS_KEY is set and the request does not carry it"}})
def metrics(store: StoreDep, settings: SettingsDep,
            authorization: Annotated[str | None, Header(description="`Bearer <METRICS_KEY>` when it is set")] = None,
            ) -> Response:
    """Aggregates only (jobs by status, queue lengths, stage seconds, Redis up): no job id, owner or key.
    Open unless `METRICS_KEY` is set; then Prometheus' `authorization` bearer token must be that key."""
    if settings.metrics_key:
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.metrics_key.encode()):
            raise ApiError(401, ErrorCode.UNAUTHORIZED, "/metrics needs 'Authorization: Bearer <METRICS_KEY>'")
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
