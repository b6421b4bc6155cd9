"""Semantic versions and Masterminds-style constraints, on top of the `semver` library.

Two ways to read a tag as a version, as the peers do:

* lenient (Argo CD Image Updater, Masterminds ``NewVersion``): optional ``v`` prefix,
  one to three numeric parts (``1.0`` == ``1.0.0``), pre-release and build metadata.
* strict (Flux image-reflector-controller): optional ``v`` prefix, then exactly
  ``MAJOR.MINOR.PATCH`` as SemVer 2.0 says (no leading zeros).

Constraints follow Masterminds/semver v3: comparators ``= != > < >= <= ~ ~> ^``,
wildcards ``x X *`` in any part, AND by space or comma, OR by ``||``, hyphen ranges
``1.0 - 2.0``. A comparator rejects a pre-release version unless the comparator's own
version carries a pre-release (``>=1.0-0`` opts in). Pinned by Masterminds' own cases
in tests/domain/test_versions.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import semver

from gitops_promoter.errors import PolicyError


def _precedence(major: int, minor: int, patch: int, prerelease: str | None) -> tuple[Any, ...]:
    """SemVer 2.0 precedence as a plain tuple: a release ranks above its pre-releases; numeric
    identifiers rank below alphanumeric ones; a longer identifier list ranks above its prefix."""
    if not prerelease:
        return (major, minor, patch, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in prerelease.split("."))
    return (major, minor, patch, 0, ids)


class Version:
    """A semantic version (immutable by convention). Build metadata is kept for display but
    never ranks. A plain slotted class: policies build one per tag, 100,000 at a time."""

    __slots__ = ("major", "minor", "patch", "prerelease", "build", "key")

    def __init__(self, major: int, minor: int, patch: int, prerelease: str | None = None,
                 build: str | None = None) -> None:
        self.major, self.minor, self.patch = major, minor, patch
        self.prerelease, self.build = prerelease, build
        self.key = _precedence(major, minor, patch, prerelease)

    def compare(self, other: Version) -> int:
        return (self.key > other.key) - (self.key < other.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and (self.key, self.build) == (other.key, other.build)

    def __hash__(self) -> int:
        return hash((self.key, self.build))

    def __repr__(self) -> str:
        return f"Version({self})"

    def __str__(self) -> str:
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            out += f"-{self.prerelease}"
        if self.build:
            out += f"+{self.build}"
        return out


_LENIENT = re.compile(
    r"^v?(?P<major>0|[1-9]\d*|\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


def _valid_prerelease(pre: str | None) -> bool:
    if not pre:
        return True
    return all(not (part.isdigit() and len(part) > 1 and part[0] == "0") for part in pre.split("."))


def parse_lenient(text: str) -> Version | None:
    """Read a tag as Masterminds' ``NewVersion`` does; None when it is not a version."""
    m = _LENIENT.match(text)
    if m is None:
        return None
    major, minor, patch, pre, build = m.groups()
    if pre and not _valid_prerelease(pre):
        return None
    return Version(int(major), int(minor or 0), int(patch or 0), pre, build)


def parse_strict(text: str) -> Version | None:
    """Read a tag as Flux does: optional ``v``, then a full SemVer 2.0 version."""
    body = text[1:] if text.startswith("v") else text
    try:
        v = semver.Version.parse(body)
    except ValueError:
        return None
    return Version(v.major, v.minor, v.patch, v.prerelease, v.build)


# --- constraints -------------------------------------------------------------------

