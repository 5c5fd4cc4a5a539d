"""Recovery after a worker dies, with the deployment's default timings: prints seconds from SIGKILL of
the worker running a job to the job running again on another worker, and to its success; nobody polls.

    PYTHONPATH=. .venv/bin/python bench/recovery.py [--runs 2]

Runs the real stack as processes (Redis on 6396, API on 8791, Celery workers, the watchdog) with the
stand-in pipeline of the service tests (``tests/service/worker_app.py``: about 6 s a job), and the
defaults of ``worker/settings.py`` for HEARTBEAT_S, STALE_JOB_S and REAP_INTERVAL_S.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
import redis

from app.stack import Stack
from tests.service.conftest import STAND_IN_WORKER
from tests.service.videos import write_video
from worker.settings import Settings


def one_run(stack: Stack, video: Path, key: str) -> tuple[float, float]:
    http = httpx.Client(base_url=stack.base_url, headers={"X-API-Key": key}, timeout=30)
    files = {"front": ("a.mp4", video.read_bytes()), "side": ("b.mp4", video.read_bytes())}
    job_id = http.post("/jobs", files=files, data={"offset_frames": "10"}).json()["id"]  # ~1 s a stage
    r = redis.Redis.from_url(stack.redis_url)

    def fields() -> dict:
        return {k.decode(): json.loads(v) for k, v in r.hgetall(f"kin:job:{job_id}").items()}

    while fields().get("status") != "running":
        time.sleep(0.1)
    time.sleep(1.0)
    victim = next(name for name in stack.procs if name.startswith("worker"))
    stack.kill(victim)
    killed = time.time()
    stack.start_worker(f"{victim}_next")
    resumed = None
    while time.time() - killed < 180:
        f = fields()
        if resumed is None and f.get("attempts") == 2 and f.get("status") == "running":
            resumed = time.time() - killed
        if f.get("status") in ("succeeded", "failed"):
            assert f["status"] == "succeeded", f
            return resumed or float("nan"), time.time() - killed
        time.sleep(0.1)
    raise RuntimeError("the job did not finish within 180 s of the kill")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    d = Settings()
    print(f"defaults: HEARTBEAT_S={d.heartbeat_s} STALE_JOB_S={d.stale_job_s} REAP_INTERVAL_S={d.reap_interval_s}")
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "a.mp4", 1.0)
        key = "bench-key"
        stack = Stack(data_dir=Path(tmp) / "data", port=8791, redis_port=6396, redis_db=0,
                      env={"API_KEYS": key}, worker_app=STAND_IN_WORKER)
        with stack:
            for i in range(args.runs):
                resumed, done = one_run(stack, video, key)
                print(f"run {i + 1}: kill → running again {resumed:.1f} s, → succeeded {done:.1f} s")


if __name__ == "__main__":
    main()
