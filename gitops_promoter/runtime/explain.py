"""`explain APP ENV`: why the last candidate did or did not move there, and what would change it.

Nothing here decides: the reasons come from an observe pass (the reconcile's own decisions, as
`status` prints them), the status page's view of the environment (rejections, the canary, the
gate's analysis from the journal) and the policy's own filters and pick on the registry's tags.
This module only lays them out and names the command a person would run next.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

from gitops_promoter.config.schema import AppConfig, Config, EnvironmentConfig
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import Candidate, TagInfo
from gitops_promoter.errors import PromoterError
from gitops_promoter.ports import Registry
from gitops_promoter.runtime import report
from gitops_promoter.runtime.commands import _guarded_cli, _with_workdir, one_target
from gitops_promoter.runtime.wiring import Wired
from gitops_promoter.workflows.discover import gather_tags

SHOWN = 8  # tags listed


def explain(*, config_path: str, app: str, env: str, workdir: str | None = None) -> int:
    named = one_target(config_path, app, env)
    if named is None:
        return 1
    config, chosen, environment = named

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            outcomes, keeper = report.observe(config, wired, [chosen], envs=frozenset({env}))
            rows = report.rows(config, outcomes, keeper)
            tags = _considered(wired.registry, chosen) if environment.mode == "direct" else None
        finally:
            wired.close()
        if not rows:
            print(f"{app}/{env}: nothing was looked at", file=sys.stderr)
            return 1
        for line in lines(config, chosen, environment, rows[0], tags):
            print(line)
        return 1 if rows[0]["status"] == "error" else 0

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=False, work=work))


def _considered(registry: Registry, app: AppConfig) -> list[Candidate] | str:
    """The registry's tags past the policy's filters, newest first by the policy's ordering (or
    why they could not be listed)."""
    try:
        tags = gather_tags(registry, app.image, app.policy)
    except PromoterError as exc:
        return str(exc)
    return ordered(app.policy, app.policy.candidates(tags))


def ordered(policy: Policy, cands: list[Candidate]) -> list[Candidate]:
    """Newest first by `policy.compare`; tags it cannot order keep their place at the end."""
    known = [c for c in cands if policy.compare(c.tag, c.tag) is not None]
    rest = [c for c in cands if c not in known]

    def cmp(a: Candidate, b: Candidate) -> int:
        return -(policy.compare(a.tag, b.tag) or 0)

    return sorted(known, key=functools.cmp_to_key(cmp)) + rest


def lines(config: Config, app: AppConfig, env: EnvironmentConfig, row: dict[str, Any],
          tags: list[Candidate] | str | None) -> list[str]:
    """The explanation, line by line: what runs, what the pass decided and why, the policy and
    the tags it considered (direct) or the environment before it and the approval rule
    (pull request), the canary and its gate's analysis, rejections; then what would change it."""
    name = f"{app.name}/{env.name}"
    live = row["live"] or "(none)"
    out = [f"{name} ({env.mode}): live {live}" + (f" ({row['digest']})" if row["digest"] else "")]
    move = f" → {row['to']}" if row["to"] else ""
    pr = f" (pull request #{row['pr']})" if row["pr"] is not None else ""
    out.append(f"last candidate: {row['status']}{move}{pr}: {row['reason']}")
    if row["status"].startswith("would-"):
        out.append(f"the next pass does it by itself (the service, or `gitops-promoter run --once --app {app.name}`)")
    rejected = {r["tag"]: r for r in row["rejected"]}
    todo: list[str] = []
    if env.mode == "direct":
        out.append(f"policy: {app.policy.describe()}")
        if isinstance(tags, str):
            out.append(f"tags: not listed: {tags}")
        elif tags is not None:
            pick = app.policy.select([c.tag for c in tags if c.tag.name not in rejected])
            shown = ", ".join(_tag(c.tag, live, rejected) for c in tags[:SHOWN])
            more = f" and {len(tags) - SHOWN} more" if len(tags) > SHOWN else ""
            out.append(f"tags the policy considers, newest first: {shown or 'none'}{more}")
            out.append(f"the policy picks: {pick.name if pick else 'nothing'}")
            other = next((c.tag.name for c in tags if c.tag.name not in (live, *rejected)), None)
            if other is not None:
                todo.append(f"gitops-promoter promote {app.name} {env.name} --tag {other}   "
                            "# commit a chosen tag now")
    else:
        index = [e.name for e in config.environments].index(env.name)
        before = config.environments[index - 1].name if index > 0 else None
        rule = env.approval.describe() if env.approval is not None else "1 approval from anyone with access"
        out.append(f"takes what {before} runs, by pull request; merges when: {rule}")
        if row["pr"] is not None and row["status"] in ("waiting", "proposed", "updated", "rebuilt"):
            todo.append(f"approve pull request #{row['pr']} ({rule}); the promoter merges it on its next pass")
        todo.append(f"gitops-promoter promote {app.name} {env.name} --tag TAG   # propose a chosen tag instead")
    c = row["canary"]
    if c is not None:
        out.append(f"canary ({c['decision']}): {report.where(c)}: {c['reason']}")
        if c["gate"] is not None:
            for m in c["gate"]["metrics"]:
                values = ", ".join("error" if v is None else f"{v:g}" for v in m["values"]) or "none yet"
                dry = " (dryRun)" if m["dry_run"] else ""
                out.append(f"  {m['metric']}{dry}: {m['phase']}: {m['reason']}; values: {values}")
        if c["at_gate"] or c["status"] == "inconclusive":
            todo.append(f"gitops-promoter promote {app.name} {env.name}   # pass the gate without analysis")
            todo.append(f"gitops-promoter rollback {app.name} {env.name}   # revert the release")
            todo.append(f"gitops-promoter analysis run {app.name} {env.name}"
                        + (f" --gate {c['step']}" if c["step"] is not None else "")
                        + "   # measure the gate's metrics once now")
    for tag, r in rejected.items():
        out.append(f"rejected: {tag}: {r['why']}")
        todo.append(f"{r['lift']}   # {tag} becomes a candidate again")
    if row["status"] == "error":
        todo.insert(0, f"fix the error above, then: gitops-promoter run --once --app {app.name}")
    if row["rollback"]:
        todo.append(f"gitops-promoter rollback {app.name} {env.name}   # or: {row['rollback']}")
    out.append("to change it:" if todo else "nothing to change: it moves by itself when a new candidate comes")
    out += [f"  {t}" for t in todo]
    return out


def _tag(tag: TagInfo, live: str, rejected: dict[str, Any]) -> str:
    if tag.name == live:
        return f"{tag.name} (live)"
    if tag.name in rejected:
        return f"{tag.name} (rejected)"
    return tag.name
