"""One tag listing per image repository, shared by every app and environment that uses it.

The service's poll job (every `state.poll_interval`) and webhooks refresh an image's listing;
reconciles read the cached one while it is fresh. `run --once` keeps each listing for the whole
run and lists every image up front (`prefetch`): registries in parallel, each within its own
`rate_limit` and `max_concurrency` (the registry client enforces both). A listing that fails is
kept as that failure for as long as a listing would be, so every app using the image reports it
without asking the registry again; other images are not affected. Digests and creation times are
asked of the registry at use (a bump pins what the registry says at that moment).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from gitops_promoter.config.schema import AppConfig, Config, RegistryConfig
from gitops_promoter.errors import PromoterError
from gitops_promoter.ports import Registry


class TagCache:
    def __init__(self, registry: Registry, *, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry, self.ttl, self.clock = registry, ttl, clock
        self._tags: dict[str, tuple[float, tuple[str, ...] | PromoterError]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.fetches = 0

    def _lock(self, image: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(image, threading.Lock())

    def refresh(self, image: str) -> tuple[str, ...]:
        """Ask the registry now (one listing, with its pages) and keep the answer."""
        with self._lock(image):
            return _answer(self._fetch(image))

    def _fetch(self, image: str) -> tuple[str, ...] | PromoterError:
        try:
            answer: tuple[str, ...] | PromoterError = tuple(self.registry.list_tags(image))
        except PromoterError as exc:
            answer = exc
        with self._guard:
            self.fetches += 1
            self._tags[image] = (self.clock(), answer)
        return answer

    def list_tags(self, image: str) -> Sequence[str]:
        with self._lock(image):  # concurrent readers of a stale image wait for one fetch
            cached = self._tags.get(image)
            if cached is not None and self.clock() - cached[0] < self.ttl:
                return _answer(cached[1])
            return _answer(self._fetch(image))

    def prefetch(self, images: Iterable[str], *, registry_for: Callable[[str], RegistryConfig],
                 wait: bool = True) -> TagCache:
        """List every image in `images` now, each once: one thread group per registry, as many
        threads as its `max_concurrency`, the registries side by side. Failures are kept per image
        (its apps report them); returns the cache itself, for chaining. `wait=False` returns at once
        while the listings run (a pass fetches its repositories meanwhile): a `list_tags` of an
        image being listed waits for that listing (its lock), never asks the registry twice."""
        groups: dict[str, list[str]] = {}
        for image in dict.fromkeys(images):
            groups.setdefault(registry_for(image).prefix, []).append(image)
        if not groups:
            return self
        width = {prefix: max(1, min(len(group), registry_for(group[0]).max_concurrency))
                 for prefix, group in groups.items()}
        pools = [ThreadPoolExecutor(max_workers=width[prefix], thread_name_prefix=f"list {prefix}")
                 for prefix in groups]
        try:
            futures = [pool.submit(self.list_tags, image) for pool, group in zip(pools, groups.values(), strict=True)
                       for image in group]
            for future in futures if wait else ():
                future.exception()  # wait; a failure is already kept for the image's apps
        finally:
            for pool in pools:  # without wait, each pool's threads end when its listings are done
                pool.shutdown(wait=wait)
        return self

    def prefetch_for(self, config: Config, apps: Iterable[AppConfig], *, wait: bool = True) -> TagCache:
        """`prefetch` the images `apps` list tags of: those with a target in a direct environment."""
        direct = [e.name for e in config.environments if e.mode == "direct"]
        images = [a.image for a in apps if any(name in a.targets for name in direct)]
        return self.prefetch(images, registry_for=config.registry_for, wait=wait)

    def created(self, image: str, tag: str, *, platform: str | None = None) -> datetime | None:
        return self.registry.created(image, tag, platform=platform)

    def digest(self, image: str, tag: str) -> str:
        return self.registry.digest(image, tag)


def _answer(kept: tuple[str, ...] | PromoterError) -> tuple[str, ...]:
    if isinstance(kept, PromoterError):
        raise kept.with_traceback(None)  # raised again for each app: its traceback must not grow
    return kept
