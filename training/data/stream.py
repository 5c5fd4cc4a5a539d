"""Sequences generated on the fly by worker processes, kept in a ring buffer on the training device.

Each worker (a spawned process, one CPU thread) builds sequences with the synthetic engine from a
:class:`~training.synth.motion_mix.MotionMix` over one split of the motion library and puts them on
a queue; sequence ``i`` uses ``default_rng([seed, i])`` and worker ``w`` of ``W`` makes
``i = w, w + W, ...``, so a given (seed, i) is always the same sequence. The trainer drains the
queue without waiting and writes into a :class:`DeviceBuffer` (the newest ``capacity`` sequences),
from which windows are sampled on the device. Generation speed (``bench/bench_stream.py``): ~0.18 s
per 64-frame sequence per core at 64² masks, the default mixture with the motion library, on this
2-core AMD EPYC (0.34 s before the renderer and FK were batched).

Arrays per sequence as in :mod:`training.data.sequences` (masks already at the network input size).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model_store.sizes import N_BODIES, N_COORDINATES, N_LANDMARKS
from training.data.sequences import SequenceArrays, WindowBatch

_FIELDS = ("masks", "keypoints", "crops", "k", "r", "t", "coords", "scales", "valid")


def make_sequence(seed: int, index: int, frames: int, mask_size: int, mix) -> dict[str, np.ndarray]:
    """One synthetic sequence (rendered, corrupted) as the arrays the network trains on (the shard
    writer's arrays, :func:`training.synth.dataset._sequence_arrays`, with ``valid`` = person in both views)."""
    from training.synth.dataset import _sequence_arrays

    a = _sequence_arrays(np.random.default_rng([seed, index]), frames, None, mask_size, False, mix=mix)
    a["valid"] = a["person_found"].all(-1)
    return {f: a[f] for f in _FIELDS}


def _mix_for(cache: str, split: str, weights: tuple[float, float, float] | None = None):
    """The motion mixture over ``split`` of the library in ``cache`` (none: procedural and random only);
    ``weights`` = (real, procedural, random), default :class:`~training.synth.motion_mix.MixWeights`."""
    from training.motion_library.library import LibraryError, load_library
    from training.synth.motion_mix import MixWeights, MotionMix

    try:
        lib = load_library(Path(cache)).select(split)
    except LibraryError:
        lib = None
    return MotionMix(lib, MixWeights(*weights) if weights is not None else MixWeights())


def _worker(wid: int, workers: int, seed: int, frames: int, mask_size: int, cache: str, split: str,
            out: mp.Queue, stop: EventType, limit: int | None,
            weights: tuple[float, float, float] | None = None) -> None:
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    mix = _mix_for(cache, split, weights)
    i = wid
    while not stop.is_set() and (limit is None or i < limit):
        item = make_sequence(seed, i, frames, mask_size, mix)
        while not stop.is_set():
            try:
                out.put((i, item), timeout=0.5)
                break
            except queue_mod.Full:
                continue
        i += workers
    if stop.is_set():  # exit at once: sequences still waiting for the pipe are not wanted
        out.cancel_join_thread()


#: Thread-pool sizes of the numerical libraries, read once when a process imports them.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Processes started inside get one BLAS/OpenMP thread each: with one worker per core, each
    library's default of one thread per core would put cores x cores threads on the machine. (On the
    16-core H100 host it made little difference: ~26 sequences/s from 14 workers with it, ~22 from
    15 without; what holds them back there is not known yet.)"""
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    os.environ.update({k: "1" for k in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class SequenceStream:
    """Worker processes producing sequences; ``limit`` ends generation after that many sequences."""

    workers: int
    seed: int
    frames: int
    mask_size: int
    cache: Path
    split: str = "train"
    limit: int | None = None
    queue_size: int = 512
    #: (real, procedural, random) probabilities of the motion mixture; None: the default MixWeights
    mix_weights: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._queue = ctx.Queue(self.queue_size)
        self._stop = ctx.Event()
        self._procs = [ctx.Process(target=_worker, daemon=True,
                                   args=(w, self.workers, self.seed, self.frames, self.mask_size, str(self.cache),
                                         self.split, self._queue, self._stop, self.limit, self.mix_weights))
                       for w in range(self.workers)]
        with _single_threaded_children():
            for p in self._procs:
                p.start()
        self.received = 0

    def get(self, timeout: float | None = None) -> dict[str, np.ndarray]:
        """The next sequence (waits up to ``timeout`` s; raises ``queue.Empty``); checks workers live."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                _, item = self._queue.get(timeout=1.0)
                self.received += 1
                return item
            except queue_mod.Empty:
                if not any(p.is_alive() for p in self._procs):
                    raise RuntimeError("all sequence workers have stopped (see their error output above)") from None
                if deadline is not None and time.monotonic() > deadline:
                    raise

    def drain(self, max_items: int) -> list[dict[str, np.ndarray]]:
        """Up to ``max_items`` sequences that are ready now (never waits)."""
        items: list[dict[str, np.ndarray]] = []
        while len(items) < max_items:
            try:
                _, item = self._queue.get_nowait()
            except queue_mod.Empty:
                break
            items.append(item)
        self.received += len(items)
        return items

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock workers waiting on a full queue
            try:
                self._queue.get_nowait()
            except (queue_mod.Empty, OSError, ValueError):
                break
        deadline = time.monotonic() + 5.0  # for all workers together (each finishes its sequence)
        for p in self._procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
        for p in self._procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=1.0)


