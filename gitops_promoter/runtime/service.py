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
* with leader election, only the leader reconciles, and every write checks leadership first.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from gitops_promoter.config.schema import AppConfig, Config
from gitops_promoter.errors import PromoterError, TransientError
from gitops_promoter.ports import Cluster, CodeHost, DeployRepo, Metrics, Recorded, Registry
from gitops_promoter.runtime.tagcache import TagCache
from gitops_promoter.runtime.telemetry import Instrumented, Telemetry
from gitops_promoter.workflows.outcome import Outcome
from gitops_promoter.workflows.reconcile import Ports, Reconciled, reconcile

log = logging.getLogger(__name__)

BACKOFF_BASE, BACKOFF_CAP, RETRY_AFTER_CAP = 2.0, 300.0, 600.0
FIRST_RECONCILE = 2.0  # seconds after start: time for the first polls
REPO_WRITES = frozenset({"commit", "propose", "revert"})
HOST_WRITES = frozenset({"create_pull", "update_pull", "comment", "close_pull", "merge"})


class Leadership(Protocol):
    def is_leader(self) -> bool: ...

    def state(self) -> str: ...


class NotLeader(TransientError):
    """This replica lost (or never had) the Lease: it must not write."""


class _LeaderOnly:
    """A port whose writes first check that this replica still leads."""

    def __init__(self, target: Any, writes: frozenset[str], leadership: Leadership) -> None:
        self._target, self._writes, self._leadership = target, writes, leadership

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name not in self._writes:
            return value

        def write(*args: Any, **kwargs: Any) -> Any:
            if not self._leadership.is_leader():
                raise NotLeader(f"not the leader any more: {name} not done")
            return value(*args, **kwargs)

        return write


