"""`gitops-promoter run --config FILE`: the service, until SIGTERM or SIGINT.

Start: take the workdir lock (a second process waits `state.lock_timeout`, then exits 1 naming
the holder), repair what a killed run left, open the journal, start the HTTP server, leader
election (when configured) and the scheduler. Stop on a signal: refuse new work, let the
reconciles in flight finish their write, release the Lease and the lock, exit 0 within 10 s.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from gitops_promoter.config.schema import Config, SecretRef
from gitops_promoter.errors import ConfigError, PromoterError
from gitops_promoter.ports import Expirable
from gitops_promoter.runtime.http import Hooks, WebServer, prometheus_text
from gitops_promoter.runtime.lock import LockHeld, WorkdirLock
from gitops_promoter.runtime.logs import Redact
from gitops_promoter.runtime.service import Leadership, Service
from gitops_promoter.runtime.telemetry import Telemetry
from gitops_promoter.runtime.wiring import Wired, load, workdir_for

log = logging.getLogger(__name__)

READ_TTL_MAX = 10.0  # seconds a fetch of a deployment repository serves the service's reads, at most
STOP_BUDGET = 7.0  # seconds the reconciles in flight get after SIGTERM (the whole stop stays under 10 s)


def secret_refs(value: Any) -> Iterator[SecretRef]:
    """Every secret reference in the config, wherever it is."""
    if isinstance(value, SecretRef):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from secret_refs(getattr(value, f.name))
    elif isinstance(value, dict):
        for v in value.values():
            yield from secret_refs(v)
    elif isinstance(value, tuple | list):
        for v in value:
            yield from secret_refs(v)


def mask_secrets(config: Config) -> None:
    """Teach every log handler's Redact filter the config's secret values."""
    values = []
    for ref in secret_refs(config):
        try:
            values.append(ref.resolve())
        except ConfigError:
            continue
    for handler in logging.getLogger().handlers:
        for f in handler.filters:
            if isinstance(f, Redact):
                f.secrets = sorted(set(f.secrets) | {v for v in values if len(v) >= 4}, key=len, reverse=True)


def _resolve(ref: SecretRef | None) -> str | None:
    if ref is None:
        return None
    try:
        return ref.resolve()
    except ConfigError as exc:
        log.error("%s", exc)
        return None


def _status_token(config: Config) -> str | None:
    """The status page's token; a configured one that cannot be read locks the page (a random
    token nobody knows) rather than opening it."""
    ref = config.server.status_token
    if ref is None:
        return None
    return _resolve(ref) or secrets.token_hex(32)


def _elector(config: Config, on_started_leading: Callable[[], None]) -> Any:
    le = config.server.leader_election
    if le is None:
        return None
    from gitops_promoter.adapters.kube import api_client_for
    from gitops_promoter.adapters.lease import LeaseElector

    return LeaseElector(le, api_client_for(config.clusters[le.cluster]), identity=le.identity,
                        on_started_leading=on_started_leading)


def serve(*, config_path: str, workdir: str | None = None, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    _on_signals(stop)  # first: a SIGTERM while waiting for the lock or starting is a clean exit too
    config = load(config_path)
    if config is None:
        return 1
    mask_secrets(config)
    root = workdir_for(config, workdir)
    lock = WorkdirLock(root, timeout=config.state.lock_timeout, command="gitops-promoter run (service)")
    try:
        lock.acquire(cancelled=stop.is_set)
    except LockHeld as exc:
        if stop.is_set():
            return 0
        print(f"error: {exc}", file=sys.stderr)
        return 1
    wired: Wired | None = None
    server: WebServer | None = None
    service: Service | None = None
    elector = None
    stopped_in_time = True
    try:
        def pause(seconds: float) -> None:  # a retry's wait ends at SIGTERM
            stop.wait(seconds)

        # Reads of a deployment repository share one fetch for a few seconds (the apps of one poll
        # cycle run close together); writes always fetch, and GitHub's webhooks expire it at once.
        wired = Wired(config, workdir=root, sleep=pause, read_ttl=read_ttl(config), pulls_ttl=read_ttl(config))
        wired.repair()
        telemetry = Telemetry()
        leading: dict[str, Service] = {}
        elector = _elector(config, lambda: leading["service"].on_leading() if "service" in leading else None)
        leadership: Leadership | None = elector
        service = Service(config, wired.ports(), telemetry=telemetry, leadership=leadership, stopping=stop)
        leading["service"] = service
        server = WebServer(config.server.listen, _hooks(config, service, telemetry),
                           status_token=_status_token(config))
        server.start()
        if elector is not None:
            elector.start()
        service.start()
        log.info("listening on %s (webhooks, status page, /metrics, /healthz, /readyz); workdir %s",
                 config.server.listen, root)
        lost = False
        while not stop.wait(0.5):
            telemetry.leader.set(1 if service.may_write() else 0)
            if not lock.verify():
                log.error("%s: another process holds the workdir now; stopping", root)
                lost = True
                stop.set()
        log.info("stopping: finishing the work in flight")
        return 1 if lost else 0
    except PromoterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the port is taken, say
        print(f"error: {config.server.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        stop.set()
        started = time.monotonic()
        if server is not None:
            server.stop()
        if service is not None:
            stopped_in_time = service.stop(timeout=STOP_BUDGET)
        if not stopped_in_time:
            _exit_now(started)
        if elector is not None:
            elector.stop(release=True)
        if wired is not None:
            wired.close()
        lock.release()
        log.info("stopped in %.1fs", time.monotonic() - started)


def _exit_now(started: float) -> None:
    """A reconcile outlived the stop budget (a remote that hangs): exit without releasing the Lease
    (the other replica waits for it to expire: no overlap) and let the kernel drop the workdir lock
    with the process. Its write, if any, is idempotent and what it left is repaired at start."""
    log.warning("a reconcile is still running %.1fs after the signal; exiting without it", time.monotonic() - started)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def read_ttl(config: Config) -> float:
    """How long the service's reads of a deployment repository reuse one fetch: half the poll
    interval, at most READ_TTL_MAX seconds."""
    return min(READ_TTL_MAX, config.state.poll_interval / 2)


def _on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # tests run the service in a thread and stop it with the event

    def handler(signum: int, frame: object) -> None:
        log.info("%s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _hooks(config: Config, service: Service, telemetry: Telemetry) -> Hooks:
    def apps_for_github(full_name: str | None) -> list[str]:
        """The apps whose PRs live in that GitHub repository. News from it (a push, a merge, a
        review) also makes the next reads of the deployment repository fetch."""
        names = [name for name, repo in config.repositories.items()
                 if repo.github is not None and (full_name is None or repo.github.repo.lower() == full_name.lower())]
        for name in names:
            for port in (service.ports.repos.get(name), service.ports.hosts.get(name)):  # its open PRs too
                if isinstance(port, Expirable):
                    port.expire()
        return [app for name in names for app in service.apps_of_repository(name)]

    def ready() -> tuple[bool, str]:
        try:
            service.ports.journal.seen_tags("")
        except PromoterError as exc:
            return False, f"journal: {exc}"
        state = service.state()
        if state == "unknown":
            return False, "leader election: the Lease has not been read yet"
        if not service.started:
            return False, "starting"
        return True, f"ready ({state}, pid {os.getpid()})"

    return Hooks(
        known_images=sorted(service.users),
        check_image=lambda image, reason: service.check_image(image, reason=reason),
        wake=lambda app, reason: service.wake(app, reason=reason),
        apps_for_github=apps_for_github,
        registry_secret=lambda: _resolve(config.server.registry_webhook_secret),
        github_secret=lambda: _resolve(config.server.github_webhook_secret),
        metrics=lambda: prometheus_text(telemetry.registry),
        ready=ready,
        on_webhook=lambda source, code: telemetry.webhooks.labels(source, str(code)).inc(),
        status_page=service.status_page)
