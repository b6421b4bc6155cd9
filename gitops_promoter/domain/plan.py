"""Release plans: what an environment should run next, and the commit that says so."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gitops_promoter.domain.edits import Running
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.domain.titles import render_title
from gitops_promoter.errors import PermanentError

TRAILER_KEYS = ("Promoter-App", "Promoter-Env", "Promoter-Action", "Promoter-Tag", "Promoter-Digest",
                "Promoter-Step", "Promoter-PR")


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


class UnsafeMessageValue(PermanentError):
    """A value meant for a commit message (a tag, app, environment or digest) holds a control
    character or a line or paragraph separator: it could forge trailers, so nothing is written."""


#: Unicode categories never copied into a commit message from outside: controls (Cc: C0, DEL,
#: C1 such as U+0085), format characters (Cf: bidi overrides, zero-width, BOM), line and
#: paragraph separators (Zl U+2028, Zp U+2029) and lone surrogates (Cs).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_TRAILER_KEY = re.compile(r"[A-Za-z][A-Za-z0-9-]*", re.ASCII)


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def escape_text(text: str) -> str:
    """Free text from outside (a reason, analysis details, a tag read from a file) made safe for
    a commit message: each unsafe character becomes a visible escape (``\\n``, ``\\u2028``), so
    it can neither start a line nor hide in one."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(ch.encode("unicode_escape").decode("ascii") if _unsafe(ch) else ch for ch in text)


def check_value(what: str, value: str) -> str:
    """`value` unchanged, or UnsafeMessageValue naming `what` and the value (escaped) when it holds
    an unsafe character. For identifiers the promoter writes and reads back (tags, app, env,
    digest): an escaped tag would be another tag, so it is refused, never rewritten."""
    if any(_unsafe(ch) for ch in value):
        raise UnsafeMessageValue(f"{what} {escape_text(value)!r} holds a control character or a line "
                                 "separator; refusing to write it into a commit message")
    return value


def render_message(subject: str, body: Sequence[str], trailers: Mapping[str, str]) -> str:
    """A commit message: subject, body paragraph(s), and the trailers as the last paragraph.

    Every line break in the message is the template's own: the subject and each body item are
    one line each (an empty item is a blank line between paragraphs) and any control character,
    line or paragraph separator inside them is escaped (`escape_text`); a trailer value with one
    is refused (`UnsafeMessageValue`), as is an empty trailer mapping (the last paragraph would
    then be the body, whose lines could read as trailers)."""
    if not trailers:
        raise UnsafeMessageValue("a promoter commit message needs its trailers")
    for key, value in trailers.items():
        if not _TRAILER_KEY.fullmatch(key):
            raise UnsafeMessageValue(f"trailer key {escape_text(key)!r} is not a trailer key")
        check_value(key, value)
    text = "\n".join(escape_text(line) for line in body).strip()
    head = f"{escape_text(subject)}\n\n{text}\n\n" if text else f"{escape_text(subject)}\n\n"
    return head + "".join(f"{k}: {v}\n" for k, v in trailers.items())


def commit_message(bump: Bump, *, gates: Sequence[int] = (), template: str | None = None) -> str:
    """`gates`: canary steps this commit arms (`pause: {}`) for the release. `template`: O&M's title
    template (`commit.title`, domain.titles); by default `promote(<env>): <app> <from> → <to>`.
    Whatever the title, the body and the trailers are written as always.

    The tag, app, environment and digest are refused when they hold a control character or a line
    or paragraph separator (UnsafeMessageValue); the reason and the tag being replaced (read from
    a file a person may have edited) are escaped by `render_message`, never refused, so a bad old
    tag can still be moved on from."""
    check_value("tag", bump.tag)
    check_value("app", bump.app)
    check_value("environment", bump.env)
    if bump.digest:
        check_value("digest", bump.digest)
    arrow = f"{bump.from_tag} → {bump.tag}" if bump.from_tag else bump.tag
    trailers = {"Promoter-App": bump.app, "Promoter-Env": bump.env, "Promoter-Action": "bump",
                "Promoter-Tag": bump.tag}
    if bump.digest:
        trailers["Promoter-Digest"] = bump.digest
    body = [f"{bump.reason[0].upper()}{bump.reason[1:]}."]
    if gates:
        body.append(f"Canary gates {', '.join(map(str, gates))} are pause: {{}} for this release.")
    title = f"promote({bump.env}): {bump.app} {arrow}" if template is None else \
        render_title(template, app=bump.app, env=bump.env, from_tag=bump.from_tag, to_tag=bump.tag)
    return render_message(title, body, trailers)


def parse_trailers(message: str) -> dict[str, str]:
    """Promoter trailers of a commit message (last paragraph, `Key: value` lines).

    Lines are split on ``\\n`` only (a ``\\r`` before it is dropped, for CRLF messages): never
    ``str.splitlines()``, which also breaks on U+2028, U+2029, U+0085, \\v, \\f and \\x1c-\\x1e,
    so a value holding one of those would forge the trailers after it. Values are stripped of
    spaces and tabs only."""
    paragraphs = [p for p in message.replace("\r\n", "\n").strip("\n").split("\n\n") if p.strip(" \t\n")]
    if not paragraphs:
        return {}
    out = {}
    for line in paragraphs[-1].split("\n"):
        key, sep, value = line.partition(": ")
        if sep and key in TRAILER_KEYS:
            out[key] = value.strip(" \t")
    return out


def _short(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}"


def _iso(when: datetime) -> str:
    offset = when.utcoffset()
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if offset is None or not offset else when.isoformat()