class Service:
    def __init__(self, config: Config, ports: Ports, *, telemetry: Telemetry, leadership: Leadership | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.telemetry = telemetry
        self.leadership = leadership
        self.rng = rng or random.Random()
        self.poll = config.state.poll_interval
        self.cache = TagCache(ports.registry, ttl=self.poll)
        repos: dict[str, DeployRepo] = {}
        hosts: dict[str, CodeHost] = {}
        for name, repo in ports.repos.items():
            r = Instrumented(repo, service="git", telemetry=telemetry)
            repos[name] = cast(DeployRepo, _LeaderOnly(r, REPO_WRITES, leadership) if leadership else r)
        for name, host in ports.hosts.items():
            h = Instrumented(host, service="github", telemetry=telemetry)
            hosts[name] = cast(CodeHost, _LeaderOnly(h, HOST_WRITES, leadership) if leadership else h)
        self.ports = Ports(
            registry=cast(Registry, Instrumented(self.cache, service="registry", telemetry=telemetry)),
            repos=repos, journal=ports.journal, hosts=hosts, host_errors=ports.host_errors,
            clusters={n: cast(Cluster, Instrumented(c, service="cluster", telemetry=telemetry))
                      for n, c in ports.clusters.items()},
            metrics={n: cast(Metrics, Instrumented(m, service="prometheus", telemetry=telemetry))
                     for n, m in ports.metrics.items()},
            clock=ports.clock, recheck=config.state.recheck_interval)
        self.apps = {a.name: a for a in config.apps}
        self.users: dict[str, list[str]] = {}  # image → apps using it
        for app in config.apps:
            self.users.setdefault(app.image, []).append(app.name)
        self.failures: dict[str, int] = {}
        self.parked: dict[tuple[str, str], str] = {}  # (app, env) → repository head when parked
        self.last: dict[tuple[str, str], tuple[str, str]] = {}  # (app, env) → (status, detail) journaled last
        self.first_seen: dict[tuple[str, str], float] = {}  # (image, tag) → when a new tag was first seen
        self.forced: set[str] = set()  # images a webhook named: wake their apps whatever the poll finds
        self.running: set[str] = set()  # apps whose reconcile runs now
        self.again: set[str] = set()  # apps woken while running: reconcile once more right after
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(config.server.workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}, timezone=UTC)
        self.scheduler.add_listener(self._on_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
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
    def wake(self, app: str, *, reason: str, delay: float = 0.0) -> None:
        """Run the app's reconcile `delay` seconds from now (or sooner if already due sooner)."""
        if self.stopping.is_set() or app not in self.apps:
            return
        # Under the lock, so a reconcile cannot start between the check and the move (a move to
        # "now" while it runs would be skipped by APScheduler's max_instances and lost).
        with self._lock:
            if app in self.running and delay <= 0:  # what woke it may have come after the run read it
                self.again.add(app)
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
        try:
            self.scheduler.modify_job(f"poll:{image}", next_run_time=datetime.now(UTC))
        except JobLookupError:
            pass
        log.info("checking %s now (%s)", image, reason)

    def apps_of_repository(self, repository: str) -> list[str]:
        return [a.name for a in self.config.apps if a.repository == repository]

    # --- jobs -----------------------------------------------------------------------------------
    def may_write(self) -> bool:
        return self.leadership is None or self.leadership.is_leader()

    def _poll(self, image: str) -> None:
        if self.stopping.is_set() or not self.may_write():
            return
        with self._lock:
            forced = image in self.forced
            self.forced.discard(image)
        try:
            tags = self.cache.refresh(image)
        except PromoterError as exc:
            log.warning("poll %s: %s", image, exc)
            return
        seen = self.ports.journal.seen_tags(image)
        new = set(tags) - set(seen or {})
        if seen is not None:
            now = time.monotonic()
            with self._lock:
                for tag in new:
                    self.first_seen.setdefault((image, tag), now)
        if seen is None or set(seen) != set(tags):
            self.ports.journal.record_tags(image, dict.fromkeys(tags))
        if new or forced:
            why = f"new tag(s) {', '.join(sorted(new)[:5])}" if new else "a webhook"
            for app in self.users[image]:
                self.wake(app, reason=f"{image}: {why}")

    def _reconcile(self, name: str) -> None:
        with self._lock:
            self.running.add(name)
            self.again.discard(name)
        try:
            self._reconcile_app(name)
        finally:
            with self._lock:
                self.running.discard(name)
                woken = name in self.again
                self.again.discard(name)
            if woken:
                self.wake(name, reason="woken while reconciling")

    def _reconcile_app(self, name: str) -> None:
        if self.stopping.is_set() or not self.may_write():
            return
        app = self.apps[name]
        envs = self._unparked(app)
        started = time.perf_counter()
        result = reconcile(self.config, app, self.ports, envs=envs)
        self.telemetry.reconcile_seconds.observe(time.perf_counter() - started)
        self._account(app, result)
        delay = self._next(app, result)
        if delay is not None:
            self.wake(name, reason="requeue", delay=delay)

    def _unparked(self, app: AppConfig) -> frozenset[str] | None:
        parked = {env: head for (a, env), head in self.parked.items() if a == app.name}
        if not parked:
            return None
        try:
            head = self.ports.repos[app.repository].head()
        except PromoterError:
            head = None
        for env, was in parked.items():
            if head is not None and head != was:
                log.info("%s/%s: the repository moved; trying again", app.name, env, extra={"app": app.name,
                                                                                             "env": env})
                del self.parked[(app.name, env)]
        return frozenset(app.targets) - {env for (a, env) in self.parked if a == app.name}

    def _account(self, app: AppConfig, result: Reconciled) -> None:
        self.telemetry.outcomes(result.outcomes)
        rows = []
        now = time.time()
        for o in result.outcomes:
            self._log(o)
            if o.status == "bumped" and o.to_tag:
                with self._lock:
                    seen = self.first_seen.pop((app.image, o.to_tag), None)
                if seen is not None:
                    self.telemetry.tag_to_commit.observe(time.monotonic() - seen)
            if o.error_kind == "permanent":
                try:
                    self.parked[(o.app, o.env)] = self.ports.repos[app.repository].head()
                except PromoterError:
                    pass
            key = (o.app, o.env)
            if self.last.get(key) != (o.status, o.detail):
                self.last[key] = (o.status, o.detail)
                rows.append(Recorded(at=now, app=o.app, env=o.env, status=o.status, detail=o.detail,
                                     from_tag=o.from_tag, to_tag=o.to_tag, sha=o.sha, pr=o.pr))
            if o.pr is not None and o.status in ("proposed", "updated", "merged", "closed"):
                self.ports.journal.record_pr(o.app, o.env, None if o.status in ("merged", "closed") else o.pr)
        if rows:
            try:
                self.ports.journal.record_outcomes(rows)
            except PromoterError as exc:
                log.warning("journal: %s", exc)

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


def known_images(config: Config) -> Iterable[str]:
    return sorted({a.image for a in config.apps})


Clock = Callable[[], float]
