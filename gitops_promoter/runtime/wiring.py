"""Wiring: config → adapters → the reconcile unit. The only place that knows every layer.

Code-host and cluster clients (PyGithub, kubernetes) are imported only when the config uses them.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.registry import RegistryHub
from gitops_promoter.config import load_config
from gitops_promoter.config.schema import AppConfig, Config
from gitops_promoter.errors import ConfigError
from gitops_promoter.ports import Cluster, CodeHost, Journal, Metrics, Registry
from gitops_promoter.workflows.outcome import Outcome
from gitops_promoter.workflows.reconcile import Mode, Ports, Reconciled, reconcile

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


class Wired:
    """The adapters for one config: registries, deployment repos, code hosts, clusters, metrics, journal."""

    def __init__(self, config: Config, *, workdir: str | Path | None = None, journal: Journal | None = None,
                 host_factory: Callable[..., CodeHost] | None = None,
                 cluster_factory: Callable[..., Cluster] | None = None,
                 registry: Registry | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        """`sleep` is what the adapters wait with between retries (the service's wakes up on SIGTERM)."""
        self.config = config
        self.workdir = Path(workdir) if isinstance(workdir, Path) else workdir_for(config, workdir)
        self.repos = {name: GitRepo(cfg, workdir=self.workdir, sleep=sleep)
                      for name, cfg in config.repositories.items()}
        self._hub = RegistryHub(config.registry_for, sleep=sleep) if registry is None else None
        self.registry: Registry = registry or self._hub  # type: ignore[assignment]
        self.journal = journal if journal is not None else open_journal_for(config)
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

                host_factory = GitHubHost
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
        self.journal.close()


def drive(config: Config, ports: Ports, *, apps: Sequence[AppConfig], mode: Mode = "run",
          sleep: Callable[[float], None] = time.sleep, envs: frozenset[str] | None = None,
          force: str | None = None) -> list[Outcome]:
    """`run --once`: reconcile every app, then keep reconciling those with a gate's analysis in
    flight — waiting here, between reconciles, until its next measurement is due — until each
    settles or waits on something outside (Argo CD, a review). Outcomes in config order."""
    results: dict[str, Reconciled] = {}
    for app in apps:
        results[app.name] = reconcile(config, app, ports, mode=mode, envs=envs, force=force)
    while True:
        pending = [a for a in apps if results[a.name].analysing]
        if not pending:
            break
        wait = min(results[a.name].requeue_after or 0.0 for a in pending)
        log.info("analysis in flight for %s; next measurement in %.1fs", ", ".join(a.name for a in pending), wait)
        sleep(wait)
        for app in pending:
            results[app.name] = reconcile(config, app, ports, mode=mode, envs=envs, force=force)
    return [o for app in apps for o in results[app.name].outcomes]
