"""O&M approval rules for pull-request environments, evaluated on the PR's current head.

The rule holds when, counting only each reviewer's latest deciding review (APPROVED,
CHANGES_REQUESTED or DISMISSED; COMMENTED never changes a decision, as on GitHub):

* at least `required` approvals come from allowed approvers (a listed user, or a member of a
  listed `org/team`), not from the PR's author and not from the promoter itself;
* with `dismiss_stale` (the default) an approval counts only when it was given on the head
  commit the PR has now;
* no allowed approver's latest decision is "changes requested";
* every required check (commit status context or check run name) is green on the head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DECIDING = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


@dataclass(frozen=True)
class Rule:
    required: int = 1
    approvers: tuple[str, ...] = ()
    dismiss_stale: bool = True
    checks: tuple[str, ...] = ()

    def describe(self) -> str:
        who = ", ".join(self.approvers) if self.approvers else "anyone with access"
        text = f"{self.required} approval{'s' if self.required != 1 else ''} from {who}"
        if self.dismiss_stale:
            text += " on the current head"
        if self.checks:
            text += f"; checks green: {', '.join(self.checks)}"
        return text


@dataclass(frozen=True)
class Review:
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str


@dataclass(frozen=True)
class Verdict:
    ok: bool
    approved_by: tuple[str, ...]
    missing: int
    reasons: tuple[str, ...]

    def describe(self) -> str:
        got = f"approved by {', '.join(self.approved_by)}" if self.approved_by else "no valid approval yet"
        if self.ok:
            return f"ready to merge ({got})"
        return f"waiting: {got}; " + "; ".join(self.reasons)


def teams_of(rule: Rule) -> tuple[str, ...]:
    """The `org/team` slugs among the approvers (their members are looked up by the adapter)."""
    return tuple(a for a in rule.approvers if "/" in a)


def evaluate(rule: Rule, *, reviews: Sequence[Review], author: str, bot: str, head_sha: str,
             team_members: Mapping[str, frozenset[str]], checks: Mapping[str, str]) -> Verdict:
    """Does the rule hold on `head_sha`? `checks` maps a check's name to success|failure|pending."""
    allowed_users = {a.lower() for a in rule.approvers if "/" not in a}
    for team in teams_of(rule):
        allowed_users |= {m.lower() for m in team_members.get(team, frozenset())}

    def allowed(user: str) -> bool:
        return not rule.approvers or user.lower() in allowed_users

    latest: dict[str, Review] = {}
    for review in reviews:  # in submission order; the last deciding review wins
        if review.state in DECIDING:
            latest[review.user.lower()] = review
    reasons: list[str] = []
    approved: list[str] = []
    excluded: list[str] = []
    for user, review in latest.items():
        if user in (author.lower(), bot.lower()):
            if review.state == "APPROVED":
                excluded.append(f"{review.user} (author)" if user == author.lower() else f"{review.user} (bot)")
            continue
        if not allowed(user):
            if review.state == "APPROVED":
                excluded.append(f"{review.user} (not an approver)")
            continue
        if review.state == "CHANGES_REQUESTED":
            reasons.append(f"{review.user} requested changes")
        elif review.state == "APPROVED":
            if rule.dismiss_stale and review.commit_id != head_sha:
                excluded.append(f"{review.user} (approved an older head {review.commit_id[:7]})")
            else:
                approved.append(review.user)
    missing = max(0, rule.required - len(approved))
    if missing:
        reasons.append(f"{missing} more approval{'s' if missing != 1 else ''} needed from "
                       f"{', '.join(rule.approvers) or 'anyone'}")
    if excluded:
        reasons.append("not counted: " + ", ".join(excluded))
    for check in rule.checks:
        state = checks.get(check)
        if state != "success":
            reasons.append(f"check {check} is {state or 'missing'}")
    ok = missing == 0 and not any(r.endswith("requested changes") or r.startswith("check ") for r in reasons)
    return Verdict(ok=ok, approved_by=tuple(approved), missing=missing, reasons=tuple(reasons))
