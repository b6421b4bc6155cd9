"""State of a release, rebuilt from git history alone (commit trailers and revert messages)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gitops_promoter.domain.plan import parse_trailers
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo

_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    message: str

    @functools.cached_property
    def trailers(self) -> dict[str, str]:
        """Parsed once per commit (a pass asks many times; the index keeps commits across passes)."""
        return parse_trailers(self.message)

    @functools.cached_property
    def reverts(self) -> tuple[str, ...]:
        """Commits this one says it reverts (`git revert` writes "This reverts commit <sha>.")."""
        return tuple(_REVERTS.findall(self.message))


@dataclass(frozen=True)
class Release:
    """The promoter's latest live bump of an app in an environment, with its gate advances."""

    tag: str
    digest: str | None
    bump: str  # sha
    advances: tuple[tuple[str, int], ...]  # (sha, step), oldest first
    undone: tuple[tuple[str, int], ...] = ()  # advances of this release a person reverted: (reverting sha, step)

    @property
    def commits(self) -> tuple[str, ...]:
        """The release's commits, newest first (the order a revert undoes them)."""
        return tuple(sha for sha, _ in reversed(self.advances)) + (self.bump,)

    @property
    def advanced_steps(self) -> tuple[int, ...]:
        return tuple(step for _, step in self.advances)

    def undone_at(self, step: int) -> str | None:
        """The commit in which a person reverted the promoter's pass of gate `step` for this
        release (and nobody passed it again since), or None."""
        if step in self.advanced_steps:
            return None
        return next((sha for sha, s in self.undone if s == step), None)


def _mine(c: Commit, app: str, env: str) -> bool:
    t = c.trailers
    return t.get("Promoter-App") == app and t.get("Promoter-Env") == env


def _matches(short: str, sha: str) -> bool:
    return sha.startswith(short) or short.startswith(sha)


def find_bump(history: Sequence[Commit], *, app: str, env: str, tag: str) -> tuple[str, str] | None:
    """The newest commit whose trailers record `app` moving to `tag` in `env`: (sha, subject)."""
    for c in history:
        t = c.trailers
        if _mine(c, app, env) and t.get("Promoter-Tag") == tag and t.get("Promoter-Action") == "bump":
            return c.sha, c.subject
    return None


def rejected_tags(history: Sequence[Commit], *, app: str, env: str) -> dict[str, str]:
    """Tags rolled back in this environment, by the promoter (`Promoter-Action: revert`) or by a
    person's `git revert` of a promoter bump; each with the reason a person reads. A rejection older
    than a person's `allow` of the tag (`Promoter-Action: allow`) is lifted; a newer one stands."""
    bumps = {c.sha: c for c in history if _mine(c, app, env) and c.trailers.get("Promoter-Action") == "bump"}
    undone = _reverted(history)
    out: dict[str, str] = {}
    lifted: set[str] = set()
    for c in history:  # newest first
        t = c.trailers
        if _is_allow(c, app, env) and not _in(c.sha, undone) and t["Promoter-Tag"] not in out:
            lifted.add(t["Promoter-Tag"])
            continue
        if _mine(c, app, env) and t.get("Promoter-Action") == "revert" and t.get("Promoter-Tag"):
            if t["Promoter-Tag"] not in lifted:
                out.setdefault(t["Promoter-Tag"], f"reverted by the promoter in {c.sha[:10]} ({c.subject})")
            continue
        for short in c.reverts:
            bump = next((b for sha, b in bumps.items() if _matches(short, sha)), None)
            tag = bump.trailers.get("Promoter-Tag") if bump is not None else None
            if tag and tag not in lifted:
                out.setdefault(tag, f"reverted in {c.sha[:10]} ({c.subject})")
    return out


@dataclass(frozen=True)
class Allowed:
    """A person's `gitops-promoter allow`: the commit, and in a pull-request environment the newest
    promoter pull request number then (closing those PRs unmerged no longer rejects the tag)."""

    sha: str
    pull: int | None = None


