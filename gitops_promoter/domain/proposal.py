"""Pull-request promotion: what a staging/prod PR should propose, and how it reads.

A pull-request environment takes what the environment before it runs now (committed there and
not reverted: the file is the record). One PR per app × environment lives on the branch
`promoter/<env>/<app>`; its body carries a machine-readable marker so the promoter can rebuild
its state from GitHub alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitops_promoter.domain.edits import Running
from gitops_promoter.domain.plan import escape_text
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.domain.titles import render_title

_MARKER = re.compile(r"<!-- gitops-promoter (\{.*?\}) -->")


@dataclass(frozen=True)
class Proposal:
    app: str
    env: str
    source_env: str
    from_tag: str | None
    tag: str
    digest: str | None
    chosen: bool = False  # a person chose the tag (`promote --tag`), not what the source environment runs


@dataclass(frozen=True)
class PromotionPlan:
    """`proposal` is what the PR should carry; None means no PR should be open, for `reason`."""

    proposal: Proposal | None
    reason: str
    keep_open: bool = False  # the candidate may still qualify (e.g. its canary is running): do not close a PR


def branch_name(env: str, app: str) -> str:
    return f"promoter/{env}/{app}"


def plan_promotion(*, app: str, env: str, source_env: str, policy: Policy, candidate: Running, running: Running,
                   rejected: Mapping[str, str], source_unhealthy: str | None = None,
                   chosen: bool = False) -> PromotionPlan:
    """Decide what `env` should be offered, given what `source_env` runs (`candidate`).
    `source_unhealthy` says why the source environment is not healthy on it yet (its canary has not
    completed); a candidate is only what runs there *and* completed there. `chosen`: a person chose
    the candidate (`promote --tag`): it need not run in `source_env` nor be newer; a rejection stands."""
    tag = candidate.tag
    if chosen and tag is not None:
        if tag == running.tag:
            return PromotionPlan(None, f"{env} already runs {tag}")
        if tag in rejected:  # refused; an open PR for another tag is none of this choice's business
            return PromotionPlan(None, f"{tag} was rejected for {env}: {rejected[tag]}; lift it first with "
                                       f"`gitops-promoter allow {app} {env} {tag}`", keep_open=True)
        return PromotionPlan(Proposal(app, env, source_env, running.tag, tag, candidate.digest, chosen=True),
                             f"a person chose {tag} (gitops-promoter promote --tag)")
    if tag is None:
        return PromotionPlan(None, f"{source_env} runs no tag of {app} yet")
    if tag == running.tag and (candidate.digest is None or running.digest in (None, candidate.digest)):
        return PromotionPlan(None, f"{env} already runs {tag}, as {source_env} does")
    if tag in rejected:
        return PromotionPlan(None, f"{tag} was rejected for {env}: {rejected[tag]}")
    if source_unhealthy:
        return PromotionPlan(None, f"waiting for {source_env}'s canary to complete on {tag}: {source_unhealthy}",
                             keep_open=True)
    if running.tag is not None:
        order = policy.compare(TagInfo(running.tag), TagInfo(tag))
        if order is not None and order > 0:
            return PromotionPlan(None, f"{env} runs {running.tag}, newer than {source_env}'s {tag}; "
                                       "the promoter only moves forward")
    return PromotionPlan(Proposal(app, env, source_env, running.tag, tag, candidate.digest),
                         f"{source_env} runs {tag}")


def title(p: Proposal, *, template: str | None = None) -> str:
    """The PR's title: O&M's template (domain.titles), or `promote(<env>): <app> <from> → <to>`; one
    line, control characters and line breaks escaped."""
    if template is not None:
        return escape_text(render_title(template, app=p.app, env=p.env, from_tag=p.from_tag, to_tag=p.tag))
    arrow = f"{p.from_tag} → {p.tag}" if p.from_tag else p.tag
    return escape_text(f"promote({p.env}): {p.app} {arrow}")


def marker(p: Proposal) -> str:
    data: dict[str, str | bool | None] = {"app": p.app, "env": p.env, "tag": p.tag, "digest": p.digest,
                                          "from": p.from_tag}
    if p.chosen:
        data["chosen"] = True
    return f"<!-- gitops-promoter {json.dumps(data, sort_keys=True)} -->"


def parse_marker(body: str | None) -> dict[str, str | bool | None] | None:
    """The proposal facts a promoter PR body carries, or None for any other PR."""
    m = _MARKER.search(body or "")
    if m is None:
        return None
    try:
        data = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and "tag" in data else None


def body(p: Proposal, *, rule: str, carried: Sequence[tuple[str, str]], source_commit: tuple[str, str] | None,
         image: str) -> str:
    """The PR description: what moves, from where, the commits it carries, and what it waits for."""
    lines = [
        f"The promoter proposes **{p.app}** `{p.tag}` for **{p.env}**: "
        + ("a person chose it (`gitops-promoter promote --tag`)." if p.chosen else f"{p.source_env} runs it now."),
        "",
        "| | |", "| --- | --- |",
        f"| app | `{p.app}` (`{image}`) |",
        f"| from | `{p.from_tag or '(none)'}` |",
        f"| to | `{p.tag}` |",
        f"| digest | `{p.digest or 'unknown'}` |",
        f"| source | {p.source_env}" + (f", commit {source_commit[0][:10]} {source_commit[1]}" if source_commit else "")
        + " |",
        "",
        "Commits of the deployment repository this pull request carries:",
        "",
    ]
    lines += [f"- {sha[:10]} {subject}" for sha, subject in carried] or ["- (none yet)"]
    lines += ["", f"Merges itself when the approval rule holds: {rule}.", "",
              "Closing this pull request without merging rejects this tag for this environment; "
              "a newer tag will still be proposed.", "", marker(p)]
    return "\n".join(lines) + "\n"
