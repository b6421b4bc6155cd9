"""Reconcile one app: the unit `run --once`, the service and the tests all call.

It walks the app's environments in chain order — for each, the write-back (a direct bump or a
pull request) and then its canary — and returns the outcomes plus when it wants to run again
(`requeue_after`). It never sleeps: an analysis in flight, or a transient fault, says when it is
due, and the caller schedules it. This is the only place that enumerates app × environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from gitops_promoter.config.schema import AppConfig, Config, EnvironmentConfig
from gitops_promoter.deadline import deadline, passed
from gitops_promoter.domain.history import current_release
from gitops_promoter.errors import PromoterError
from gitops_promoter.ports import Cluster, CodeHost, DeployRepo, Journal, Metrics, Pinnable, Registry
from gitops_promoter.workflows import discover
from gitops_promoter.workflows.outcome import Outcome

Mode = Literal["run", "dry-run", "observe"]
WRITE_BACK, CANARY = "write-back", "canary"  # the two stages of an environment
# A canary in one of these moves on in the cluster without the promoter: look again soon.
IN_MOTION = frozenset({"waiting", "advanced", "reverted"})


@dataclass(frozen=True)
class Ports:
    """Everything a reconcile talks to, by name as the config names it."""

    registry: Registry
    repos: Mapping[str, DeployRepo]
    journal: Journal
    hosts: Mapping[str, CodeHost] = field(default_factory=dict)
    host_errors: Mapping[str, str] = field(default_factory=dict)  # repository → why its code host is unusable
    clusters: Mapping[str, Cluster] = field(default_factory=dict)
    metrics: Mapping[str, Metrics] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    recheck: float | None = None  # the service: look again this soon at a canary in motion (None: don't)


@dataclass(frozen=True)
class Reconciled:
    app: str
    outcomes: tuple[Outcome, ...]
    requeue_after: float | None  # seconds until the promoter has its own work here again; None: nothing

    @property
    def analysing(self) -> bool:
        return any(o.status == "analysing" for o in self.outcomes)

    @property
    def errors(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "error")


def reconcile(config: Config, app: AppConfig, ports: Ports, *, mode: Mode = "run",
              envs: frozenset[str] | None = None, force: str | None = None,
              skip: frozenset[tuple[str, str]] = frozenset(),
              stopping: Callable[[], bool] = lambda: False) -> Reconciled:
    """`mode`: "run" writes; "dry-run" shows the diffs of write-backs (canaries are not driven);
    "observe" reads and decides, writes nothing (for `status`). `force` ("promote" | "rollback")
    is a person's decision on `envs` only; write-backs are left alone then. It goes to the
    environment's canary when one is driven; otherwise "rollback" reverts the environment's live
    release (workflows.rollback) and "promote" has nothing to advance.
    `skip` names (environment, stage) pairs not to run now (the service parks them); `stopping`
    is asked between stages: once it says so, nothing more is started."""
    with deadline(config.state.app_deadline):
        return _reconcile(config, app, ports, mode=mode, envs=envs, force=force, skip=skip, stopping=stopping)


def _reconcile(config: Config, app: AppConfig, ports: Ports, *, mode: Mode, envs: frozenset[str] | None,
               force: str | None, skip: frozenset[tuple[str, str]], stopping: Callable[[], bool]) -> Reconciled:
    outcomes: list[Outcome] = []
    chain = list(config.environments)
    repo = ports.repos[app.repository]
    for index, env in enumerate(chain):
        target = app.targets.get(env.name)
        if target is None or (envs is not None and env.name not in envs):
            continue
        if passed() and not stopping():
            outcomes.append(Outcome(app.name, env.name, "error", f"the app's pass deadline "
                                    f"(state.app_deadline, {config.state.app_deadline:g}s) passed before {env.name}; "
                                    "it runs again next pass", error_kind="transient"))
            continue
        if force is None and (env.name, WRITE_BACK) not in skip and not stopping():
            _new_decision(repo)
            outcomes.append(write_back(config, app, index, ports, mode=mode))
        driven = app.canary is not None and bool(target.rollout) and bool(target.cluster)
        if mode != "dry-run" and driven and (env.name, CANARY) not in skip and not stopping():
            _new_decision(repo)
            outcome = _canary(app, env, ports, mode=mode, force=force, config=config)
            if ports.recheck is not None and outcome.status in IN_MOTION and outcome.requeue_after is None:
                outcome = replace(outcome, requeue_after=ports.recheck)
            outcomes.append(replace(outcome, stage=CANARY))
        elif force is not None and mode == "run" and not driven and (env.name, WRITE_BACK) not in skip \
                and not stopping():
            outcomes.append(replace(_decide(app, env, ports, force=force), stage=WRITE_BACK))
    if mode == "observe":
        outcomes = _with_rollback([_observed(o) for o in outcomes], ports.repos[app.repository], app)
    waits = [o.requeue_after for o in outcomes if o.requeue_after is not None]
    return Reconciled(app.name, tuple(outcomes), min(waits) if waits else None)


def _new_decision(repo: DeployRepo) -> None:
    """Each stage decides on what it reads itself: its write checks those files did not move since."""
    if isinstance(repo, Pinnable):
        repo.forget_reads()


def _with_rollback(outcomes: list[Outcome], repo: DeployRepo, app: AppConfig) -> list[Outcome]:
    """For `status`: the exact `git revert` that rolls back each environment's live release of the
    promoter's — its gate advances, newest first, then its bump (the bump armed the gates the
    advances passed, so reverting the bump alone would not apply)."""
    try:
        history = repo.history(app=app.name)
    except PromoterError:
        return outcomes
    out: list[Outcome] = []
    releases = {env: current_release(history, app=app.name, env=env) for env in dict.fromkeys(o.env for o in outcomes)}
    for o in outcomes:
        release = releases[o.env]
        if release is not None and o.from_tag == release.tag:  # said once, on the environment's first line
            o = replace(o, rollback="git revert --no-edit " + " ".join(sha[:12] for sha in release.commits))
            releases[o.env] = None
        out.append(o)
    return out


def _observed(o: Outcome) -> Outcome:
    """What `status` shows: never a diff (a direct environment is decided as a dry run)."""
    return replace(o, diff=None)


def write_back(config: Config, app: AppConfig, index: int, ports: Ports, *, mode: Mode = "run",
               tag: str | None = None) -> Outcome:
    """The write-back stage of the app in environment `index`: a direct commit or the environment's
    pull request. `tag`: a person's choice (`promote --tag`) instead of the policy's pick."""
    env = config.environments[index]
    if env.mode == "direct":
        outcome = discover.bump(app, app.targets[env.name], registry=ports.registry,
                                repo=ports.repos[app.repository], dry_run=mode != "run", tag=tag)
    else:
        outcome = _propose(app, index, ports, mode=mode, config=config, tag=tag)
    return replace(outcome, stage=WRITE_BACK)


def _propose(app: AppConfig, index: int, ports: Ports, *, mode: Mode, config: Config,
             tag: str | None = None) -> Outcome:
    env = config.environments[index]
    if index == 0:
        return Outcome(app.name, env.name, "error", f"{env.name} is the first environment; pull requests take what "
                                                    "the environment before them runs", error_kind="permanent")
    before = config.environments[index - 1]
    source = app.targets.get(before.name)
    if source is None:
        return Outcome(app.name, env.name, "error", f"no target for {before.name}, the environment before {env.name}",
                       error_kind="permanent")
    host = ports.hosts.get(app.repository)
    if host is None:
        problem = ports.host_errors.get(app.repository) or \
            f"repository {app.repository} has no github section for pull requests"
        return Outcome(app.name, env.name, "error", problem, error_kind="permanent")
    from gitops_promoter.workflows import propose  # pull-request code: loaded where an environment uses it

    step = propose.Step(app, env, before.name, app.targets[env.name], source, ports.repos[app.repository], host,
                        ports.registry, ports.clusters, clock=ports.clock)
    return propose.propose(step, dry_run=mode == "dry-run", observe=mode == "observe", tag=tag)


def _decide(app: AppConfig, env: EnvironmentConfig, ports: Ports, *, force: str) -> Outcome:
    """A person's decision on an environment without a canary: roll its live release back."""
    if force != "rollback":
        return Outcome(app.name, env.name, "unchanged", f"nothing to promote: {env.name} has no canary")
    from gitops_promoter.workflows import rollback

    r = rollback.Rollback(app.name, env.name, ports.repos[app.repository], ports.hosts.get(app.repository),
                          ports.host_errors.get(app.repository))
    return rollback.rollback(r)


def _canary(app: AppConfig, env: EnvironmentConfig, ports: Ports, *, mode: Mode, force: str | None,
            config: Config) -> Outcome:
    assert app.canary is not None
    target = app.targets[env.name]
    cluster = ports.clusters.get(str(target.cluster))
    if cluster is None:
        return Outcome(app.name, env.name, "error", f"cluster {target.cluster} is not reachable",
                       error_kind="transient")
    # Every environment's canary gets the code host: a revert the branch refuses becomes a pull request.
    host = ports.hosts.get(app.repository)
    from gitops_promoter.workflows import canary  # canary code: loaded where an app has one

    c = canary.Canary(app, env.name, target, app.canary, ports.repos[app.repository], cluster, ports.metrics, host,
                      prometheus_urls={name: p.url for name, p in config.prometheus.items()})
    return canary.drive(c, journal=ports.journal, clock=ports.clock, force=force, observe=mode == "observe")
