"""The commands a person runs once: `run --once`, `promote` / `rollback`, `status`.

Each loads the config, takes the workdir lock (a read-only command reads through a temporary clone
when another process holds it), wires the adapters (runtime.wiring) and drives a pass.
"""

from __future__ import annotations

import logging
import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from gitops_promoter.config.schema import AppConfig, Config
from gitops_promoter.errors import PromoterError
from gitops_promoter.runtime.lock import LockHeld, WorkdirLock
from gitops_promoter.runtime.tagcache import TagCache
from gitops_promoter.runtime.wiring import Wired, drive, load, workdir_for
from gitops_promoter.workflows.outcome import Outcome

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
            if not dry_run:
                wired.repair()
            # One tag listing per image repository for the whole run, shared by every app using it.
            ports = replace(wired.ports(), registry=TagCache(wired.registry, ttl=math.inf))
            outcomes = drive(config, ports, apps=_selected(config, apps), mode="dry-run" if dry_run else "run")
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


def status(*, config_path: str, apps: frozenset[str] | None = None, workdir: str | None = None) -> int:
    """Per app × environment: what runs, what is proposed, who approved, why nothing moved. Writes nothing."""
    config = load(config_path, apps)
    if config is None:
        return 1

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            outcomes = drive(config, wired.ports(), apps=_selected(config, apps), mode="observe")
        finally:
            wired.close()
        for o in outcomes:
            print(o.status_line())
        return 1 if any(o.status == "error" for o in outcomes) else 0

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=False, work=work))


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

