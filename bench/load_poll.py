"""Status-poll latency under load against a running service (not a test).

    PYTHONPATH=. python bench/load_poll.py --url http://127.0.0.1:8000 --api-key KEY --front a.mp4 --side b.mp4 \
        [--requests 2000] [--concurrency 16]

Submits one job, then hammers ``GET /jobs/{id}`` from ``--concurrency`` threads and prints p50/p90/p99
latency in milliseconds and the request rate. Without ``--url`` it starts a local stack itself
(private redis-server on port 6398, the stand-in pipeline) and generated videos.

With ``--upload-mb N`` it also measures polls *while* another client uploads two valid videos of
N/2 MB each (1080p noise, MPEG-4 at the best quality) and the API receives and checks them: the
polls run from the start of that upload until its answer arrives.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
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


def big_video(path: Path, mb: float, fps: int = 30) -> Path:
    """A valid 1920×1080 video of about ``mb`` MB (random noise, MPEG-4 at qscale 1: ~2 MB a frame)."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        s.options = {"qscale": "1"}
        s.codec_context.qmin = s.codec_context.qmax = 1
        n = 0
        while (path.stat().st_size if path.exists() else 0) < mb * 1e6 or n < 2 * fps:
            img = rng.integers(0, 256, (1080, 1920, 3), np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            n += 1
        c.mux(s.encode(None))
    return path


def poll_during_upload(url: str, key: str, job_id: str, front: Path, side: Path) -> None:
    """Poll from one thread while another uploads ``front`` + ``side``; prints the latencies."""
    done = threading.Event()
    answer: dict[str, object] = {}

    def upload() -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=600.0) as c, \
                front.open("rb") as f, side.open("rb") as s:
            t0 = time.perf_counter()
            r = c.post("/jobs", files={"front": (front.name, f), "side": (side.name, s)})
            answer.update(status=r.status_code, seconds=time.perf_counter() - t0, body=r.text[:200])
        done.set()

    lat: list[float] = []
    thread = threading.Thread(target=upload)
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10.0) as c:
        thread.start()
        while not done.is_set():
            t0 = time.perf_counter()
            c.get(f"/jobs/{job_id}").raise_for_status()
            lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)
    thread.join()
    mb = (front.stat().st_size + side.stat().st_size) / 1e6
    q = statistics.quantiles(lat, n=100)
    print(f"during a {mb:.0f} MB upload (answered {answer['status']} after {answer['seconds']:.1f} s): "
          f"{len(lat)} polls, latency ms p50 {q[49]:.1f}  p99 {q[98]:.1f}  max {max(lat):.1f}")
    if answer["status"] != 202:
        print(f"  upload answer: {answer['body']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url")
    ap.add_argument("--api-key", default="bench-key")
    ap.add_argument("--front", type=Path)
    ap.add_argument("--side", type=Path)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--upload-mb", type=float, default=0.0, help="also poll during an upload of this size")
    args = ap.parse_args()
    stack = None
    tmp = Path(tempfile.mkdtemp(prefix="load-poll-"))
    if args.url is None:
        from app.stack import Stack
        from tests.service.videos import write_video

        stack = Stack(data_dir=tmp, port=8799, redis_port=6398, worker_app="tests.service.worker_app:celery_app",
                      env={"API_KEYS": args.api_key, "MAX_UPLOAD_MB": str(int(max(args.upload_mb, 100)))}).start()
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
        if args.upload_mb > 0:
            big = [big_video(tmp / f"big{i}.mp4", args.upload_mb / 2) for i in range(2)]
            poll_during_upload(args.url, args.api_key, job["id"], *big)
    finally:
        if stack is not None:
            stack.close()


if __name__ == "__main__":
    main()
