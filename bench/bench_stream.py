"""Training-data rate: what this machine's CPUs are, how long one synthetic sequence takes on one core,
and how many sequences per second :class:`~training.data.stream.SequenceStream` delivers with W workers.

A probe for the GPU host, where the data workers, not the GPU, bound training (14 workers made ~26
sequences/s there, well under 14 × one core's rate): run it there first to see whether the cores are
slow, shared (hyperthreads, a cgroup quota) or busy. Needs neither OpenSim nor MediaPipe; uses the
motion library in ``--cache`` when it is built (procedural and random motion only otherwise).

Usage: ``.venv/bin/python bench/bench_stream.py [--sequences 12] [--workers 1,2] [--seconds 20]
[--cpu-only]`` (``--cpu-only``: the CPU lines alone, at once; ``scripts/gpu_train.sh`` prints them).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_report() -> list[str]:
    """Lines describing the CPUs this process may use: count, affinity, cgroup quota, model, SMT."""
    lines = [f"python {platform.python_version()} on {platform.machine()}"]
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    lines.append(f"os.cpu_count {os.cpu_count()}, usable by this process (affinity) {affinity}")
    quota = _read("/sys/fs/cgroup/cpu.max")  # cgroup v2: "max 100000" or "QUOTA PERIOD"
    if quota is None:  # cgroup v1
        q, p = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        quota = f"{q} {p}" if q is not None and p is not None else None
    if quota is not None:
        q, _, p = quota.partition(" ")
        cpus = "no limit" if q in ("max", "-1") else f"{int(q) / int(p):.1f} CPUs"
        lines.append(f"cgroup CPU quota: {quota} ({cpus})")
    else:
        lines.append("cgroup CPU quota: not readable")
    info = _read("/proc/cpuinfo") or ""
    models = {ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")}
    lines.append(f"CPU model: {', '.join(sorted(models)) or 'unknown'}")
    siblings = _read("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
    if siblings is not None:
        n = sum(int(b) - int(a) + 1 if b else 1
                for a, _, b in (part.partition("-") for part in siblings.split(",") if part))
        lines.append(f"hardware threads on cpu0's core: {siblings} ({'hyperthreads' if n > 1 else 'no SMT'})")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load is not None:
        lines.append(f"load average now: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return lines


def time_sequences(n: int, frames: int, mask_size: int, cache: Path) -> tuple[list[float], bool]:
    """Seconds per :func:`~training.data.stream.make_sequence` in this process (one thread), and whether
    the motion library was found."""
    import cv2
    import torch

    from training.data.stream import _mix_for, make_sequence

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    mix = _mix_for(str(cache), "train")
    make_sequence(0, 10_000, frames, mask_size, mix)  # warm-up: imports, caches
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        make_sequence(0, i, frames, mask_size, mix)
        times.append(time.perf_counter() - t0)
    return times, mix.library is not None


def stream_rate(workers: int, seconds: float, frames: int, mask_size: int, cache: Path) -> tuple[float, float]:
    """(sequences/s delivered by a :class:`~training.data.stream.SequenceStream` of ``workers`` over
    ``seconds`` after each worker's start-up, seconds until the first sequence)."""
    from training.data.stream import SequenceStream

    t_start = time.perf_counter()
    stream = SequenceStream(workers=workers, seed=0, frames=frames, mask_size=mask_size, cache=cache)
    try:
        stream.get(timeout=300)
        first = time.perf_counter() - t_start
        for _ in range(workers - 1):  # every worker has started (imports done) before timing
            stream.get(timeout=300)
        n0, t0 = stream.received, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            stream.get(timeout=300)
        return (stream.received - n0) / (time.perf_counter() - t0), first
    finally:
        stream.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", type=int, default=12, help="sequences timed in this process")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for the stream")
    ap.add_argument("--seconds", type=float, default=20.0, help="stream measuring time per worker count")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--mask-size", type=int, default=64)
    ap.add_argument("--cache", type=Path, default=Path("data_cache"))
    ap.add_argument("--cpu-only", action="store_true", help="print the CPU lines and stop")
    args = ap.parse_args()
    for line in cpu_report():
        print(line)
    if args.cpu_only:
        return
    times, has_library = time_sequences(args.sequences, args.frames, args.mask_size, args.cache)
    per = statistics.median(times)
    source = "library + procedural + random" if has_library else "procedural + random (no library found)"
    print(f"make_sequence, one thread, {args.frames} frames, {args.mask_size}² masks, motions {source}:")
    print(f"  median {per:.3f} s, min {min(times):.3f} s, max {max(times):.3f} s per sequence "
          f"({len(times)} sequences) → {1 / per:.1f} sequences/s per core")
    for w in (int(x) for x in args.workers.split(",") if x.strip()):
        rate, first = stream_rate(w, args.seconds, args.frames, args.mask_size, args.cache)
        print(f"  stream, {w:2d} workers: {rate:5.1f} sequences/s over {args.seconds:.0f} s "
              f"({rate / (w / per):.0%} of {w} × one core's rate; first sequence after {first:.1f} s)")


if __name__ == "__main__":
    main()
