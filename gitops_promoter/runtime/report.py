"""`status`: one row per app × environment, from an observe pass and the status page's view of it.

`observe` runs the reconcile in observe mode (it reads and decides, never writes) with the status
page's taps on the repositories and clusters, so the row says what the page says — live tag and
digest, the open pull request, the canary's step and weight, the gate's analysis, the rejected
tags and how to lift them, the `git revert` that rolls back — and the outcomes say why. The
write-back and the canary of one environment are one row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gitops_promoter.config.schema import AppConfig, Config
from gitops_promoter.runtime.statuspage import CanaryState, EnvStatus, Keeper
from gitops_promoter.runtime.wiring import Wired, drive
from gitops_promoter.workflows.outcome import Outcome

_CANARY_PREFIX = re.compile(r"^canary: ([a-z]+): ")  # workflows.canary's observe detail: "canary: <action>: why"


def observe(config: Config, wired: Wired, apps: Sequence[AppConfig],
            envs: frozenset[str] | None = None) -> tuple[list[Outcome], Keeper]:
    """An observe pass over `apps`, and the status page's view of it."""
    keeper = Keeper(config, journal=wired.journal)
    ports = wired.ports()
    ports = replace(ports, repos={n: keeper.tap_repo(n, r) for n, r in ports.repos.items()},
                    clusters={n: keeper.tap_cluster(n, c) for n, c in ports.clusters.items()})
    outcomes = drive(config, ports, apps=apps, mode="observe", envs=envs)
    for app in apps:
        keeper.after(app, [o for o in outcomes if o.app == app.name], repo=ports.repos[app.repository])
    return outcomes, keeper


def rows(config: Config, outcomes: Sequence[Outcome], keeper: Keeper) -> list[dict[str, Any]]:
    """One row per app × environment that has outcomes, in config order (`status -o json`)."""
    seen = {(a.name, e.env): e for a in keeper.snapshot(state="cli").apps for e in a.envs}
    out = []
    for app in config.apps:
        for env in config.environments:
            mine = [o for o in outcomes if o.app == app.name and o.env == env.name]
            if mine:
                out.append(row(app.name, env.name, env.mode, mine, seen.get((app.name, env.name))))
    return out


def row(app: str, env: str, mode: str, outcomes: Sequence[Outcome], page: EnvStatus | None) -> dict[str, Any]:
    write = next((o for o in outcomes if o.stage != "canary"), None)
    canary = next((o for o in outcomes if o.stage == "canary"), None)
    main = write or canary
    assert main is not None
    live = page.live if page is not None and page.live else next((o.from_tag for o in outcomes if o.from_tag), None)
    status = "error" if any(o.status == "error" for o in outcomes) else main.status
    return {
        "app": app, "env": env, "mode": mode, "live": live,
        "digest": page.digest if page else None,
        "status": status,
        "reason": main.detail if write is not None else _canary_reason(main.detail),
        "to": main.to_tag if main.to_tag and main.to_tag != main.from_tag else None,
        "pr": next((o.pr for o in outcomes if o.pr is not None), None),
        "canary": _canary(canary, page.canary if page else None) if canary is not None else None,
        "rollback": page.rollback if page else next((o.rollback for o in outcomes if o.rollback), None),
        "rejected": [{"tag": r.tag, "why": r.why, "lift": r.lift} for r in page.rejected] if page else [],
    }


def _canary_reason(detail: str) -> str:
    return _CANARY_PREFIX.sub("", detail)


def _canary(o: Outcome, state: CanaryState | None) -> dict[str, Any]:
    decided = _CANARY_PREFIX.match(o.detail)
    out: dict[str, Any] = {"status": o.status, "decision": decided.group(1) if decided else o.status,
                           "reason": _canary_reason(o.detail), "step": None, "steps": None,
                           "weight": None, "phase": None, "at_gate": False, "gate": None}
    if state is not None:
        out.update(step=state.step, steps=state.steps, weight=state.weight, phase=state.phase,
                   at_gate=state.at_gate)
        if state.gate is not None:
            out["gate"] = {"step": state.gate.step, "phase": state.gate.phase, "metrics": [
                {"metric": c.metric, "phase": c.phase, "reason": c.reason, "dry_run": c.dry_run,
                 "values": [p.value for p in c.points]} for c in state.gate.charts]}
    return out


def where(c: dict[str, Any]) -> str:
    """Where a canary stands, in a few words: `at gate 1 (step 1 of 4, 20%)`."""
    if c["step"] is None:
        return c["phase"] or "not seen"
    place = f"at gate {c['step']}" if c["at_gate"] else (c["phase"] or "step")
    detail = f"step {c['step']} of {c['steps']}" + (f", {c['weight']}%" if c["weight"] is not None else "")
    text = f"{place} ({detail})"
    if c["gate"] is not None:
        taken = sum(len(m["values"]) for m in c["gate"]["metrics"])
        text += f", analysis {c['gate']['phase']}: {taken} measurement(s)"
    return text


def text_line(r: dict[str, Any]) -> str:
    """`web/dev: live v1.1.0; unchanged: …; canary at gate 1 (…): …; roll back: git revert …`"""
    move = f" → {r['to']}" if r["to"] else ""
    pr = f" (#{r['pr']})" if r["pr"] is not None else ""
    line = f"{r['app']}/{r['env']}: live {r['live'] or '(none)'}; {r['status']}{move}{pr}: {r['reason']}"
    c = r["canary"]
    if c is not None and c["reason"] != r["reason"]:
        line += f"; canary {where(c)}: {c['reason']}"
    if r["rejected"]:
        line += "; rejected: " + ", ".join(x["tag"] for x in r["rejected"])
    if r["rollback"]:
        line += f"; roll back: {r['rollback']}"
    return line


def table(data: Sequence[dict[str, Any]]) -> Any:
    """A rich Table for a terminal."""
    from rich.table import Table
    from rich.text import Text

    t = Table(show_lines=True, header_style="bold")
    canaries = any(r["canary"] is not None for r in data)  # columns nobody has are left out
    rollbacks = any(r["rollback"] for r in data)
    for name in ("app/env", "live", "status", "why", *(["canary"] if canaries else []),
                 *(["roll back"] if rollbacks else [])):
        t.add_column(name, overflow="fold")
    style = {"error": "red", "unchanged": "", "waiting": "yellow", "inconclusive": "yellow"}
    for r in data:
        move = f" → {r['to']}" if r["to"] else ""
        pr = f" #{r['pr']}" if r["pr"] is not None else ""
        c = r["canary"]
        canary = "" if c is None else f"{c['decision']}: {where(c)}" + (
            f"\n{c['reason']}" if c["reason"] != r["reason"] else "")
        why = r["reason"] + ("\nrejected: " + ", ".join(x["tag"] for x in r["rejected"]) if r["rejected"] else "")
        live = (r["live"] or "(none)") + (f"\n{r['digest'][:19]}" if r["digest"] else "")
        # Text, not markup: tags, reasons and queries hold brackets of their own.
        cells = [Text(f"{r['app']}/{r['env']}"), Text(live),
                 Text(f"{r['status']}{move}{pr}", style=style.get(r["status"], "green")), Text(why)]
        cells += [Text(canary)] if canaries else []
        cells += [Text(r["rollback"] or "")] if rollbacks else []
        t.add_row(*cells)
    return t
