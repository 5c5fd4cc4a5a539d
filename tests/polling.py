"""Waiting for something to become true in a test: poll it, never sleep a guessed time.

``wait_until(predicate)`` calls ``predicate`` every ``interval`` seconds until it returns something
truthy, and returns that value; after ``timeout`` seconds it raises :class:`AssertionError` with
``message`` (a string, or a function called then, so it can show the last state seen). A timeout is
a bound on a busy machine, not a speed requirement: make it generous.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.1,
               message: str | Callable[[], str] | None = None) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = (message() if callable(message) else message) or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"{text} (not true after {timeout:g} s)")
        time.sleep(interval)  # the poll interval of this helper (it re-checks the predicate), not a guessed wait
