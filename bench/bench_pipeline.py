"""End-to-end speed and memory of the pipeline on long two-view clips made from real footage, for
the CLI and for one job through the service (uvicorn + Celery worker + Redis as local processes).

    .venv/bin/python bench/bench_pipeline.py [--seconds 10 120] [--service] [--front F --side S ...]

Clips: the shared Pose2Sim demo pair (1080×1920, 60 fps) played forwards and backwards
(:mod:`bench.long_clip`), cached in ``out/bench/clipN``. For each run it prints the wall time, the
seconds of every pipeline stage (``summary.json``), frame pairs per second, and the peak resident
memory of the whole process tree (the CLI or the Celery worker, with the detection processes),
sampled every 50 ms with psutil. Also prints the network's ms per frame pair (untrained weights,
same graph) for the shipped config beside the ``paper`` config.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.long_clip import make_clip
from model_store.network import KinematicsNet, find_checkpoint, get_config
from model_store.network.onnx_export import example_inputs

ROOT = Path(__file__).resolve().parents[1]


class TreeMemory:
    """Peak resident set size (bytes) of a process and all its descendants, summed, sampled in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [self.root, *self.root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.interval_s)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def network_ms(name: str, frames: int) -> float:
    cfg = get_config(name, window=max(get_config(name).window, frames))
    net = KinematicsNet(cfg).eval()
    inp = example_inputs(net, frames=frames)
    with torch.no_grad():
        net(inp)
        t0 = time.perf_counter()
        net(inp)
    return (time.perf_counter() - t0) / frames * 1000


def _print_run(label: str, wall: float, peak: int, summary: dict) -> None:
    n = summary["frames"]
    print(f"{label}: {n} frame pairs, {wall:.1f} s end to end ({n / wall:.1f} frame pairs/s), "
          f"peak RSS {peak / 2**30:.2f} GiB (process tree)")
    for stage, sec in summary["stage_seconds"].items():
        print(f"    {stage:12s} {sec:7.2f} s")
    by_view = summary.get("detect_seconds_by_view") or {}
    if by_view:
        print("    detect by view (decode inside / wall): " + ", ".join(
            f"{v} {by_view[f'{v}_decode']:.1f}/{by_view[f'{v}_wall']:.1f} s" for v in ("front", "side")))


def run_cli(clip: dict[str, Path], out: Path, cameras: tuple[str, str]) -> tuple[float, int, dict]:
    cmd = [str(Path(sys.executable).with_name("kinematics-estimate")), "--front", str(clip["front"]),
           "--side", str(clip["side"]), "--calibration", str(clip["calibration"]), "--front-camera", cameras[0],
           "--side-camera", cameras[1], "--out", str(out), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with TreeMemory(proc.pid) as mem:
        _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the CLI failed: {err.decode()[-2000:]}")
    return wall, mem.peak, json.loads((out / "summary.json").read_text())


def run_service(clip: dict[str, Path], tmp: Path, cameras: tuple[str, str]) -> tuple[float, int, dict]:
    from app.stack import Stack

    key = "bench-key"
    stack = Stack(data_dir=tmp / "stack", port=8779, redis_port=6399, env={"API_KEYS": key, "MAX_UPLOAD_MB": "2000"})
    try:
        stack.start()
        worker = stack.procs["worker0"]
        with httpx.Client(base_url=stack.base_url, headers={"X-API-Key": key}, timeout=120.0) as c:
            files = {"front": ("front.mp4", clip["front"].read_bytes(), "video/mp4"),
                     "side": ("side.mp4", clip["side"].read_bytes(), "video/mp4"),
                     "calibration": ("calibration.toml", clip["calibration"].read_bytes(), "application/toml")}
            with TreeMemory(worker.pid) as mem:
                t0 = time.perf_counter()
                r = c.post("/jobs", files=files, data={"front_camera": cameras[0], "side_camera": cameras[1]})
                r.raise_for_status()
                job_id = r.json()["id"]
                while (job := c.get(f"/jobs/{job_id}").json())["status"] not in ("succeeded", "failed", "canceled"):
                    time.sleep(0.2)
                wall = time.perf_counter() - t0
            if job["status"] != "succeeded":
                raise SystemExit(f"the job ended {job['status']}: {job.get('error')}")
            return wall, mem.peak, c.get(f"/jobs/{job_id}/results/summary.json").json()
    finally:
        stack.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, nargs="+", default=[10.0], help="clip lengths to make and run")
    ap.add_argument("--service", action="store_true", help="also run one job per clip through the service")
    ap.add_argument("--front", type=Path, help="your own front video instead of the made clips")
    ap.add_argument("--side", type=Path)
    ap.add_argument("--calibration", type=Path)
    ap.add_argument("--cameras", nargs=2, default=("cam01", "cam04"), metavar=("FRONT", "SIDE"))
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPU cores; torch threads {torch.get_num_threads()}")
    clips = ([("custom", {"front": args.front, "side": args.side, "calibration": args.calibration})] if args.front
             else [(f"{s:g} s clip", make_clip(s, ROOT / "out" / "bench" / f"clip{s:g}")) for s in args.seconds])
    with tempfile.TemporaryDirectory() as tmp:
        for label, clip in clips:
            wall, peak, summary = run_cli(clip, Path(tmp) / label.replace(" ", "_"), tuple(args.cameras))
            _print_run(f"CLI, {label}", wall, peak, summary)
            if args.service:
                wall, peak, summary = run_service(clip, Path(tmp), tuple(args.cameras))
                _print_run(f"service job (upload → succeeded), {label}", wall, peak, summary)
    ours = find_checkpoint().config.name
    print("network inference (torch, untrained weights, same graph), ms per frame pair:")
    print(f"  {ours:6s} (shipped) {network_ms(ours, get_config(ours).window):8.1f}")
    print(f"  paper            {network_ms('paper', 2):8.1f}   (2-frame window on CPU)")


if __name__ == "__main__":
    main()
