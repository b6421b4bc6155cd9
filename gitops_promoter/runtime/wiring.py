"""Wiring: config → adapters → the reconcile unit. The only place that knows every layer.

Code-host and cluster clients (PyGithub, kubernetes) are imported only when the config uses them.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.registry import RegistryHub
from gitops_promoter.config import load_config
from gitops_promoter.config.schema import AppConfig, Config
from gitops_promoter.errors import ConfigError, PromoterError, TransientError
from gitops_promoter.ports import (
    Cluster,
    CodeHost,
    Committed,
    Journal,
    Metrics,
    Pinnable,
    Recorded,
    Registry,
    Unchanged,
)
from gitops_promoter.workflows.outcome import Outcome
from gitops_promoter.workflows.reconcile import Mode, Ports, Reconciled, reconcile

if TYPE_CHECKING:
    from gitops_promoter.domain.analysis_run import AnalysisRun

log = logging.getLogger(__name__)


def _beside_config(config: Config, raw: str) -> Path:
    path = Path(raw)
    return path if path.is_absolute() else (Path(config.path).resolve().parent / path)


def workdir_for(config: Config, override: str | None) -> Path:
    """Working clones live in state.workdir, relative to the config file's folder."""
    return _beside_config(config, override or config.state.workdir)


def load(config_path: str, apps: frozenset[str] | None = None) -> Config | None:
    """The config, or None after printing every problem (and unknown --app names)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    unknown = (apps or frozenset()) - {a.name for a in config.apps}
    if unknown:
        print(f"unknown app(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return None
    return config


def open_journal_for(config: Config) -> Journal:
    from gitops_promoter.adapters.journal import open_journal

    target = config.state.journal
    if "://" in target:
        return open_journal(target)
    return open_journal(str(_beside_config(config, target)))


class LazyJournal:
    """The journal, opened at its first use: a pass that needs none (a dev bump, `status` of
    direct environments) never loads the database layer (SQLAlchemy costs ~0.2 s to import)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._journal: Journal | None = None
        self._guard = threading.Lock()

    def _open(self) -> Journal:
        with self._guard:
            if self._journal is None:
                self._journal = open_journal_for(self._config)
            return self._journal

    def load_analysis(self, key: str) -> AnalysisRun | None:
        return self._open().load_analysis(key)

    def save_analysis(self, run: AnalysisRun) -> None:
        self._open().save_analysis(run)

    def drop_analysis(self, key: str) -> None:
        self._open().drop_analysis(key)

    def seen_tags(self, image: str) -> Mapping[str, str | None] | None:
        return self._open().seen_tags(image)

    def record_tags(self, image: str, tags: Mapping[str, str | None]) -> None:
        self._open().record_tags(image, tags)

    def pr_number(self, app: str, env: str) -> int | None:
        return self._open().pr_number(app, env)

    def record_pr(self, app: str, env: str, number: int | None) -> None:
        self._open().record_pr(app, env, number)

    def record_outcomes(self, rows: Sequence[Recorded]) -> None:
        self._open().record_outcomes(rows)

    def recent(self, *, app: str | None = None, env: str | None = None, limit: int = 50) -> list[Recorded]:
        return self._open().recent(app=app, env=env, limit=limit)

    def close(self) -> None:
        with self._guard:
            if self._journal is not None:
                self._journal.close()


class Wired:
    """The adapters for one config: registries, deployment repos, code hosts, clusters, metrics, journal."""

    def __init__(self, config: Config, *, workdir: str | Path | None = None, journal: Journal | None = None,
                 host_factory: Callable[..., CodeHost] | None = None,
                 cluster_factory: Callable[..., Cluster] | None = None,
                 registry: Registry | None = None, sleep: Callable[[float], None] = time.sleep,
                 read_ttl: float = 0.0, pulls_ttl: float = math.inf) -> None:
        """`sleep` is what the adapters wait with between retries (the service's wakes up on SIGTERM);
        `read_ttl`, how long reads of a deployment repository reuse its last fetch; `pulls_ttl`, how
        long a listing of open pull requests is reused (a once-off command: for its whole run)."""
        self.config = config
        self.workdir = Path(workdir) if isinstance(workdir, Path) else workdir_for(config, workdir)
        self.repos = {name: GitRepo(cfg, workdir=self.workdir, sleep=sleep, read_ttl=read_ttl)
                      for name, cfg in config.repositories.items()}
        for name, repo in self.repos.items():  # read together, once per head (the service's reconciles too)
            repo.expect(target_files(config.apps, name))
        self._hub = RegistryHub(config.registry_for, sleep=sleep) if registry is None else None
        self.registry: Registry = registry or self._hub  # type: ignore[assignment]
        self.journal: Journal = journal if journal is not None else LazyJournal(config)
        self.hosts: dict[str, CodeHost] = {}
        self.host_errors: dict[str, str] = {}
        self.clusters: dict[str, Cluster] = {}
        self.metrics: dict[str, Metrics] = {}
        if config.clusters:
            if cluster_factory is None:
                from gitops_promoter.adapters.kube import KubeCluster

                cluster_factory = functools.partial(KubeCluster, sleep=sleep)
            for name, cluster_cfg in config.clusters.items():
                try:
                    self.clusters[name] = cluster_factory(cluster_cfg)
                except Exception as exc:  # noqa: BLE001 - kubernetes' config loader raises its own types
                    log.warning("cluster %s cannot be used: %s", name, exc)
        if config.prometheus:
            from gitops_promoter.adapters.prometheus import PrometheusMetrics

            for name, prom_cfg in config.prometheus.items():
                try:
                    self.metrics[name] = PrometheusMetrics(prom_cfg, sleep=sleep)
                except ConfigError as exc:
                    log.warning("prometheus %s: %s", name, "; ".join(exc.problems))
        for name, cfg in config.repositories.items():
            if cfg.github is None:
                continue
            if host_factory is None:
                from gitops_promoter.adapters.github import GitHubHost

                host_factory = functools.partial(GitHubHost, pulls_ttl=pulls_ttl)
            try:
                self.hosts[name] = host_factory(cfg.github)
            except ConfigError as exc:
                self.host_errors[name] = "; ".join(exc.problems)

    def ports(self, *, clock: Callable[[], float] = time.time) -> Ports:
        return Ports(registry=self.registry, repos=self.repos, journal=self.journal, hosts=self.hosts,
                     host_errors=self.host_errors, clusters=self.clusters, metrics=self.metrics, clock=clock)

    def repair(self) -> None:
        """Under the workdir lock: clear what a killed writer left in the clones."""
        for repo in self.repos.values():
            repo.repair()

    def close(self) -> None:
        if self._hub is not None:
            self._hub.close()
        for repo in self.repos.values():
            repo.close()
        self.journal.close()


