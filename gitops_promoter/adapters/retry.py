"""Retries for every adapter: one loop (`retrying`), backoff with jitter, Retry-After, and a
per-endpoint request rate limit. Clock and sleep are injected.

Inside one request the promoter waits only briefly (`WAIT_CAP`): a server that asks for longer
(`Retry-After: 100000`) gets the request given up as a TransientError carrying `retry_after`,
and the scheduler requeues the work then, instead of a thread sleeping for minutes.
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

from gitops_promoter.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")
WAIT_CAP = 10.0  # the longest wait inside one request; longer ones go back to the scheduler


class Retry(Exception):  # noqa: N818 - a signal inside `retrying`, never seen outside an adapter
    """Raised by one attempt: a transient failure worth another try (after `wait`, when the far
    side said so)."""

    def __init__(self, detail: str, *, wait: float | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail, self.wait, self.status = detail, wait, status


def retrying(attempt: Callable[[], T], *, attempts: int, backoff: Backoff, what: str,
             give_up: Callable[[Retry, int], TransientError], sleep: Callable[[float], None] = time.sleep,
             wait_cap: float = WAIT_CAP) -> T:
    """Call `attempt` until it returns, at most `attempts` times, sleeping between tries (the far
    side's Retry-After when it gave one, else backoff with jitter). Other exceptions pass through.
    When tries run out, or the far side asks for a wait longer than `wait_cap`, raise
    `give_up(last, tries)` with its `retry_after` set from the far side's wish."""
    for n in range(1, attempts + 1):
        try:
            return attempt()
        except Retry as failure:
            too_long = failure.wait is not None and failure.wait > wait_cap
            if n >= attempts or too_long:
                error = give_up(failure, n)
                error.retry_after = failure.wait
                raise error from None
            delay = failure.wait if failure.wait is not None else backoff.delay(n - 1)
            log.warning("%s: %s; retrying in %.2fs", what, failure.detail, delay)
            sleep(delay)
    raise AssertionError("attempts must be at least 1")


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**n, capped."""

    base: float = 0.2
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(self.base / 2, min(self.cap, self.base * (2**attempt)))


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time, cap: float = 86400.0) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped at a day;
    None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when - now(), cap))


class RateLimiter:
    """A token bucket: `rate` requests per second, bursts of up to `rate` (at least 1)."""

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
            if self.tokens < 1.0:
                wait = (1.0 - self.tokens) / self.rate
                self.sleep(wait)
                self.updated = self.clock()
                self.tokens = 1.0
            self.tokens -= 1.0
