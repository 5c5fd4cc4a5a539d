"""Status-poll latency under load against a running service (not a test).

    PYTHONPATH=. python bench/load_poll.py --url http://127.0.0.1:8000 --api-key KEY --front a.mp4 --side b.mp4 \
        [--requests 2000] [--concurrency 16]

Submits one job, then hammers ``GET /jobs/{id}`` from ``--concurrency`` threads and prints p50/p90/p99
latency in milliseconds and the request rate. Without ``--url`` it starts a local stack itself
(private redis-server on port 6391, the stand-in pipeline) and generated videos.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx


def _poll(url: str, key: str, path: str, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10.0) as c:
        for _ in range(n):
            t0 = time.perf_counter()
            r = c.get(path)
            out.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url")
    ap.add_argument("--api-key", default="bench-key")
    ap.add_argument("--front", type=Path)
    ap.add_argument("--side", type=Path)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    stack = None
    tmp = Path(tempfile.mkdtemp(prefix="load-poll-"))
    if args.url is None:
        from app.stack import Stack
        from tests.service.videos import write_video

        stack = Stack(data_dir=tmp, port=8799, redis_port=6391,
                      env={"API_KEYS": args.api_key, "PIPELINE_ENTRYPOINT": "tests.service.slow_pipeline:run"}).start()
        args.url = stack.base_url
        args.front = args.front or write_video(tmp / "a.mp4")
        args.side = args.side or write_video(tmp / "b.mp4")
    try:
        with httpx.Client(base_url=args.url, headers={"X-API-Key": args.api_key}, timeout=60.0) as c:
            files = {name: (p.name, p.read_bytes()) for name, p in (("front", args.front), ("side", args.side))}
            job = c.post("/jobs", files=files).json()
        per = max(args.requests // args.concurrency, 1)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as ex:
            lat = [x for part in ex.map(lambda _: _poll(args.url, args.api_key, f"/jobs/{job['id']}", per),
                                        range(args.concurrency)) for x in part]
        wall = time.perf_counter() - t0
        q = statistics.quantiles(lat, n=100)
        print(f"GET /jobs/{{id}}: {len(lat)} requests, {args.concurrency} concurrent, {len(lat) / wall:.0f} req/s")
        print(f"  latency ms: p50 {q[49]:.1f}  p90 {q[89]:.1f}  p99 {q[98]:.1f}  max {max(lat):.1f}")
    finally:
        if stack is not None:
            stack.close()


if __name__ == "__main__":
    main()
