"""Run the service stack as local processes — the same services and environment variables as
``docker-compose.yml`` (Redis, the API under uvicorn, a Celery worker, the watchdog), on loopback.

    python -m app.stack [--port 8000] [--redis-port 6379] [--data-dir var/data] [--api-key KEY]

Used by the end-to-end tests and for local trials without Docker. Ctrl-C (SIGINT) or SIGTERM stops
everything it started (uvicorn, the Celery worker, the watchdog, redis-server) within a few seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

#: uvicorn's HTTP protocol: httptools with a deadline on each request head (as in docker/Dockerfile.api).
HTTP_PROTOCOL = "app.core.http_protocol:HeadTimeoutProtocol"
#: uvicorn's idle keep-alive timeout (s), as in docker/Dockerfile.api: longer than the proxy's upstream
#: ``keepalive_timeout`` (60 s in docker/nginx), so the proxy always closes an idle connection first.
KEEP_ALIVE_S = 75
#: How long ``python -m app.stack`` lets its processes stop gracefully on Ctrl-C or SIGTERM before it kills
#: them (s): everything is gone within about this, well inside 5 s.
SHUTDOWN_S = 3.0


@dataclass
class Stack:
    data_dir: Path
    port: int = 8000
    redis_port: int = 6379
    redis_db: int = 0
    start_redis: bool = True
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    #: the Celery app the workers load (``module:attribute``); tests name a module that substitutes the pipeline
    worker_app: str = "worker.celery_app:celery_app"
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/{self.redis_db}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """What docker-compose sets, with loopback addresses."""
        env = dict(os.environ)
        env.update({"REDIS_URL": self.redis_url, "DATA_DIR": str(self.data_dir), "JOB_QUEUE": "cpu"})
        env.update(self.env)
        return env

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log_dir = self.log_dir or self.data_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        out = (log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, env=self.environment(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_redis_server(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        rdir = self.data_dir / "redis"
        rdir.mkdir(parents=True, exist_ok=True)
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(rdir),
                              "--appendonly", "yes", "--save", ""])
        self.wait_redis()

    def wait_redis(self, timeout: float = 15.0) -> None:
        deadline = time.time() + timeout
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=0.5)
        while time.time() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError(f"redis on port {self.redis_port} did not start")

    def stop_redis_server(self) -> None:
        self.stop("redis")

    def start_worker(self, name: str = "worker", concurrency: int = 1) -> subprocess.Popen:
        return self._spawn(name, [sys.executable, "-m", "celery", "-A", self.worker_app, "worker",
                                  "-Q", "cpu,gpu", "-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO"])

    def start_watchdog(self) -> subprocess.Popen:
        """The stale-job and cleanup sweeps (compose's ``watchdog`` service)."""
        return self._spawn("watchdog", [sys.executable, "-m", "worker.watchdog"])

    def start_api(self) -> subprocess.Popen:
        return self._spawn("api", [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                                   "--port", str(self.port), "--log-level", "warning", "--http", HTTP_PROTOCOL,
                                   "--timeout-keep-alive", str(KEEP_ALIVE_S)])

    def wait_http(self, path: str = "/healthz", timeout: float = 30.0, status: int = 200) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if httpx.get(self.base_url + path, timeout=2.0).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.base_url}{path} did not answer {status} within {timeout} s")

    def start(self, workers: int = 1) -> Stack:
        if self.start_redis:
            self.start_redis_server()
        for i in range(workers):
            self.start_worker(f"worker{i}")
        self.start_watchdog()
        self.start_api()
        self.wait_http("/healthz")
        self.wait_http("/readyz", timeout=60.0)
        return self

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def kill(self, name: str) -> None:
        """SIGKILL a process and its children (a crashed worker)."""
        self.stop(name, signal.SIGKILL)

    def close(self, timeout: float = 20.0) -> None:
        """Stop everything started: SIGTERM to every process group at once (the API first, Redis last),
        then SIGKILL to whatever is still running ``timeout`` s later (a Celery worker's warm shutdown
        waits for its job; the reaper re-queues an interrupted one)."""
        live = [(name, self.procs.pop(name)) for name in reversed(list(self.procs))]
        for _, proc in live:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in live:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            with contextlib.suppress(ProcessLookupError, PermissionError):  # what the leader left in its group
                os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> Stack:
        """``with Stack(...) as s:`` starts everything and stops it all on leaving, also when starting fails."""
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--redis-port", type=int, default=6379)
    ap.add_argument("--external-redis", action="store_true", help="use a Redis that is already running")
    ap.add_argument("--data-dir", type=Path, default=Path("var/data"))
    ap.add_argument("--api-key", action="append", default=[], help="accepted API key (repeatable)")
    args = ap.parse_args(argv)
    env = {"API_KEYS": ",".join(args.api_key)} if args.api_key else {"OPEN_MODE": "true"}
    stack = Stack(data_dir=args.data_dir.resolve(), port=args.port, redis_port=args.redis_port,
                  start_redis=not args.external_redis, env=env)

    def terminate(signum: int, _frame: object) -> None:  # a process manager's stop: the same as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        stack.start()
        print(f"API on {stack.base_url} (docs at {stack.base_url}/docs); logs in {stack.data_dir}; Ctrl-C stops")
        while all(p.poll() is None for p in stack.procs.values()):
            time.sleep(1.0)
        print("a service stopped; shutting down", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close(timeout=SHUTDOWN_S)


if __name__ == "__main__":
    raise SystemExit(main())
