"""The commands a person runs once: `run --once`, `promote` (a gate, or `--tag`) / `rollback`, `allow`,
`status`.

Each loads the config, takes the workdir lock (a read-only command reads through a temporary clone
when another process holds it), wires the adapters (runtime.wiring) and drives a pass.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from gitops_promoter.config.schema import AppConfig, Config, EnvironmentConfig
from gitops_promoter.domain.edits import read_running
from gitops_promoter.domain.history import moved_back_by_hand, rejected_tags
from gitops_promoter.domain.plan import render_message
from gitops_promoter.domain.tags import tag_problem
from gitops_promoter.errors import PromoterError
from gitops_promoter.runtime.lock import LockHeld, WorkdirLock
from gitops_promoter.runtime.tagcache import TagCache
from gitops_promoter.runtime.wiring import Wired, drive, load, workdir_for
from gitops_promoter.workflows.outcome import Outcome
from gitops_promoter.workflows.reconcile import write_back

log = logging.getLogger(__name__)


def _selected(config: Config, apps: frozenset[str] | None) -> list[AppConfig]:
    return [a for a in config.apps if apps is None or a.name in apps]


def _with_workdir(config: Config, workdir: str | None, *, writes: bool, work: Callable[[Path], int]) -> int:
    """Run `work` holding the workdir lock (writers repair a killed writer's leftovers first, under
    it). A read-only command finding the lock held reads through a private temporary clone instead."""
    root = workdir_for(config, workdir)
    lock = WorkdirLock(root, timeout=config.state.lock_timeout if writes else 0.0)
    try:
        lock.acquire()
    except LockHeld as exc:
        if writes:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        log.info("%s; reading through a temporary clone", exc)
        with tempfile.TemporaryDirectory(prefix="gitops-promoter-read-") as tmp:
            return work(Path(tmp))
    try:
        return work(root)
    finally:
        lock.release()


def run_once(*, config_path: str, dry_run: bool = False, apps: frozenset[str] | None = None,
             workdir: str | None = None) -> int:
    config = load(config_path, apps)
    if config is None:
        return 1

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            # One tag listing per image repository for the whole run, shared by every app using it,
            # asked while the pass repairs and fetches its repositories.
            ports = replace(wired.ports(), registry=TagCache(wired.registry, ttl=math.inf).prefetch_for(
                config, _selected(config, apps), wait=False))
            if not dry_run:
                wired.repair()
            outcomes = drive(config, ports, apps=_selected(config, apps), mode="dry-run" if dry_run else "run",
                             workers=config.server.workers)
        finally:
            wired.close()
        print_summary(outcomes)
        return 1 if any(o.status == "error" for o in outcomes) else 0

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=not dry_run, work=work))


def decide_canary(*, config_path: str, app: str, env: str, force: str, workdir: str | None = None) -> int:
    """`promote` / `rollback`: a person decides for one app in one environment: its canary's gate,
    or (`rollback`, in any environment) a revert of its live release."""
    config = load(config_path, frozenset({app}))
    if config is None:
        return 1
    if env not in {e.name for e in config.environments}:
        print(f"unknown environment: {env}", file=sys.stderr)
        return 1

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            wired.repair()
            outcomes = drive(config, wired.ports(), apps=_selected(config, frozenset({app})),
                             envs=frozenset({env}), force=force)
        finally:
            wired.close()
        if not outcomes:
            print(f"{app}/{env}: the app has no target in {env}", file=sys.stderr)
            return 1
        print_summary(outcomes)
        return 1 if any(o.status == "error" for o in outcomes) else 0

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=True, work=work))


def status(*, config_path: str, apps: frozenset[str] | None = None, workdir: str | None = None,
           output: str = "text") -> int:
    """Per app × environment one row: what runs, what is proposed, who approved, the canary, why
    nothing moved. `output`: text (one line each), table (rich) or json. Writes nothing."""
    from gitops_promoter.runtime import report

    config = load(config_path, apps)
    if config is None:
        return 1

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            outcomes, keeper = report.observe(config, wired, _selected(config, apps))
            data = report.rows(config, outcomes, keeper)
        finally:
            wired.close()
        if output == "json":
            print(json.dumps(data, indent=2))
        elif output == "table":
            from rich.console import Console

            Console().print(report.table(data))
        else:
            for r in data:
                print(report.text_line(r))
        return 1 if any(r["status"] == "error" for r in data) else 0

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=False, work=work))


def one_target(config_path: str, app: str, env: str) -> tuple[Config, AppConfig, EnvironmentConfig] | None:
    """The config, and the app and environment a person named in it; None after saying what is wrong."""
    config = load(config_path, frozenset({app}))
    if config is None:
        return None
    found = _one_target(config, app, env)
    return None if found is None else (config, *found)


def _one_target(config: Config, app: str, env: str) -> tuple[AppConfig, EnvironmentConfig] | None:
    """The app and environment a person named, or None after saying what is wrong."""
    chosen = next(a for a in config.apps if a.name == app)
    environment = next((e for e in config.environments if e.name == env), None)
    if environment is None:
        print(f"unknown environment: {env} (environments: {', '.join(e.name for e in config.environments)})",
              file=sys.stderr)
        return None
    if env not in chosen.targets:
        print(f"{app} has no target in {env} (its environments: {', '.join(chosen.targets)})", file=sys.stderr)
        return None
    return chosen, environment


def promote_tag(*, config_path: str, app: str, env: str, tag: str, workdir: str | None = None) -> int:
    """`promote APP ENV --tag T`: a person's chosen tag, through the environment's mode — a commit
    in a direct environment, the environment's pull request in a pull-request one (it keeps the
    choice until merged or closed). Refused: a tag that is not a valid OCI tag, one the registry
    does not have, one rejected there (lift it with `allow`)."""
    problem = tag_problem(tag)
    if problem is not None:
        print(f"error: {tag!r} is not a valid tag: {problem}", file=sys.stderr)
        return 1
    named = one_target(config_path, app, env)
    if named is None:
        return 1
    config, chosen, environment = named

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            wired.repair()
            tags = wired.registry.list_tags(chosen.image)
            if tag not in tags:
                print(f"error: the registry has no tag {tag} for {chosen.image} ({len(tags)} tags there)",
                      file=sys.stderr)
                return 1
            ports = wired.ports()
            index = [e.name for e in config.environments].index(environment.name)
            outcome = write_back(config, chosen, index, ports, tag=tag)
        finally:
            wired.close()
        print(outcome.line())
        moved = outcome.status in ("bumped", "proposed", "updated", "merged", "waiting", "rebuilt") \
            and outcome.to_tag == tag
        return 0 if moved or (outcome.status == "unchanged" and outcome.from_tag == tag) else 1

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=True, work=work))


def allow(*, config_path: str, app: str, env: str, tag: str, workdir: str | None = None) -> int:
    """`allow APP ENV TAG`: lift the tag's rejection in that environment with a commit whose
    trailers say so (`Promoter-Action: allow`), as a rejection is recorded; in a pull-request
    environment `Promoter-PR` names the newest promoter pull request, whose closing no longer
    rejects. The commit changes no file."""
    named = one_target(config_path, app, env)
    if named is None:
        return 1
    config, chosen, environment = named

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            wired.repair()
            ports = wired.ports()
            repo = ports.repos[chosen.repository]
            history = repo.history(app=app)
            running = read_running(repo.read(chosen.targets[env].file), chosen.targets[env].edit,
                                   source=f"{repo.name}:{chosen.targets[env].file}")
            rejected = rejected_tags(history, app=app, env=env)
            rejected.update(moved_back_by_hand(history, app=app, env=env, running_tag=running.tag,
                                               policy=chosen.policy))
            trailers = {"Promoter-App": app, "Promoter-Env": env, "Promoter-Action": "allow", "Promoter-Tag": tag}
            why = rejected.get(tag)
            if environment.mode == "pull-request" and chosen.repository in ports.hosts:
                from gitops_promoter.domain.proposal import branch_name, parse_marker

                pulls = ports.hosts[chosen.repository].pulls(head_branch=branch_name(env, app), state="closed")
                closed = [p.number for p in pulls if not p.merged and (parse_marker(p.body) or {}).get("tag") == tag]
                if closed:
                    trailers["Promoter-PR"] = str(max(closed))
                    why = why or f"pull request #{max(closed)} closed unmerged"
            if why is None:
                print(f"{app}/{env}: {tag} is not rejected there; nothing to allow")
                return 0
            body = [f"A person lets {tag} be promoted to {env} again (gitops-promoter allow).",
                    f"It was rejected: {why}."]
            message = render_message(f"allow({env}): {app} {tag}", body, trailers)
            # A commit that changes no file: the revert of no commit is exactly that.
            result = repo.revert([], message=message)
        finally:
            wired.close()
        print(f"{app}/{env}: allowed {tag}: it was rejected ({why}); it is a candidate again [{result.sha[:10]}]")
        return 0

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=True, work=work))


def _guarded_cli(fn: Callable[[], int]) -> int:
    """A fault outside any one app (the journal cannot be opened, say) is one clear line, exit 1."""
    try:
        return fn()
    except PromoterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


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

