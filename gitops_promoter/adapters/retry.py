"""Backoff with jitter and a per-endpoint request rate limit. Clock and sleep are injected."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**n, capped."""

    base: float = 0.2
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(self.base / 2, min(self.cap, self.base * (2**attempt)))


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time, cap: float = 120.0) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
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
