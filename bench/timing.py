"""Shared timing helper for the benchmark scripts (run them as ``python bench/<name>.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def mean_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Mean wall time of ``fn`` over ``repeats`` calls, after one warm-up call."""
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats
