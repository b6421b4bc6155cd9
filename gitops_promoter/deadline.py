"""A deadline for the work of one thread (one app's reconcile), seen by every adapter below it.

`reconcile` sets it (`state.app_deadline`); `adapters.retry.retrying` does not start a wait that
would end past it, git's network commands are cut at it, and `reconcile` starts no new stage once
it has passed. Work stopped this way is a transient error: the next pass tries again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_pass = threading.local()


@contextmanager
def deadline(seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """This thread's work must be done `seconds` from now. Nested deadlines keep the sooner one."""
    before, before_clock = getattr(_pass, "at", None), getattr(_pass, "clock", None)
    at = clock() + seconds
    _pass.at = at if before is None else min(at, before)
    _pass.clock = clock
    try:
        yield
    finally:
        _pass.at, _pass.clock = before, before_clock


def left() -> float | None:
    """Seconds before this thread's deadline (negative once passed), or None without one."""
    at = getattr(_pass, "at", None)
    return None if at is None else at - _pass.clock()


def passed() -> bool:
    remaining = left()
    return remaining is not None and remaining < 0