def collect(items: list[dict[str, np.ndarray]]) -> SequenceArrays:
    """Stack sequences into :class:`SequenceArrays` (for a fixed evaluation set)."""
    return SequenceArrays(**{f: np.stack([it[f] for it in items]) for f in _FIELDS})


def make_set(count: int, timeout: float = 600, **stream_args: Any) -> SequenceArrays:
    """``count`` sequences from a :class:`SequenceStream` of ``stream_args`` (``limit=count``), stacked;
    its workers are stopped afterwards, also on failure."""
    stream = SequenceStream(limit=count, **stream_args)
    try:
        return collect([stream.get(timeout=timeout) for _ in range(count)])
    finally:
        stream.close()


class DeviceBuffer:
    """The newest ``capacity`` sequences on ``device``; windows are sampled without leaving it."""

    def __init__(self, capacity: int, frames: int, mask_size: int, device: torch.device) -> None:
        self.capacity, self.frames, self.device = capacity, frames, device
        z = lambda *shape, dtype=torch.float32: torch.zeros(capacity, *shape, dtype=dtype, device=device)  # noqa: E731
        self.data = {
            "masks": z(frames, 2, mask_size, mask_size, dtype=torch.uint8),
            "keypoints": z(frames, 2, N_LANDMARKS, 3), "crops": z(frames, 2, 3), "k": z(2, 3, 3), "r": z(2, 3, 3),
            "t": z(2, 3), "coords": z(frames, N_COORDINATES), "scales": z(N_BODIES, 3),
            "valid": z(frames, dtype=torch.bool),
        }
        self.size = 0
        self._next = 0

    def add(self, items: list[dict[str, np.ndarray]]) -> None:
        if not items:
            return
        n = len(items)
        pos = (self._next + torch.arange(n)) % self.capacity
        for f, buf in self.data.items():
            arr = torch.from_numpy(np.stack([it[f] for it in items]))
            buf[pos.to(self.device)] = arr.to(self.device, dtype=buf.dtype, non_blocking=True)
        self._next = int((self._next + n) % self.capacity)
        self.size = min(self.capacity, self.size + n)

    def sample(self, gen: torch.Generator, batch: int, length: int) -> WindowBatch:
        """``batch`` random windows of ``length`` frames (masks as float in [0, 1])."""
        if self.size == 0:
            raise RuntimeError("the sequence buffer is empty")
        seq = torch.randint(0, self.size, (batch,), generator=gen, device=self.device)
        start = torch.randint(0, self.frames - length + 1, (batch,), generator=gen, device=self.device)
        frames = start[:, None] + torch.arange(length, device=self.device)[None]
        rows = seq[:, None]
        d = self.data
        return WindowBatch(
            masks=d["masks"][rows, frames].float() / 255.0, keypoints=d["keypoints"][rows, frames],
            crops=d["crops"][rows, frames], k=d["k"][seq], r=d["r"][seq], t=d["t"][seq],
            coords=d["coords"][rows, frames], scales=d["scales"][seq], valid=d["valid"][rows, frames],
        )

    def coords_and_scales(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.data["coords"][: self.size].cpu().numpy(), self.data["scales"][: self.size].cpu().numpy())


__all__ = ["DeviceBuffer", "SequenceStream", "collect", "make_sequence", "make_set"]