def drive(config: Config, ports: Ports, *, apps: Sequence[AppConfig], mode: Mode = "run",
          sleep: Callable[[float], None] = time.sleep, envs: frozenset[str] | None = None,
          force: str | None = None, workers: int = 1) -> list[Outcome]:
    """`run --once`: reconcile every app, then keep reconciling those with a gate's analysis in
    flight — waiting here, between reconciles, until its next measurement is due — until each
    settles or waits on something outside (Argo CD, a review). Outcomes in config order.

    `workers` > 1 reconciles that many apps side by side: their registry and code-host requests
    overlap, and the bumps they decide together land in each repository as one chain of commits
    and one push (GitRepo's group commit)."""
    results: dict[str, Reconciled] = {}

    def one_pass(batch: Sequence[AppConfig]) -> None:
        with pinned(ports, batch) as repos:
            if mode == "run":
                for repo in repos:
                    repo.defer()
            try:
                if workers <= 1 or len(batch) <= 1:
                    for app in batch:
                        results[app.name] = reconcile(config, app, ports, mode=mode, envs=envs, force=force)
                else:
                    with ThreadPoolExecutor(max_workers=min(workers, len(batch)), thread_name_prefix="pass") as pool:
                        done = pool.map(lambda a: reconcile(config, a, ports, mode=mode, envs=envs, force=force),
                                        batch)
                        for app, result in zip(batch, done, strict=True):
                            results[app.name] = result
            finally:
                landed: dict[str, Committed | Unchanged | Exception] = {}
                for repo in repos:
                    try:
                        landed.update(repo.flush())
                    except PromoterError as exc:  # nothing of the pass landed in that repository
                        log.warning("%s: %s", getattr(repo, "name", "repository"), exc)
            for app in batch:
                if app.name in results and landed:
                    r = results[app.name]
                    results[app.name] = replace(r, outcomes=tuple(_settled(o, landed) for o in r.outcomes))

    one_pass(apps)
    while True:
        pending = [a for a in apps if results[a.name].analysing]
        if not pending:
            break
        wait = min(results[a.name].requeue_after or 0.0 for a in pending)
        log.info("analysis in flight for %s; next measurement in %.1fs", ", ".join(a.name for a in pending), wait)
        sleep(wait)
        one_pass(pending)
    return [o for app in apps for o in results[app.name].outcomes]


def _settled(o: Outcome, landed: Mapping[str, Committed | Unchanged | Exception]) -> Outcome:
    """An outcome whose commit was built during the pass, as the pass's one push left it."""
    if o.sha is None or o.sha not in landed:
        return o
    result = landed[o.sha]
    if isinstance(result, Committed):
        return replace(o, sha=result.sha)
    if isinstance(result, Unchanged):
        return replace(o, status="unchanged", detail=result.reason, sha=None)
    kind = "transient" if isinstance(result, TransientError) else "permanent"
    return replace(o, status="error", detail=f"{o.detail}; not pushed: {result}", sha=None,
                   error_kind=kind)  # type: ignore[arg-type]


def target_files(apps: Iterable[AppConfig], repository: str) -> list[str]:
    """The files `apps` edit and read in `repository` (targets, and Rollouts kept apart from them)."""
    return list(dict.fromkeys(f for a in apps if a.repository == repository for t in a.targets.values()
                              for f in (t.file, t.steps_file)))


@contextmanager
def pinned(ports: Ports, apps: Sequence[AppConfig]) -> Iterator[Sequence[Pinnable]]:
    """One pass over `apps`: each deployment repository they use is fetched once, and every read
    of the pass is at that head (writes still fetch), the apps' files read at it in one go. A
    repository that cannot be fetched now stays unpinned: its apps' reads fetch, and fail, each
    with its own outcome."""
    pins: dict[str, Pinnable] = {}
    for name in dict.fromkeys(a.repository for a in apps):
        candidate = ports.repos.get(name)
        if isinstance(candidate, Pinnable):
            pins[name] = candidate
    for name, repo in pins.items():
        try:
            repo.pin(target_files(apps, name))
        except PromoterError as exc:
            log.warning("%s: %s", getattr(repo, "name", "repository"), exc)
    try:
        yield list(pins.values())
    finally:
        for repo in pins.values():
            repo.unpin()
