"""The long-running service: APScheduler 3.x jobs around the reconcile unit.

* one job per app (max_instances 1, coalescing, jitter) every `state.poll_interval`, brought
  forward when the app asks (`requeue_after`: an analysis measurement due, a canary in motion,
  a transient fault's backoff) or when a webhook names it;
* one poll per image repository per `state.poll_interval`, shared by every app using it: a new
  tag wakes those apps (a webhook asks for the same poll at once);
* writes to one deployment repository are serialized by the repository's own lock, different
  repositories proceed in parallel in a bounded pool (`server.workers`);
* a permanent fault parks its app × environment until the repository's head changes (or the
  service restarts with a new config); a transient one is retried with backoff and jitter;
* with leader election, only the leader reconciles, and every write checks leadership first;
* after each reconcile, the app's part of the status page is rebuilt from what that reconcile
  read (runtime/statuspage.py); a request for the page only reads that cache.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from gitops_promoter.config.schema import AppConfig, Config
from gitops_promoter.errors import PromoterError, TransientError
from gitops_promoter.ports import Cluster, CodeHost, DeployRepo, Metrics, Recorded, Registry
from gitops_promoter.runtime.statuspage import Keeper
from gitops_promoter.runtime.tagcache import TagCache
from gitops_promoter.runtime.telemetry import Instrumented, Telemetry
from gitops_promoter.workflows.outcome import Outcome
from gitops_promoter.workflows.reconcile import Ports, Reconciled, reconcile

log = logging.getLogger(__name__)

BACKOFF_BASE, BACKOFF_CAP, RETRY_AFTER_CAP = 2.0, 300.0, 600.0
FIRST_RECONCILE = 2.0  # seconds after start: time for the first polls
FIRST_SEEN_KEPT = 86400.0  # seconds a new tag's first sighting is kept for the tag→commit latency
PARK_RETRY = 900.0  # a parked pair is tried again after this long even when nothing seems to change
REPO_WRITES = frozenset({"commit", "propose", "revert"})
HOST_WRITES = frozenset({"create_pull", "update_pull", "comment", "close_pull", "merge"})


class Leadership(Protocol):
    def is_leader(self) -> bool: ...

    def state(self) -> str: ...


class NotLeader(TransientError):
    """This replica lost (or never had) the Lease, or is stopping: it must not write."""


class _WritesGuarded:
    """A port whose writes first check that the service may still write: not stopping, and
    the leader (with leader election)."""

    def __init__(self, target: Any, writes: frozenset[str], service: Service) -> None:
        self._target, self._writes, self._service = target, writes, service

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name not in self._writes:
            return value

        def write(*args: Any, **kwargs: Any) -> Any:
            if self._service.stopping.is_set():
                raise NotLeader(f"stopping: {name} not started")
            if not self._service.may_write():
                raise NotLeader(f"not the leader any more: {name} not done")
            return value(*args, **kwargs)

        return write


class Service:
    def __init__(self, config: Config, ports: Ports, *, telemetry: Telemetry, leadership: Leadership | None = None,
                 rng: random.Random | None = None, stopping: threading.Event | None = None) -> None:
        self.config = config
        self.telemetry = telemetry
        self.leadership = leadership
        self.rng = rng or random.Random()
        self.poll = config.state.poll_interval
        # The poll job refreshes each image every interval (plus jitter); reconciles read its listing
        # and ask the registry themselves only when a poll is well overdue: one listing per interval.
        self.cache = TagCache(ports.registry, ttl=2 * self.poll)
        repos: dict[str, DeployRepo] = {}
        hosts: dict[str, CodeHost] = {}
        self.stopping = stopping or threading.Event()
        self.page = Keeper(config, journal=ports.journal)  # the status page, kept after each reconcile
        for name, repo in ports.repos.items():
            r = Instrumented(repo, service="git", telemetry=telemetry)
            repos[name] = self.page.tap_repo(name, cast(DeployRepo, _WritesGuarded(r, REPO_WRITES, self)))
        for name, host in ports.hosts.items():
            h = Instrumented(host, service="github", telemetry=telemetry)
            hosts[name] = cast(CodeHost, _WritesGuarded(h, HOST_WRITES, self))
        self.ports = Ports(
            registry=cast(Registry, Instrumented(self.cache, service="registry", telemetry=telemetry)),
            repos=repos, journal=ports.journal, hosts=hosts, host_errors=ports.host_errors,
            clusters={n: self.page.tap_cluster(n, cast(Cluster, Instrumented(c, service="cluster",
                                                                              telemetry=telemetry)))
                      for n, c in ports.clusters.items()},
            metrics={n: cast(Metrics, Instrumented(m, service="prometheus", telemetry=telemetry))
                     for n, m in ports.metrics.items()},
            clock=ports.clock, recheck=config.state.recheck_interval)
        self.apps = {a.name: a for a in config.apps}
        self.users: dict[str, list[str]] = {}  # image → apps using it
        for app in config.apps:
            self.users.setdefault(app.image, []).append(app.name)
        self.failures: dict[str, int] = {}
        # (app, env, stage) → (repository head, when) at parking; under self._lock
        self.parked: dict[tuple[str, str, str], tuple[str | None, float]] = {}
        # (app, env, stage) → (status, detail) journaled last: a row only when it changes
        self.last: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.first_seen: dict[tuple[str, str], float] = {}  # (image, tag) → when a new tag was first seen
        self.forced: set[str] = set()  # images a webhook named: wake their apps whatever the poll finds
        self.running: set[str] = set()  # job keys ("app:NAME", "poll:IMAGE") running now
        self.again: set[str] = set()  # keys woken while running: run once more, right after, in the same job
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(config.server.workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}, timezone=UTC)
        self.scheduler.add_listener(self._on_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.scheduler.add_listener(self._on_skipped, EVENT_JOB_MAX_INSTANCES)
        self.started = False

    # --- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        now = datetime.now(UTC)
        jitter = min(10.0, self.poll / 10)
        for image in self.users:
            self.scheduler.add_job(self._poll, IntervalTrigger(seconds=self.poll, jitter=jitter), args=[image],
                                   id=f"poll:{image}", next_run_time=now, name=f"poll {image}")
        # The polls go first and wake the apps whose images changed; every app runs soon anyway
        # (its canaries and pull requests need no registry), reading the listing the poll left.
        first = now + timedelta(seconds=min(FIRST_RECONCILE, self.poll))
        for name in self.apps:
            self.scheduler.add_job(self._reconcile, IntervalTrigger(seconds=self.poll, jitter=jitter), args=[name],
                                   id=f"app:{name}", next_run_time=first, name=f"reconcile {name}")
        self.scheduler.start()
        self.started = True
        log.info("service started: %d app(s), %d image repositories, poll every %gs", len(self.apps),
                 len(self.users), self.poll)

    def stop(self, *, timeout: float = 8.0) -> bool:
        """No new work; wait up to `timeout` for the reconciles in flight (a write is finished, never
        cut). True when everything stopped in time."""
        self.stopping.set()
        if not self.started:
            return True
        done = threading.Event()

        def shutdown() -> None:
            self.scheduler.shutdown(wait=True)
            done.set()

        threading.Thread(target=shutdown, name="scheduler-shutdown", daemon=True).start()
        finished = done.wait(timeout)
        if not finished:
            log.warning("a reconcile is still running after %gs; exiting without waiting for it", timeout)
        return finished

    # --- what webhooks and requeues ask ---------------------------------------------------------
    def wake(self, app: str, *, reason: str, delay: float = 0.0, external: bool = False) -> None:
        """Run the app's reconcile `delay` seconds from now (or sooner if already due sooner).
        `external`: news from outside (a webhook, a new tag), which also ends the app's parking."""
        if self.stopping.is_set() or app not in self.apps:
            return
        # Under the lock, so a reconcile cannot start between the check and the move (a move to
        # "now" while it runs would be skipped by APScheduler's max_instances and lost).
        with self._lock:
            if external:
                self._unpark(app, why=reason)
            if f"app:{app}" in self.running and delay <= 0:  # what woke it may have come after the run read it
                self.again.add(f"app:{app}")
                return
            when = datetime.now(UTC) + timedelta(seconds=delay)
            job = self.scheduler.get_job(f"app:{app}")
            if job is None or (job.next_run_time is not None and job.next_run_time <= when):
                return
            try:
                self.scheduler.modify_job(f"app:{app}", next_run_time=when)
            except JobLookupError:
                return
        log.debug("%s: reconcile in %.1fs (%s)", app, delay, reason, extra={"app": app})

    def check_image(self, image: str, *, reason: str) -> None:
        """Poll `image` now and wake every app that uses it (a webhook named it)."""
        if image not in self.users or self.stopping.is_set():
            return
        with self._lock:
            self.forced.add(image)
            if f"poll:{image}" in self.running:  # its listing may predate the push: list once more
                self.again.add(f"poll:{image}")
            else:
                try:
                    self.scheduler.modify_job(f"poll:{image}", next_run_time=datetime.now(UTC))
                except JobLookupError:
                    pass
        log.info("checking %s now (%s)", image, reason)

    def on_leading(self) -> None:
        """This replica just became the leader: look at everything now (the last leader's webhooks
        and wake-ups are not known here)."""
        log.info("leading now: checking every image and reconciling every app")
        for image in self.users:
            self.check_image(image, reason="became the leader")
        for app in self.apps:
            self.wake(app, reason="became the leader", external=True)

    def apps_of_repository(self, repository: str) -> list[str]:
        return [a.name for a in self.config.apps if a.repository == repository]

    # --- jobs -----------------------------------------------------------------------------------
    def may_write(self) -> bool:
        return self.leadership is None or self.leadership.is_leader()

    def _exclusive(self, key: str, work: Callable[[], None]) -> None:
        """Run `work` for `key` one at a time. A wake-up that arrives while it runs makes it run
        once more right after, inside this same job (APScheduler would skip a second instance)."""
        with self._lock:
            if key in self.running:
                self.again.add(key)
                return
            self.running.add(key)
        try:
            while True:
                with self._lock:
                    self.again.discard(key)
                work()
                with self._lock:
                    if key not in self.again or self.stopping.is_set():
                        self.running.discard(key)
                        return
        finally:
            with self._lock:
                self.running.discard(key)

    def _poll(self, image: str) -> None:
        self._exclusive(f"poll:{image}", lambda: self._poll_once(image))

    def _poll_once(self, image: str) -> None:
        if self.stopping.is_set() or not self.may_write():
            return
        with self._lock:
            forced = image in self.forced
            self.forced.discard(image)
        try:
            tags = self.cache.refresh(image)
            seen = self.ports.journal.seen_tags(image)
        except (PromoterError, OSError) as exc:
            log.warning("poll %s: %s", image, exc)
            return
        new = set(tags) - set(seen or {})
        if seen is not None:
            now = time.monotonic()
            with self._lock:
                for tag in new:
                    self.first_seen.setdefault((image, tag), now)
                # Tags no policy ever picks would pile up for months: forget them after a day.
                for key in [k for k, seen_at in self.first_seen.items() if now - seen_at > FIRST_SEEN_KEPT]:
                    del self.first_seen[key]
        if seen is None or set(seen) != set(tags):
            self._journal(lambda: self.ports.journal.record_tags(image, dict.fromkeys(tags)))
        if new or forced:
            why = f"new tag(s) {', '.join(sorted(new)[:5])}" if new else "a webhook"
            for app in self.users[image]:
                self.wake(app, reason=f"{image}: {why}", external=True)

    def _reconcile(self, name: str) -> None:
        self._exclusive(f"app:{name}", lambda: self._reconcile_app(name))

    def _reconcile_app(self, name: str) -> None:
        if self.stopping.is_set() or not self.may_write():
            return
        app = self.apps[name]
        skip = self._parked_now(app)
        started = time.perf_counter()
        result = reconcile(self.config, app, self.ports, skip=skip, stopping=self.stopping.is_set)
        self.telemetry.reconcile_seconds.observe(time.perf_counter() - started)
        self._account(app, result)
        self.page.after(app, result.outcomes, repo=self.ports.repos[app.repository])
        delay = self._next(app, result)
        if delay is not None:
            self.wake(name, reason="requeue", delay=delay)

    def _parked_now(self, app: AppConfig) -> frozenset[tuple[str, str]]:
        """The app's (environment, stage) pairs still parked: a permanent fault parks a pair until
        the repository's head moves, news from outside arrives (`wake(external=True)`) or
        PARK_RETRY passes — whichever comes first."""
        with self._lock:
            parked = {(env, stage): was for (a, env, stage), was in self.parked.items() if a == app.name}
        if not parked:
            return frozenset()
        head = self._head(app)
        now = time.monotonic()
        with self._lock:
            for (env, stage), (was_head, since) in parked.items():
                moved = head is not None and head != was_head
                if moved or now - since > PARK_RETRY:
                    self._release((app.name, env, stage), why="the repository moved" if moved
                                  else f"{PARK_RETRY:g}s passed")
            return frozenset((env, stage) for (a, env, stage) in self.parked if a == app.name)

    def _head(self, app: AppConfig) -> str | None:
        """The deployment repository's head (a fetch), or None when it cannot be read now: parking
        then ends by news or time only."""
        try:
            return self.ports.repos[app.repository].head()
        except Exception:  # noqa: BLE001 - the failure is the parked pair's own business
            return None

    def _unpark(self, app: str, *, why: str) -> None:
        """Under self._lock."""
        for key in [k for k in self.parked if k[0] == app]:
            self._release(key, why=why)

    def _release(self, key: tuple[str, str, str], *, why: str) -> None:
        """Under self._lock: the parked pair runs again at its app's next reconcile."""
        app, env, stage = key
        log.info("%s/%s: %s parked; %s: trying again", app, env, stage, why, extra={"app": app, "env": env})
        self.parked.pop(key, None)

    def _journal(self, write: Callable[[], None]) -> None:
        """A journal write is best effort here: git stays the truth, and the next pass writes again."""
        try:
            write()
        except (PromoterError, OSError) as exc:
            log.warning("journal: %s", exc)

    def _account(self, app: AppConfig, result: Reconciled) -> None:
        self.telemetry.outcomes(result.outcomes)
        rows = []
        now = time.time()
        parked_head: list[str | None] = []  # the repository's head, read once, when something parks
        for o in result.outcomes:
            self._log(o)
            if o.status == "bumped" and o.to_tag:
                with self._lock:
                    seen = self.first_seen.pop((app.image, o.to_tag), None)
                if seen is not None:
                    self.telemetry.tag_to_commit.observe(time.monotonic() - seen)
            if o.error_kind == "permanent":
                if not parked_head:
                    parked_head.append(self._head(app))
                with self._lock:
                    self.parked[(o.app, o.env, o.stage)] = (parked_head[0], time.monotonic())
            key = (o.app, o.env, o.stage)
            if self.last.get(key) != (o.status, o.detail):
                self.last[key] = (o.status, o.detail)
                self.telemetry.verdict(o)
                rows.append(Recorded(at=now, app=o.app, env=o.env, status=o.status, detail=o.detail,
                                     from_tag=o.from_tag, to_tag=o.to_tag, sha=o.sha, pr=o.pr))
            if o.pr is not None and o.status in ("proposed", "updated", "merged", "closed"):
                number = None if o.status in ("merged", "closed") else o.pr
                self._journal(lambda o=o, number=number: self.ports.journal.record_pr(  # type: ignore[misc]
                    o.app, o.env, number))
        if rows:
            self._journal(lambda: self.ports.journal.record_outcomes(rows))

    def _log(self, o: Outcome) -> None:
        extra = {"app": o.app, "env": o.env, "tag": o.to_tag or o.from_tag, "action": o.status}
        if o.status == "error":
            return  # already logged where it happened
        level = logging.DEBUG if o.status in ("unchanged", "waiting", "live", "analysing") else logging.INFO
        log.log(level, "%s", o.line(), extra=extra)

    def _next(self, app: AppConfig, result: Reconciled) -> float | None:
        """When to run again: a transient fault's backoff (its Retry-After when given), or what the
        reconcile asked for; None leaves the regular poll."""
        transient = [o for o in result.errors if o.error_kind == "transient"]
        if transient:
            n = self.failures.get(app.name, 0)
            self.failures[app.name] = n + 1
            asked = [o.requeue_after for o in transient if o.requeue_after is not None]
            if asked:
                return min(float(max(asked)), RETRY_AFTER_CAP)
            return self.rng.uniform(0.5, 1.0) * min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** n)
        self.failures.pop(app.name, None)
        return result.requeue_after

    def _on_skipped(self, event: JobSubmissionEvent) -> None:
        """APScheduler skipped a run because one was still counted as running. Either it really
        runs (it will run once more right after), or it has just ended and APScheduler has not
        counted it out yet: ask again in a moment. No wake-up is lost either way."""
        with self._lock:
            if event.job_id in self.running:
                self.again.add(event.job_id)
                return
        if self.stopping.is_set():
            return
        try:
            self.scheduler.modify_job(event.job_id, next_run_time=datetime.now(UTC) + timedelta(seconds=0.05))
        except JobLookupError:
            pass

    def _on_job(self, event: JobExecutionEvent) -> None:
        if event.scheduled_run_time is not None:
            lag = (datetime.now(UTC) - event.scheduled_run_time).total_seconds()
            self.telemetry.scheduler_lag.observe(max(0.0, lag))
        if event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)

    # --- for status and readiness ---------------------------------------------------------------
    def state(self) -> str:
        if self.leadership is None:
            return "single"
        return self.leadership.state()

    def status_page(self) -> bytes:
        """The status page's HTML from the cache: it never waits for a reconcile or the scheduler."""
        return self.page.html(state=self.state())

