"""Wiring: config → adapters → workflows. The only place that knows every layer."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from gitops_promoter.adapters.github import GitHubHost
from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.kube import KubeCluster
from gitops_promoter.adapters.prometheus import PrometheusMetrics
from gitops_promoter.adapters.registry import RegistryHub
from gitops_promoter.config import load_config
from gitops_promoter.config.schema import Config
from gitops_promoter.errors import ConfigError
from gitops_promoter.ports import Cluster, CodeHost, Metrics
from gitops_promoter.workflows.canary import drive_canaries
from gitops_promoter.workflows.discover import promote_direct
from gitops_promoter.workflows.outcome import Outcome
from gitops_promoter.workflows.propose import promote_pull_requests

log = logging.getLogger(__name__)


def workdir_for(config: Config, override: str | None) -> Path:
    """Working clones live in state.workdir, relative to the config file's folder."""
    raw = Path(override or config.state.workdir)
    return raw if raw.is_absolute() else (Path(config.path).resolve().parent / raw)


def _load(config_path: str, apps: frozenset[str] | None) -> Config | None:
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


class Wired:
    """The adapters for one config: registries, deployment repos and code hosts."""

    def __init__(self, config: Config, *, workdir: str | None = None,
                 host_factory: Callable[..., CodeHost] = GitHubHost,
                 cluster_factory: Callable[..., Cluster] = KubeCluster) -> None:
        self.config = config
        root = workdir_for(config, workdir)
        self.repos = {name: GitRepo(cfg, workdir=root) for name, cfg in config.repositories.items()}
        self.registry = RegistryHub(config.registry_for)
        self.hosts: dict[str, CodeHost] = {}
        self.host_errors: dict[str, str] = {}
        self.clusters: dict[str, Cluster] = {}
        for name, cluster_cfg in config.clusters.items():
            try:
                self.clusters[name] = cluster_factory(cluster_cfg)
            except Exception as exc:  # noqa: BLE001 - kubernetes' config loader raises its own types
                log.warning("cluster %s cannot be used: %s", name, exc)
        self.metrics: dict[str, Metrics] = {}
        for name, prom_cfg in config.prometheus.items():
            try:
                self.metrics[name] = PrometheusMetrics(prom_cfg)
            except ConfigError as exc:
                log.warning("prometheus %s: %s", name, "; ".join(exc.problems))
        for name, cfg in config.repositories.items():
            if cfg.github is None:
                continue
            try:
                self.hosts[name] = host_factory(cfg.github)
            except ConfigError as exc:
                self.host_errors[name] = "; ".join(exc.problems)

    def close(self) -> None:
        self.registry.close()


def one_pass(wired: Wired, *, apps: frozenset[str] | None, mode: str) -> list[Outcome]:
    """Direct environments first (so a fresh dev bump is a candidate at once), then canaries, then
    pull requests. `mode`: "run" writes; "dry-run" shows diffs; "observe" only reads (status)."""
    config = wired.config
    writes = mode == "run"
    outcomes = promote_direct(config, registry=wired.registry, repos=wired.repos, dry_run=not writes, apps=apps)
    if mode == "observe":
        outcomes = [Outcome(o.app, o.env, o.status, o.detail, o.from_tag, o.to_tag) for o in outcomes]
    if mode != "dry-run":
        outcomes += drive_canaries(config, repos=wired.repos, clusters=wired.clusters, metrics=wired.metrics,
                                   apps=apps, hosts=wired.hosts, observe=not writes)
    outcomes += _host_errors(wired, apps)
    outcomes += promote_pull_requests(config, registry=wired.registry, repos=wired.repos, hosts=wired.hosts,
                                      apps=apps, dry_run=mode == "dry-run", observe=mode == "observe",
                                      hosts_failed=frozenset(wired.host_errors), clusters=wired.clusters)
    return outcomes


def run_once(*, config_path: str, dry_run: bool = False, apps: frozenset[str] | None = None,
             workdir: str | None = None) -> int:
    config = _load(config_path, apps)
    if config is None:
        return 1
    wired = Wired(config, workdir=workdir)
    try:
        outcomes = one_pass(wired, apps=apps, mode="dry-run" if dry_run else "run")
    finally:
        wired.close()
    print_summary(outcomes)
    return 1 if any(o.status == "error" for o in outcomes) else 0


def decide_canary(*, config_path: str, app: str, env: str, force: str, workdir: str | None = None) -> int:
    """`promote` / `rollback`: a person decides the canary of one app in one environment."""
    config = _load(config_path, frozenset({app}))
    if config is None:
        return 1
    if env not in {e.name for e in config.environments}:
        print(f"unknown environment: {env}", file=sys.stderr)
        return 1
    wired = Wired(config, workdir=workdir)
    try:
        outcomes = drive_canaries(config, repos=wired.repos, clusters=wired.clusters, metrics=wired.metrics,
                                  apps=frozenset({app}), envs=frozenset({env}), force=force)
    finally:
        wired.close()
    if not outcomes:
        print(f"{app}/{env}: no canary is configured (targets.{env}.rollout, cluster and canary)", file=sys.stderr)
        return 1
    print_summary(outcomes)
    return 1 if any(o.status == "error" for o in outcomes) else 0


def status(*, config_path: str, apps: frozenset[str] | None = None, workdir: str | None = None) -> int:
    """Per app × environment: what runs, what is proposed, who approved, why nothing moved. Writes nothing."""
    config = _load(config_path, apps)
    if config is None:
        return 1
    wired = Wired(config, workdir=workdir)
    try:
        outcomes = one_pass(wired, apps=apps, mode="observe")
    finally:
        wired.close()
    apps_order = [a.name for a in config.apps]
    envs_order = [e.name for e in config.environments]
    for o in sorted(outcomes, key=lambda o: (apps_order.index(o.app), envs_order.index(o.env))):
        print(o.status_line())
    return 1 if any(o.status == "error" for o in outcomes) else 0


def _host_errors(wired: Wired, apps: frozenset[str] | None) -> list[Outcome]:
    out = []
    for app in wired.config.apps:
        if apps is not None and app.name not in apps:
            continue
        problem = wired.host_errors.get(app.repository)
        if problem:
            for env in wired.config.environments:
                if env.mode == "pull-request" and env.name in app.targets:
                    out.append(Outcome(app.name, env.name, "error", problem))
    return out


def print_summary(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        print(o.line())
        if o.diff:
            print(o.diff, end="" if o.diff.endswith("\n") else "\n")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do (no targets)"
    print(f"summary: {summary}")
