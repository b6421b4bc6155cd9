"""One `tags/list` per image repository per pass, registries listed side by side, each within its
`rate_limit` and `max_concurrency` — on Debian's docker-registry, requests counted by a proxy."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gitops_promoter.adapters.registry import RegistryHub
from gitops_promoter.config.schema import RegistryConfig
from gitops_promoter.errors import RegistryRejected
from gitops_promoter.runtime.commands import run_once
from gitops_promoter.runtime.tagcache import TagCache
from tests.support.fault_proxy import FaultProxy
from tests.support.gitremote import make_remote
from tests.support.registry import Pusher

ENVS = ("dev", "qa", "perf")


def listings(proxy: FaultProxy) -> list[str]:
    return [line for line in proxy.log if line.startswith("GET /v2/") and "/tags/list" in line]


class Timing:
    """Arrival times and the most requests in flight at once, from a proxy's point of view."""

    def __init__(self, proxy: FaultProxy, *, delay: float = 0.0) -> None:
        self.arrivals: list[float] = []
        self.in_flight = self.most = 0
        self._lock = threading.Lock()
        proxy.fault(r"/tags/list", method="GET", delay=delay, before=self._arrive, body=self._leave)

    def _arrive(self) -> None:
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)

    def _leave(self, body: bytes) -> bytes:
        with self._lock:
            self.in_flight -= 1
        return body


def hub(*configs: RegistryConfig):  # noqa: ANN201
    """The real registry adapter over `configs`, and the config lookup `prefetch` groups by."""

    def registry_for(image: str) -> RegistryConfig:
        return next(c for c in configs if c.matches(image))

    return RegistryHub(registry_for), registry_for


def images(registry, proxy: FaultProxy, unique: str, count: int) -> list[str]:
    push = Pusher(registry.url)
    for n in range(count):
        push.image(f"{unique}/img{n}", "v1.0.0")
    return [f"{proxy.host}/{unique}/img{n}" for n in range(count)]


# --- run --once: one listing per image, whatever the apps and environments ----------------------
def deploy_world(tmp_path: Path, *, host: str, url: str, unique: str, apps: int, images: int) -> Path:
    seed = tmp_path / "seed"
    blocks = []
    for a in range(apps):
        image = f"{host}/{unique}/img{a % images}"
        targets = []
        for env in ENVS:
            path = seed / "envs" / env / f"app{a}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"image:\n  repository: {image}\n  tag: v1.0.0\n")
            targets.append(f"      {env}: {{file: envs/{env}/app{a}.yaml, edit: {{kind: helm, key: image.tag}}}}\n")
        blocks.append(f"  - name: app{a}\n    image: {image}\n    repository: deploy\n"
                      f"    policy: {{strategy: semver, constraint: \"^1.0\"}}\n    targets:\n" + "".join(targets))
    remote = make_remote(tmp_path, seed)
    config = tmp_path / "promoter.yaml"
    envs = "".join(f"  - {{name: {env}, mode: direct}}\n" for env in ENVS)
    config.write_text(f"""\
version: 1
registries:
  - {{prefix: '{host}', api_url: '{url}', rate_limit: 1000}}
repositories:
  - {{name: deploy, url: 'file://{remote}', branch: main}}
environments:
{envs}apps:
{''.join(blocks)}state: {{workdir: work, journal: journal.sqlite}}
""")
    return config


def test_run_once_lists_each_image_repository_once_for_every_app_and_environment(tmp_path, registry, unique,
                                                                                   capsys):
    """6 apps × 3 environments over 2 image repositories: 2 listings per run, not 18."""
    push = Pusher(registry.url)
    for n in range(2):
        push.image(f"{unique}/img{n}", "v1.0.0")
    with FaultProxy(registry.url) as proxy:
        config = deploy_world(tmp_path, host=proxy.host, url=proxy.url, unique=unique, apps=6, images=2)
        assert run_once(config_path=str(config)) == 0, capsys.readouterr()
        assert sorted(listings(proxy)) == [f"GET /v2/{unique}/img{n}/tags/list?n=1000" for n in range(2)]
        assert capsys.readouterr().out.splitlines()[-1] == "summary: 18 unchanged"

        push.image(f"{unique}/img1", "v1.1.0")  # a new tag: 3 apps × 3 environments move
        before = len(proxy.log)
        assert run_once(config_path=str(config)) == 0, capsys.readouterr()
        assert sorted(listings_since(proxy, before)) == [f"GET /v2/{unique}/img{n}/tags/list?n=1000"
                                                         for n in range(2)]
        assert capsys.readouterr().out.splitlines()[-1] == "summary: 9 bumped, 9 unchanged"


