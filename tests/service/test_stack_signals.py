"""``python -m app.stack`` stops everything it started (uvicorn, the Celery worker, the watchdog,
redis-server) within 5 s, on Ctrl-C (SIGINT) and on a process manager's SIGTERM (issue 42 item 8)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from tests.polling import wait_until
from tests.ports import free_ports

pytestmark = pytest.mark.service

#: The promise: every process the stack started is gone this long after the signal (s).
STOP_WITHIN_S = 5.0


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_stack_stops_everything_it_started(tmp_path, sig):
    port, redis_port = free_ports(2)
    proc = subprocess.Popen([sys.executable, "-m", "app.stack", "--port", str(port), "--redis-port", str(redis_port),
                             "--data-dir", str(tmp_path / "data"), "--api-key", "signal-test-key"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{port}/readyz"), timeout=120.0, interval=0.5,
                   message="the stack did not become ready")
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for part in ("uvicorn", "celery", "redis-server", "worker.watchdog"):
            assert part in names, f"{part} is not among the stack's processes: {names}"
        t0 = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=STOP_WITHIN_S)
        _, alive = psutil.wait_procs(children, timeout=max(STOP_WITHIN_S - (time.monotonic() - t0), 0.0))
        took = time.monotonic() - t0
        assert not alive, f"still running {took:.1f} s after {sig.name}: {[p.cmdline() for p in alive]}"
        assert code == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        print(f"{sig.name}: {len(children)} processes gone after {took:.2f} s")
    finally:
        for p in psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []:
            p.kill()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