_OPS = r"=|!=|>=|=>|<=|=<|~>|\^|~|>|<|"
_CV = (
    r"v?(?:[0-9xX*]+)(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_CV_GROUPS = (
    r"v?(?P<major>[0-9xX*]+)(?P<minor>\.[0-9xX*]+)?(?P<patch>\.[0-9xX*]+)?"
    r"(?P<pre>-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
    r"(?P<build>\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_ONE = re.compile(rf"^\s*(?P<op>{_OPS})\s*(?P<ver>{_CV_GROUPS})\s*$")
_FIND = re.compile(rf"({_OPS})\s*({_CV})")
_VALID_AND = re.compile(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*$")
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


@dataclass(frozen=True)
class _Comparator:
    op: str
    con: Version
    original: str
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    def check(self, v: Version) -> bool:
        return _CHECKS[self.op](v, self)


def _parse_comparator(text: str) -> _Comparator:
    m = _ONE.match(text)
    if m is None:
        raise PolicyError(f"improper constraint: {text.strip()}")
    major, minor, patch = m["major"], (m["minor"] or "")[1:], (m["patch"] or "")[1:]
    pre = (m["pre"] or "")[1:] or None
    for part in (major, minor, patch):
        if part and not (part.isdigit() or _is_x(part)):
            raise PolicyError(f"improper constraint: {text.strip()}")
    dirty = minor_dirty = patch_dirty = False
    if _is_x(major):
        dirty, con = True, Version(0, 0, 0, prerelease=pre)
    elif not minor or _is_x(minor):
        dirty = minor_dirty = True
        con = Version(int(major), 0, 0, prerelease=pre)
    elif not patch or _is_x(patch):
        dirty = patch_dirty = True
        con = Version(int(major), int(minor), 0, prerelease=pre)
    else:
        con = Version(int(major), int(minor), int(patch), prerelease=pre)
    return _Comparator(m["op"], con, m["ver"], dirty, minor_dirty, patch_dirty)


def _pre_blocked(v: Version, c: _Comparator) -> bool:
    return bool(v.prerelease) and not c.con.prerelease


def _cmp(a: Version, b: Version) -> int:
    return (a.key > b.key) - (a.key < b.key)


def _not_equal(v: Version, c: _Comparator) -> bool:
    if c.dirty:
        if _pre_blocked(v, c):
            return False
        if c.con.major != v.major:
            return True
        if c.con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.prerelease or c.con.prerelease:
                return (v.prerelease or "") != (c.con.prerelease or "")
            return False
    return _cmp(v, c.con) != 0


def _greater(v: Version, c: _Comparator) -> bool:
    if _pre_blocked(v, c):
        return False
    if not c.dirty:
        return _cmp(v, c.con) > 0
    if v.major != c.con.major:
        return v.major > c.con.major
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > c.con.minor
    return _cmp(v, c.con) > 0


def _less(v: Version, c: _Comparator) -> bool:
    return not _pre_blocked(v, c) and _cmp(v, c.con) < 0


def _greater_equal(v: Version, c: _Comparator) -> bool:
    return not _pre_blocked(v, c) and _cmp(v, c.con) >= 0


def _less_equal(v: Version, c: _Comparator) -> bool:
    if _pre_blocked(v, c):
        return False
    if not c.dirty:
        return _cmp(v, c.con) <= 0
    if v.major > c.con.major:
        return False
    return not (v.major == c.con.major and v.minor > c.con.minor and not c.minor_dirty)


def _tilde(v: Version, c: _Comparator) -> bool:
    if _pre_blocked(v, c) or _cmp(v, c.con) < 0:
        return False
    if (c.con.major, c.con.minor, c.con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != c.con.major:
        return False
    return v.minor == c.con.minor or c.minor_dirty


def _tilde_or_equal(v: Version, c: _Comparator) -> bool:
    if _pre_blocked(v, c):
        return False
    if c.dirty:
        return _tilde(v, c)
    return _cmp(v, c.con) == 0


def _caret(v: Version, c: _Comparator) -> bool:
    if _pre_blocked(v, c) or _cmp(v, c.con) < 0:
        return False
    if c.con.major > 0 or c.minor_dirty:
        return v.major == c.con.major
    if v.major > 0:
        return False
    if c.con.minor > 0 or c.patch_dirty:
        return v.minor == c.con.minor
    if v.minor > 0:
        return False
    return v.patch == c.con.patch


_CHECKS: dict[str, Callable[[Version, _Comparator], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater,
    "<": _less,
    ">=": _greater_equal,
    "=>": _greater_equal,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: OR of AND-groups of comparators."""

    text: str
    groups: tuple[tuple[_Comparator, ...], ...]

    def check(self, v: Version) -> bool:
        return any(all(c.check(v) for c in group) for group in self.groups)


def parse_constraint(text: str) -> Constraint:
    """Parse a Masterminds constraint; raise PolicyError naming the bad part."""
    rewritten = _RANGE.sub(lambda m: f" >= {m.group(1)}, <= {m.group(2)} ", text)
    groups: list[tuple[_Comparator, ...]] = []
    for part in rewritten.split("||"):
        if not _VALID_AND.match(part):
            raise PolicyError(f"improper constraint: {text!r}")
        found = [op + ver for op, ver in _FIND.findall(part)] or [part]
        groups.append(tuple(_parse_comparator(f) for f in found))
    return Constraint(text=text, groups=tuple(groups))


ANY = parse_constraint("*")