def listings_since(proxy: FaultProxy, start: int) -> list[str]:
    return [line for line in proxy.log[start:] if line.startswith("GET /v2/") and "/tags/list" in line]


def test_an_image_whose_listing_fails_is_its_apps_error_only(tmp_path, registry, unique, capsys):
    """The failing listing is asked once (with its retries) and reported by each app using it; the
    other image's apps are decided as usual."""
    push = Pusher(registry.url)
    push.image(f"{unique}/img0", "v1.0.0")
    with FaultProxy(registry.url) as proxy:
        proxy.fault(rf"/{unique}/img1/tags/list", status=404)
        config = deploy_world(tmp_path, host=proxy.host, url=proxy.url, unique=unique, apps=4, images=2)
        assert run_once(config_path=str(config)) == 1
        out = capsys.readouterr().out.splitlines()
        assert len([line for line in listings(proxy) if "/img1/" in line]) == 1  # a 404 is not retried
        errors = [line for line in out if ": error:" in line]
        assert len(errors) == 6 and all(line.startswith(("app1/", "app3/")) for line in errors), out
        assert out[-1] == "summary: 6 error, 6 unchanged"


# --- prefetch: registries side by side, each within its limits --------------------------------
def test_two_registries_are_listed_side_by_side(registry, unique):
    """Each registry answers a listing in 0.6 s; two of them, one image each, take about 0.6 s
    together, not 1.2 s."""
    with FaultProxy(registry.url) as a, FaultProxy(registry.url) as b:
        ta, tb = Timing(a, delay=0.6), Timing(b, delay=0.6)
        wanted = images(registry, a, f"{unique}-a", 1) + images(registry, b, f"{unique}-b", 1)
        configs = [RegistryConfig(prefix=p.host, api_url=p.url, rate_limit=100) for p in (a, b)]
        registry_hub, registry_for = hub(*configs)
        cache = TagCache(registry_hub, ttl=float("inf"))
        started = time.monotonic()
        cache.prefetch(wanted, registry_for=registry_for)
        took = time.monotonic() - started
        assert took < 1.0, f"{took:.2f}s: the registries were listed one after the other"
        assert abs(ta.arrivals[0] - tb.arrivals[0]) < 0.3  # they overlapped
        assert (len(listings(a)), len(listings(b))) == (1, 1)
        for image in wanted:  # every app reading it afterwards gets the kept listing
            assert cache.list_tags(image) == ("v1.0.0",)
        assert (len(listings(a)), len(listings(b)), cache.fetches) == (1, 1, 2)


def test_requests_in_flight_to_one_registry_stay_within_max_concurrency(registry, unique):
    with FaultProxy(registry.url) as proxy:
        timing = Timing(proxy, delay=0.3)
        wanted = images(registry, proxy, unique, 6)
        registry_hub, registry_for = hub(RegistryConfig(prefix=proxy.host, api_url=proxy.url, rate_limit=1000,
                                                        max_concurrency=2))
        started = time.monotonic()
        TagCache(registry_hub, ttl=float("inf")).prefetch(wanted, registry_for=registry_for)
        took = time.monotonic() - started
        assert timing.most == 2  # in parallel, never more than two at once
        assert 0.85 < took < 1.6, f"{took:.2f}s: 6 listings of 0.3 s, two at a time, take 3 rounds"
        assert len(listings(proxy)) == 6


