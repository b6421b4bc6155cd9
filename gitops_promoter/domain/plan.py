"""Release plans: what an environment should run next, and the commit that says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gitops_promoter.domain.edits import Running
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo

TRAILER_KEYS = ("Promoter-App", "Promoter-Env", "Promoter-Action", "Promoter-Tag", "Promoter-Digest",
                "Promoter-Step")


@dataclass(frozen=True)
class Bump:
    app: str
    env: str
    from_tag: str | None
    tag: str
    digest: str | None
    reason: str


@dataclass(frozen=True)
class NoChange:
    app: str
    env: str
    reason: str


def plan_bump(*, app: str, env: str, policy: Policy, running: Running, candidates: list[TagInfo],
              rejected: Mapping[str, str] | frozenset[str] = frozenset()) -> Bump | NoChange:
    """Pick the tag this environment should run next, or say why nothing changes. Rejected tags
    (rolled back here) are never proposed again; a newer tag still is."""
    result = _plan(app, env, policy, running, [t for t in candidates if t.name not in rejected])
    skipped = sorted(t.name for t in candidates if t.name in rejected and t.name != running.tag)
    if isinstance(result, NoChange) and skipped and isinstance(rejected, Mapping):
        why = "; ".join(f"{tag} {rejected[tag]}" for tag in skipped[-3:])
        return NoChange(app, env, f"{result.reason}; rejected here: {why}")
    return result


def _plan(app: str, env: str, policy: Policy, running: Running, candidates: list[TagInfo]) -> Bump | NoChange:
    pick = policy.select(candidates)
    if pick is None:
        seen = len(candidates)
        return NoChange(app, env, f"no tag matches the policy ({policy.describe()}; {seen} tags seen)")
    if policy.strategy == "digest":
        if pick.digest is None:
            return NoChange(app, env, f"no digest known for {pick.name}; not promoting on missing data")
        if pick.name == running.tag and pick.digest == running.digest:
            return NoChange(app, env, f"already at {pick.name}@{_short(pick.digest)}")
        return Bump(app, env, running.tag, pick.name, pick.digest,
                    f"{pick.name} now points at {_short(pick.digest)}")
    if pick.name == running.tag:
        return NoChange(app, env, f"already at {pick.name}, the newest tag under {policy.describe()}")
    if running.tag is not None and _is_older(policy, pick, running.tag, candidates):
        return NoChange(app, env, f"running {running.tag}, newer than the policy's pick {pick.name}; "
                                  "a human choice is never overwritten by an older tag")
    when = f" (pushed {_iso(pick.created)})" if pick.created else ""
    return Bump(app, env, running.tag, pick.name, pick.digest, f"policy {policy.describe()} picked {pick.name}{when}")


def _is_older(policy: Policy, pick: TagInfo, running: str, candidates: list[TagInfo]) -> bool:
    """Whether the running tag ranks above the pick by the policy's ordering: a person (or an
    earlier policy) put a newer tag there, and the promoter only moves forward."""
    current = next((t for t in candidates if t.name == running), TagInfo(running))
    order = policy.compare(current, pick)
    return order is not None and order > 0


def render_message(subject: str, body: Sequence[str], trailers: Mapping[str, str]) -> str:
    """A commit message: subject, body paragraph(s), and the trailers as the last paragraph."""
    text = "\n".join(body).strip()
    head = f"{subject}\n\n{text}\n\n" if text else f"{subject}\n\n"
    return head + "".join(f"{k}: {v}\n" for k, v in trailers.items())


def commit_message(bump: Bump, *, gates: Sequence[int] = ()) -> str:
    """`gates`: canary steps this commit arms (`pause: {}`) for the release."""
    arrow = f"{bump.from_tag} → {bump.tag}" if bump.from_tag else bump.tag
    trailers = {"Promoter-App": bump.app, "Promoter-Env": bump.env, "Promoter-Action": "bump",
                "Promoter-Tag": bump.tag}
    if bump.digest:
        trailers["Promoter-Digest"] = bump.digest
    body = [f"{bump.reason[0].upper()}{bump.reason[1:]}."]
    if gates:
        body.append(f"Canary gates {', '.join(map(str, gates))} are pause: {{}} for this release.")
    return render_message(f"promote({bump.env}): {bump.app} {arrow}", body, trailers)


def parse_trailers(message: str) -> dict[str, str]:
    """Promoter trailers of a commit message (last paragraph, `Key: value` lines)."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if not paragraphs:
        return {}
    out = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key in TRAILER_KEYS:
            out[key] = value.strip()
    return out


def _short(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}"


def _iso(when: datetime) -> str:
    offset = when.utcoffset()
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if offset is None or not offset else when.isoformat()
