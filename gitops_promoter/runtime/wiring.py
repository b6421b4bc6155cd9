"""Wiring: config → adapters → workflows. The only place that knows every layer."""

from __future__ import annotations

import sys
from pathlib import Path

from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.registry import RegistryHub
from gitops_promoter.config import load_config
from gitops_promoter.config.schema import Config
from gitops_promoter.errors import ConfigError
from gitops_promoter.workflows.discover import Outcome, promote_direct


def workdir_for(config: Config, override: str | None) -> Path:
    """Working clones live in state.workdir, relative to the config file's folder."""
    raw = Path(override or config.state.workdir)
    return raw if raw.is_absolute() else (Path(config.path).resolve().parent / raw)


def run_once(*, config_path: str, dry_run: bool = False, apps: frozenset[str] | None = None,
             workdir: str | None = None) -> int:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    if apps:
        unknown = apps - {a.name for a in config.apps}
        if unknown:
            print(f"unknown app(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 1
    root = workdir_for(config, workdir)
    repos = {name: GitRepo(cfg, workdir=root) for name, cfg in config.repositories.items()}
    hub = RegistryHub(config.registry_for)
    try:
        outcomes = promote_direct(config, registry=hub, repos=repos, dry_run=dry_run, apps=apps)
    finally:
        hub.close()
    print_summary(outcomes)
    return 1 if any(o.status == "error" for o in outcomes) else 0


def print_summary(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        print(o.line())
        if o.diff:
            print(o.diff, end="" if o.diff.endswith("\n") else "\n")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do (no direct targets)"
    print(f"summary: {summary}")
