"""Retries for every adapter: one loop (`retrying`), backoff with jitter, Retry-After, and a
per-endpoint request rate limit. Clock and sleep are injected.

Inside one call the promoter honours a server's Retry-After up to a cap (`WAIT_CAP`, 60 s, summed
over the call's tries): a server that asks for longer (`Retry-After: 100000`) is not slept on; the
call gives up at once with a TransientError that says what the server asked and carries it as
`retry_after`, and the scheduler requeues the work (its own cap applies) instead of a thread
sleeping for minutes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

from gitops_promoter.deadline import left
from gitops_promoter.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The longest a far side's Retry-After may hold one call (summed over its tries), in seconds;
#: longer waits go back to the scheduler. Adapters may pass their own (`wait_cap`).
WAIT_CAP = 60.0


class Retry(Exception):  # noqa: N818 - a signal inside `retrying`, never seen outside an adapter
    """Raised by one attempt: a transient failure worth another try (after `wait`, when the far
    side said so). `retrying` hands `give_up` one with `over_cap` set when it stopped because the
    far side asked to wait longer than the cap, not because the tries ran out."""

    def __init__(self, detail: str, *, wait: float | None = None, status: int | None = None,
                 over_cap: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.wait, self.status, self.over_cap = detail, wait, status, over_cap


def retrying(attempt: Callable[[], T], *, attempts: int, backoff: Backoff, what: str,
             give_up: Callable[[Retry, int], TransientError], sleep: Callable[[float], None] = time.sleep,
             wait_cap: float = WAIT_CAP) -> T:
    """Call `attempt` until it returns, at most `attempts` times, sleeping between tries (the far
    side's Retry-After when it gave one, else backoff with jitter). Other exceptions pass through.
    When tries run out, raise `give_up(last, tries)`. When the far side asks for a wait that would
    take this call's Retry-After waiting past `wait_cap`, do not sleep: raise `give_up` at once with
    a Retry saying what was asked (`over_cap`). Either way the error's `retry_after` is the far
    side's wish, for the scheduler."""
    asked = 0.0  # seconds slept this call because the far side said so
    for n in range(1, attempts + 1):
        try:
            return attempt()
        except Retry as failure:
            delay = failure.wait if failure.wait is not None else backoff.delay(n - 1)
            remaining = left()
            if failure.wait is not None and asked + failure.wait > wait_cap:
                error = give_up(_over_cap(failure, asked=asked, cap=wait_cap), n)
            elif n >= attempts:
                error = give_up(failure, n)
            elif remaining is not None and delay > remaining:
                error = give_up(Retry(f"{failure.detail}; no time for another try before the app's pass deadline",
                                      wait=failure.wait, status=failure.status), n)
            else:
                if failure.wait is not None:
                    asked += delay
                log.warning("%s: %s; retrying in %.2fs", what, failure.detail, delay)
                sleep(delay)
                continue
            error.retry_after = failure.wait
            raise error from None
    raise AssertionError("attempts must be at least 1")


def _over_cap(failure: Retry, *, asked: float, cap: float) -> Retry:
    already = f" after {seconds(asked)} s already" if asked else ""
    detail = (f"{failure.detail}; asked to wait {seconds(failure.wait or 0.0)} s (Retry-After){already}, "
              f"above the {seconds(cap)} s cap; trying again next pass")
    return Retry(detail, wait=failure.wait, status=failure.status, over_cap=True)


def seconds(value: float) -> str:
    """A number of seconds for a message: `100000`, `0.5`."""
    return f"{value:.10g}"


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**n, capped."""

    base: float = 0.2
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(self.base / 2, min(self.cap, self.base * (2**attempt)))


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time, cap: float = 1e9) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), as the server said
    it (only bounded, at `cap`, so that a 4400-digit header is still a number); None if absent or
    unreadable. Callers decide how much of it to honour (`retrying`'s `wait_cap`)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return max(0.0, min(when - now(), cap))


class RateLimiter:
    """A token bucket shared by threads: `rate` requests per second, bursts of up to `rate` (at
    least 1). A caller finding the bucket empty reserves the next token (the bucket goes into debt)
    and sleeps until it is due, outside the lock: n waiters are spaced 1/rate apart, whatever the
    threads, and none holds the others up while it sleeps."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.updated = clock()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1.0
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait > 0:
            self.sleep(wait)
