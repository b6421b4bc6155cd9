"""One tag listing per image repository, shared by every app and environment that uses it.

The service's poll job (every `state.poll_interval`) and webhooks refresh an image's listing;
reconciles read the cached one while it is fresh. Digests and creation times are asked of the
registry at use (a bump pins what the registry says at that moment).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from gitops_promoter.ports import Registry


class TagCache:
    def __init__(self, registry: Registry, *, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry, self.ttl, self.clock = registry, ttl, clock
        self._tags: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.fetches = 0

    def _lock(self, image: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(image, threading.Lock())

    def refresh(self, image: str) -> tuple[str, ...]:
        """Ask the registry now (one listing, with its pages) and keep the answer."""
        with self._lock(image):
            return self._fetch(image)

    def _fetch(self, image: str) -> tuple[str, ...]:
        tags = tuple(self.registry.list_tags(image))
        self.fetches += 1
        self._tags[image] = (self.clock(), tags)
        return tags

    def list_tags(self, image: str) -> Sequence[str]:
        with self._lock(image):  # concurrent readers of a stale image wait for one fetch
            cached = self._tags.get(image)
            if cached is not None and self.clock() - cached[0] < self.ttl:
                return cached[1]
            return self._fetch(image)

    def created(self, image: str, tag: str) -> datetime | None:
        return self.registry.created(image, tag)

    def digest(self, image: str, tag: str) -> str:
        return self.registry.digest(image, tag)