def allowed_tags(history: Sequence[Commit], *, app: str, env: str) -> dict[str, Allowed]:
    """The newest standing `Promoter-Action: allow` commit per tag (one a person reverted does not count)."""
    undone = _reverted(history)
    out: dict[str, Allowed] = {}
    for c in history:
        if _is_allow(c, app, env) and not _in(c.sha, undone):
            pull = c.trailers.get("Promoter-PR", "")
            number = int(pull) if pull.isascii() and pull.isdigit() and len(pull) <= 9 else None
            out.setdefault(c.trailers["Promoter-Tag"], Allowed(c.sha, number))
    return out


def _is_allow(c: Commit, app: str, env: str) -> bool:
    return _mine(c, app, env) and c.trailers.get("Promoter-Action") == "allow" and bool(c.trailers.get("Promoter-Tag"))


def _reverted(history: Sequence[Commit]) -> set[str]:
    """The (short) shas some commit says it reverts."""
    return {short for c in history for short in c.reverts}


def _in(sha: str, shorts: set[str]) -> bool:
    return any(_matches(short, sha) for short in shorts)


def current_release(history: Sequence[Commit], *, app: str, env: str) -> Release | None:
    """The newest promoter bump of `app` in `env` that no later commit reverted (newest-first input)."""
    reverted: dict[str, str] = {}  # short sha reverted → the reverting commit
    for c in history:
        reverted.update({short: c.sha for short in c.reverts})
    advances: list[tuple[str, int]] = []
    undone: list[tuple[str, int]] = []
    for c in history:  # newest first
        if not _mine(c, app, env):
            continue
        t = c.trailers
        action = t.get("Promoter-Action")
        step = _step(t)
        by = next((sha for short, sha in reverted.items() if _matches(short, c.sha)), None)
        if by is not None:
            if action == "bump":
                return None  # the newest bump was rolled back: no live release of the promoter's
            if action == "advance" and step is not None:
                undone.append((by, step))
            continue
        if action == "revert":
            return None
        if action == "advance" and step is not None:
            advances.append((c.sha, step))
        elif action == "bump" and t.get("Promoter-Tag"):
            return Release(t["Promoter-Tag"], t.get("Promoter-Digest"), c.sha, tuple(reversed(advances)),
                           tuple(undone))
    return None


def known_gates(history: Sequence[Commit], *, app: str, env: str) -> tuple[int, ...]:
    """Steps the promoter ever passed as gates in `env` (from `Promoter-Step` trailers): a bump
    arms them again, whatever state the previous release left them in."""
    found = {_step(c.trailers) for c in history
             if _mine(c, app, env) and c.trailers.get("Promoter-Action") == "advance"}
    return tuple(sorted(s for s in found if s is not None))


def _step(trailers: dict[str, str]) -> int | None:
    """A `Promoter-Step` trailer as a step index: ASCII digits only, and a sane size."""
    text = trailers.get("Promoter-Step", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def moved_back_by_hand(history: Sequence[Commit], *, app: str, env: str, running_tag: str | None,
                       policy: Policy) -> dict[str, str]:
    """A person edited the environment back from the promoter's release to an older tag: that is a
    rollback too. The release's tag is rejected, as after a `git revert`; a newer tag still moves."""
    release = current_release(history, app=app, env=env)
    if release is None or running_tag is None or running_tag == release.tag:
        return {}
    allowed = allowed_tags(history, app=app, env=env).get(release.tag)
    newer = [c.sha for c in history[:next((i for i, c in enumerate(history) if c.sha == release.bump), 0)]]
    if allowed is not None and allowed.sha in newer:
        return {}  # a person allowed the tag again after moving back from it
    order = policy.compare(TagInfo(release.tag), TagInfo(running_tag))
    if order is None or order <= 0:
        return {}
    return {release.tag: f"rolled back by hand to {running_tag} (after {release.bump[:10]})"}