def test_rate_limit_is_honoured_across_the_threads(registry, unique):
    """rate_limit 4/s (a burst of 4), 12 listings by 4 threads: the last 8 wait for tokens, 0.25 s
    apart — at least 2 s — and no second holds more than a burst plus its rate."""
    with FaultProxy(registry.url) as proxy:
        timing = Timing(proxy)
        wanted = images(registry, proxy, unique, 12)
        registry_hub, registry_for = hub(RegistryConfig(prefix=proxy.host, api_url=proxy.url, rate_limit=4,
                                                        max_concurrency=4))
        TagCache(registry_hub, ttl=float("inf")).prefetch(wanted, registry_for=registry_for)
        arrivals = sorted(timing.arrivals)
        assert len(arrivals) == 12
        assert arrivals[-1] - arrivals[0] >= 1.9
        for t in arrivals:
            assert sum(1 for u in arrivals if t <= u < t + 1.0) <= 8


def test_a_failed_listing_is_kept_for_the_pass_and_raised_to_each_reader(registry, unique):
    with FaultProxy(registry.url) as proxy:
        proxy.fault(r"/tags/list", status=404)
        wanted = images(registry, proxy, unique, 1)
        registry_hub, registry_for = hub(RegistryConfig(prefix=proxy.host, api_url=proxy.url, rate_limit=1000))
        cache = TagCache(registry_hub, ttl=float("inf")).prefetch(wanted, registry_for=registry_for)
        for _ in range(3):
            with pytest.raises(RegistryRejected, match="404"):
                cache.list_tags(wanted[0])
        assert len(listings(proxy)) == 1


def test_a_kept_listing_is_asked_again_once_its_ttl_passed(registry, unique):
    now = [0.0]
    with FaultProxy(registry.url) as proxy:
        wanted = images(registry, proxy, unique, 1)
        registry_hub, _ = hub(RegistryConfig(prefix=proxy.host, api_url=proxy.url, rate_limit=1000))
        cache = TagCache(registry_hub, ttl=60, clock=lambda: now[0])
        cache.list_tags(wanted[0])
        now[0] = 59.0
        cache.list_tags(wanted[0])
        assert len(listings(proxy)) == 1
        now[0] = 60.0
        cache.list_tags(wanted[0])
        assert len(listings(proxy)) == 2


def test_max_concurrency_holds_for_any_caller_threads(registry, unique):
    """The bound is the registry client's own: six threads of the service listing at once still
    send at most two requests at a time."""
    with FaultProxy(registry.url) as proxy:
        timing = Timing(proxy, delay=0.2)
        wanted = images(registry, proxy, unique, 6)
        registry_hub, _ = hub(RegistryConfig(prefix=proxy.host, api_url=proxy.url, rate_limit=1000,
                                             max_concurrency=2))
        threads = [threading.Thread(target=registry_hub.list_tags, args=(image,)) for image in wanted]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert (timing.most, len(listings(proxy))) == (2, 6)


@pytest.mark.parametrize("reader_first", [False, True], ids=["listing-in-flight", "reader-before-the-listing"])
def test_a_listing_not_waited_for_is_shared_with_readers_never_asked_twice(registry, unique, reader_first):
    """`run --once` lists while it fetches its repositories (`wait=False`): a reader asking during
    the listing waits for it, and one asking before the listing's thread started lists for it."""
    with FaultProxy(registry.url) as proxy:
        Timing(proxy, delay=0.3)
        wanted = images(registry, proxy, unique, 3)
        registry_hub, registry_for = hub(RegistryConfig(prefix=proxy.host, api_url=proxy.url, rate_limit=1000,
                                                        max_concurrency=1))
        cache = TagCache(registry_hub, ttl=float("inf"))
        if reader_first:
            assert list(cache.list_tags(wanted[2])) == ["v1.0.0"]
        started = time.monotonic()
        cache.prefetch(wanted, registry_for=registry_for, wait=False)
        assert time.monotonic() - started < 0.2  # returned while the listings run (0.3 s each, one at a time)
        readers = [threading.Thread(target=lambda image=image: cache.list_tags(image)) for image in wanted * 2]
        for reader in readers:
            reader.start()
        for image in wanted:
            assert list(cache.list_tags(image)) == ["v1.0.0"]
        for reader in readers:
            reader.join()
        assert len(listings(proxy)) == 3 and cache.fetches == 3  # one listing per image, whoever asked first
