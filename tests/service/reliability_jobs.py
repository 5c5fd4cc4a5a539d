"""The reliability cases about jobs: keys and owners, routes, cancel, workers starting and Redis going
away (the harness is :mod:`tests.service.reliability_harness`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import redis

from tests.polling import wait_until
from tests.service import raw_http
from tests.service.reliability_harness import Case, Ctx, Outcome, answer, multipart, post_head, raw
from worker.jobs import PREFIX

# ---- jobs and their lifecycle ----------------------------------------------------------------------------------


def _other_owner(method: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        job_id = ctx.finished_job()
        r = ctx.http.request(method, f"/jobs/{job_id}", headers={"X-API-Key": ctx.other_key})
        ctx.http.delete(f"/jobs/{job_id}")
        return answer(r)
    return act


def _get_path(path: str, key: str | None = "default", method: str = "GET") -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        headers = {} if key == "default" else {"X-API-Key": key or ""}
        return answer(ctx.http.request(method, path, headers=headers))
    return act


def _on_finished_job(path: str, method: str = "GET") -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        job_id = ctx.finished_job()
        r = ctx.http.request(method, f"/jobs/{job_id}{path}")
        ctx.http.delete(f"/jobs/{job_id}")
        return answer(r)
    return act


def _result_of_running_job(ctx: Ctx) -> Outcome:
    r = ctx.post(ctx.videos(), {"offset_frames": "20"})  # 2 s a stage in the stand-in pipeline
    job_id = r.json()["id"]
    ctx.wait(job_id, until=("running",))
    got = ctx.http.get(f"/jobs/{job_id}/results/kinematics.mot")
    ctx.http.delete(f"/jobs/{job_id}")  # cancel
    ctx.http.delete(f"/jobs/{job_id}")  # and delete the record
    return answer(got)


def _downloads_as_documented(path: str) -> Callable[[Ctx], Outcome]:
    """Issue 42 item 5: a download's 200 is documented with the media types it is served with (they were
    documented as ``application/json``); ``path`` is ``results.zip`` or ``results/{name}`` (every result)."""
    def act(ctx: Ctx) -> Outcome:
        spec = ctx.http.get("/openapi.json").json()["paths"][f"/jobs/{{job_id}}/{path}"]["get"]["responses"]
        documented = set(spec["200"]["content"])
        job_id = ctx.finished_job()
        try:
            urls = [f"/jobs/{job_id}/results.zip"] if path == "results.zip" else \
                [r["url"] for r in ctx.http.get(f"/jobs/{job_id}").json()["results"]]
            answers = [ctx.http.get(url) for url in urls]
        finally:
            ctx.http.delete(f"/jobs/{job_id}")
        served = {r.headers["content-type"] for r in answers}
        assert served <= documented and "application/json" not in documented - served, (served, documented)
        return Outcome(max(r.status_code for r in answers), note=f"served {sorted(served)}")
    return act


def _delete_twice(ctx: Ctx) -> Outcome:
    job_id = ctx.finished_job()
    first = ctx.http.delete(f"/jobs/{job_id}")
    assert first.status_code == 204, first.text
    return answer(ctx.http.delete(f"/jobs/{job_id}"))


def _job_outcome(status: int, job: dict) -> Outcome:
    return Outcome(status, job_id=job["id"], job_status=job["status"], job_code=(job.get("error") or {}).get("code"))


def _cancel_running(ctx: Ctx) -> Outcome:
    """Cancel while the task runs; the task ends later and must not overwrite the cancel."""
    job_id = ctx.post(ctx.videos(), {"offset_frames": "10"}).json()["id"]  # 1 s a stage
    ctx.wait(job_id, until=("running",))
    r = ctx.http.delete(f"/jobs/{job_id}")
    ctx.drain()  # the canceled task has ended by now (it stops at its next progress report, or is terminated)
    return _job_outcome(r.status_code, ctx.http.get(f"/jobs/{job_id}").json())


def _cancel_queued(ctx: Ctx) -> Outcome:
    """The one worker is busy; the second job is canceled before it starts, and never runs."""
    busy = ctx.post(ctx.videos(), {"offset_frames": "10"}).json()["id"]
    ctx.wait(busy, until=("running",))
    job_id = ctx.post(ctx.videos()).json()["id"]
    r = ctx.http.delete(f"/jobs/{job_id}")
    ctx.wait(busy)
    ctx.http.delete(f"/jobs/{busy}")
    ctx.drain()  # the worker has taken the canceled job off the queue by now (and must have skipped it)
    job = ctx.http.get(f"/jobs/{job_id}").json()
    assert job["started_at"] is None, f"the canceled job ran: {job}"
    return _job_outcome(r.status_code, job)


#: The trickle that keeps an upload alive while a worker starts: 50 bytes every 0.5 s (the idle timeout is
#: 2 s), for at most 15 s (inside UPLOAD_DEADLINE_S, 20 s; a busy CI machine starts a worker in a few seconds).
TRICKLE_BYTES, TRICKLE_PAUSE_S, TRICKLE_STEPS = 50, 0.5, 30


def _worker_starts_during_upload(ctx: Ctx) -> Outcome:
    """A new worker starts (its start-up cleanup removes job folders without a record) while an upload
    is still arriving; the upload must survive and run."""
    body = multipart([("front", "a.mp4", ctx.media["a"].read_bytes()), ("side", "b.mp4", ctx.media["b"].read_bytes())])
    stack = ctx.stack
    log = stack.data_dir / "worker_extra.log"  # appended to: only what this start writes counts
    log_start = log.stat().st_size if log.exists() else 0

    def worker_ready() -> bool:
        # Celery logs "<name> ready." after the worker_ready handlers, the start-up sweep among them, have run
        return b" ready." in (log.read_bytes()[log_start:] if log.exists() else b"")

    ready = False

    def pieces() -> Iterator[bytes]:
        nonlocal ready
        pos = len(body) // 2
        yield body[:pos]
        stack.start_worker("worker_extra")
        for _ in range(TRICKLE_STEPS):
            ready = worker_ready()
            if ready or pos >= len(body) - TRICKLE_BYTES:
                break
            yield body[pos:pos + TRICKLE_BYTES]  # a trickle (the videos are ~2.4 KB): the upload stays alive
            pos += TRICKLE_BYTES
            raw_http.pace(TRICKLE_PAUSE_S)
        yield body[pos:]

    ans = raw_http.exchange(ctx.port, itertools.chain([post_head(ctx, {"Content-Length": str(len(body))})], pieces()))
    stack.stop("worker_extra")
    assert ready, "the new worker was not ready before the upload ended: the case tested nothing"
    return raw(ans)


def _redis_down(method: str) -> Callable[[Ctx], Outcome]:
    def act(ctx: Ctx) -> Outcome:
        stack = ctx.stack
        stack.stop_redis_server()
        try:
            r = ctx.post(ctx.videos()) if method == "POST" else ctx.http.get("/jobs")
            health = ctx.http.get("/healthz").status_code
        finally:
            stack.start_redis_server()
            stack.wait_http("/readyz", timeout=60.0)
        out = answer(r)
        out.note = f"/healthz {health} while Redis was down"
        return out
    return act


def _worker_log_mark(ctx: Ctx) -> tuple[Path, int]:
    log = ctx.stack.data_dir / "worker0.log"
    return log, log.stat().st_size


def _redis_restarted(ctx: Ctx) -> None:
    """Stop and start Redis (AOF: the records survive), and wait until the worker is connected again."""
    log, start = _worker_log_mark(ctx)
    ctx.stack.stop_redis_server()
    ctx.stack.start_redis_server()
    wait_until(lambda: b"Connected to redis" in log.read_bytes()[start:], timeout=60.0,
               message="the worker did not reconnect to Redis")


def _first_readyz_after_redis_restart(ctx: Ctx) -> Outcome:
    """Issue 42 item 7: once Redis and the worker are back, the very first /readyz answers 200."""
    _redis_restarted(ctx)
    return answer(ctx.http.get("/readyz"))


#: The outage of :func:`_redis_outage_during_job` (s): longer than the suite's STALE_JOB_S (4 s).
OUTAGE_S = 10.0


def _redis_outage_during_job(ctx: Ctx) -> Outcome:
    """Issue 42 item 7: Redis goes away for 10 s while a job runs; the job waits for it, goes on and
    succeeds with its first attempt (MAX_ATTEMPTS is 2: a lost attempt would leave one)."""
    job_id = ctx.post(ctx.videos(), {"offset_frames": "25"}).json()["id"]  # 2.5 s a stage
    ctx.wait(job_id, until=("running",))
    log, start = _worker_log_mark(ctx)
    ctx.stack.stop_redis_server()
    raw_http.pace(OUTAGE_S)  # the outage itself
    ctx.stack.start_redis_server()
    job = ctx.wait(job_id, timeout=120.0)
    attempts = redis.Redis(port=ctx.stack.redis_port, db=13).hget(f"{PREFIX}:job:{job_id}", "attempts")
    assert attempts == b"1", f"the outage cost an attempt: attempts = {attempts!r}"
    out = _job_outcome(202, job)
    out.note = f"attempts {attempts!r}; worker log after the outage: {len(log.read_bytes()) - start} bytes"
    return out


def _metrics_without_a_key(ctx: Ctx) -> Outcome:
    """Issue 42 item 7, decided: /metrics answers without a key (aggregates only) unless METRICS_KEY is set."""
    r = ctx.http.get("/metrics", headers={"X-API-Key": ""})
    assert b"kinematics_jobs" in r.content and ctx.key.encode() not in r.content
    return answer(r)


# ---- the cases -------------------------------------------------------------------------------------------------

ACCESS_CASES: list[Case] = [
    Case("access", "no API key", lambda c: answer(c.post(c.videos(), key=None)), 401, "unauthorized"),
    Case("access", "wrong API key", _get_path("/jobs", key="wrong-key"), 401, "unauthorized"),
    Case("access", "another key's job: GET", _other_owner("GET"), 404, "not_found"),
    Case("access", "another key's job: DELETE", _other_owner("DELETE"), 404, "not_found"),
    Case("access", "unknown job id", _get_path("/jobs/0123456789abcdef"), 404, "not_found"),
    Case("access", "job id with ../", _get_path("/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "not_found"),
    Case("access", "result name with ../", _on_finished_job("/results/..%2F..%2Finput%2Ffront.mp4"), 404,
         "not_found"),
    Case("access", "unknown result name", _on_finished_job("/results/kinematics.sto"), 404, "not_found"),
    Case("access", "result of a running job", _result_of_running_job, 404, "not_found"),
    Case("access", "delete a deleted job", _delete_twice, 404, "not_found"),
    Case("access", "GET /metrics without a key (METRICS_KEY unset)", _metrics_without_a_key, 200),
]

ROUTE_CASES: list[Case] = [
    Case("routes", "GET /jobs?limit=1000", _get_path("/jobs?limit=1000"), 422, "invalid_request"),
    Case("routes", "GET /jobs?offset=10^20", _get_path("/jobs?offset=100000000000000000000"), 422, "invalid_request"),
    Case("routes", "GET /jobs?offset=-1", _get_path("/jobs?offset=-1"), 422, "invalid_request"),
    Case("routes", "GET /jobs?limit=abc", _get_path("/jobs?limit=abc"), 422, "invalid_request"),
    Case("routes", "PUT /jobs", _get_path("/jobs", method="PUT"), 405, "method_not_allowed"),
    Case("routes", "PATCH /jobs/{id}", _on_finished_job("", method="PATCH"), 405, "method_not_allowed"),
    Case("routes", "unknown route", _get_path("/admin"), 404, "not_found"),
    Case("routes", "GET results.zip: application/zip as the spec says", _downloads_as_documented("results.zip"), 200),
    Case("routes", "GET results/{name}: each file's media type as the spec says",
         _downloads_as_documented("results/{name}"), 200),
]

LIFECYCLE_CASES: list[Case] = [
    Case("lifecycle", "cancel a running job", _cancel_running, 200, job="canceled"),
    Case("lifecycle", "cancel a queued job", _cancel_queued, 200, job="canceled"),
    Case("lifecycle", "a worker starts while an upload arrives", _worker_starts_during_upload, 202, job="succeeded"),
    Case("lifecycle", "Redis down: POST /jobs", _redis_down("POST"), 503, "unavailable"),
    Case("lifecycle", "Redis down: GET /jobs", _redis_down("GET"), 503, "unavailable"),
    Case("lifecycle", "first /readyz after a Redis restart", _first_readyz_after_redis_restart, 200),
    Case("lifecycle", "Redis down 10 s during a job (no attempt lost)", _redis_outage_during_job, 202,
         job="succeeded"),
]
