"""The watchdog: one small process that re-queues jobs whose worker died and removes expired files,
on a timer, whatever the job workers are doing.

    python -m worker.watchdog [--once]

It calls the sweeps directly instead of sending them through the job queues: a worker runs one job
at a time (a sweep queued behind a 10-minute job waits 10 minutes) and a GPU-only worker does not
read the ``cpu`` queue at all. Every ``REAP_INTERVAL_S`` (5 s) it re-queues running jobs whose
heartbeat is older than ``STALE_JOB_S`` (20 s; the worker beats every ``HEARTBEAT_S`` = 2 s), so a
killed worker's job is queued again within ~25 s with nobody polling; every hour it removes
expired job folders. Redis being away is logged and retried. Run exactly one (compose: the
``watchdog`` service; ``python -m app.stack`` starts one too).
"""

from __future__ import annotations

import argparse
import logging
import signal
import time
from types import FrameType

import redis

from worker.settings import get_settings
from worker.tasks import cleanup_expired, reap_stale_jobs

log = logging.getLogger("kinematics.watchdog")
CLEANUP_EVERY_S = 3600.0


def sweep_once(cleanup: bool = False) -> dict[str, int]:
    """One sweep: stale jobs re-queued or failed (counts), and expired folders removed if ``cleanup``."""
    counts = reap_stale_jobs()
    if cleanup:
        counts["removed"] = cleanup_expired()
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--once", action="store_true", help="one sweep (and cleanup), then exit")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    stop = False

    def _stop(signum: int, _: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    last_cleanup = 0.0
    log.info("watchdog: stale after %s s, sweeping every %s s", settings.stale_job_s, settings.reap_interval_s)
    while not stop:
        now = time.monotonic()
        cleanup = now - last_cleanup >= CLEANUP_EVERY_S
        try:
            counts = sweep_once(cleanup)
            if cleanup:
                last_cleanup = now
            if any(counts.values()):
                log.info("sweep: %s", counts)
        except redis.RedisError as exc:
            log.warning("sweep skipped, Redis unavailable: %s", exc)
        if args.once:
            return 0
        deadline = time.monotonic() + settings.reap_interval_s
        while not stop and time.monotonic() < deadline:
            time.sleep(min(0.2, settings.reap_interval_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
