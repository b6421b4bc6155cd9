r"""Semantic versions and Masterminds-style constraints.

Two ways to read a tag as a version, as the peers do:

* lenient (Argo CD Image Updater, Masterminds/semver v3 ``NewVersion``): optional ``v`` prefix,
  one to three numeric parts (``1.0`` == ``1.0.0``), leading zeros allowed (``16.04.1``,
  ``v2025.07.03``: CalVer), pre-release and build metadata of ASCII letters, digits and ``-``
  in any case (``v1.2.0-x.Y.0+metadata``); a numeric pre-release identifier has no leading zero.
* strict (Flux image-reflector-controller, fluxcd/pkg ``version.ParseVersion``): the tag must
  have three dot-separated parts (at least two dots), then it is read as lenient does, so
  ``v1.2-rc.1`` is 1.2.0-rc.1 and ``v2025.07.03`` is 2025.7.3, while ``1.0`` and ``v1`` are not
  versions.

Only ASCII digits are digits: ``١٢٣`` (Arabic-Indic), ``１.２.３`` (fullwidth) and ``²`` are never
numbers, although Python's ``\d``, ``str.isdigit`` and ``int`` would take them. A numeric part
above 2^64-1 makes the tag "not a version" (Masterminds parses it as a uint64), which also keeps
``int()`` away from Python's 4,300-digit conversion limit.

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

from gitops_promoter.errors import PolicyError

#: Masterminds reads every numeric part with ``strconv.ParseUint(s, 10, 64)``.
_UINT64_MAX = 2**64 - 1
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def _uint64(digits: str) -> int | None:
    """An ASCII digit string as Masterminds' uint64, or None when it is not one (other digits,
    or above 2^64-1). Leading zeros are allowed, as ``ParseUint`` allows them; at most 20
    significant digits ever reach ``int()``, whatever the length of the text."""
    if not _DIGITS.fullmatch(digits):
        return None
    significant = digits.lstrip("0") or "0"
    if len(significant) > 20:
        return None
    value = int(significant)
    return value if value <= _UINT64_MAX else None


def _identifier_key(part: str) -> tuple[int, int, str]:
    """SemVer precedence of one pre-release identifier, as Masterminds' ``comparePrePart``: a
    numeric identifier (one that ``ParseUint`` reads) ranks below any alphanumeric one; an
    identifier of digits above 2^64-1 is compared as text, as Masterminds does."""
    number = _uint64(part)
    return (0, number, "") if number is not None else (1, 0, part)


def _precedence(major: int, minor: int, patch: int, prerelease: str | None) -> tuple[Any, ...]:
    """SemVer 2.0 precedence as a plain tuple: a release ranks above its pre-releases; numeric
    identifiers rank below alphanumeric ones; a longer identifier list ranks above its prefix."""
    if not prerelease:
        return (major, minor, patch, 1, ())
    return (major, minor, patch, 0, tuple(_identifier_key(p) for p in prerelease.split(".")))


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


# Masterminds v3 ``looseSemVerRegex`` (what ``NewVersion`` uses while ``CoerceNewVersion`` is
# true, its default). Go's regexp classes are ASCII; here ``[0-9]`` and re.ASCII say so, and
# fullmatch stands for Go's ``^…$`` (Python's ``$`` would also match before a final newline).
_LENIENT = re.compile(
    r"v?(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<patch>[0-9]+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)


def _valid_prerelease(pre: str | None) -> bool:
    """Masterminds' ``validatePrerelease``: a numeric identifier has no leading zero."""
    if not pre:
        return True
    return all(not (_DIGITS.fullmatch(part) and len(part) > 1 and part[0] == "0") for part in pre.split("."))


def parse_lenient(text: str) -> Version | None:
    """Read a tag as Masterminds' ``NewVersion`` does; None when it is not a version."""
    if not text.isascii():
        return None
    m = _LENIENT.fullmatch(text)
    if m is None:
        return None
    major, minor, patch = _uint64(m["major"]), _uint64(m["minor"] or "0"), _uint64(m["patch"] or "0")
    if major is None or minor is None or patch is None or not _valid_prerelease(m["pre"]):
        return None
    return Version(major, minor, patch, m["pre"], m["build"])


def parse_strict(text: str) -> Version | None:
    """Read a tag as Flux does (fluxcd/pkg ``version.ParseVersion``): three dot-separated parts
    (Go's ``strings.SplitN(v, ".", 3)`` has length 3), then Masterminds' ``NewVersion``."""
    if text.count(".") < 2:
        return None
    return parse_lenient(text)


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
# Go's ``\s`` is ``[\t\n\f\r ]``; Python's would also take U+2028, U+00A0, U+3000 and friends.
_WS = r"[\t\n\f\r ]"
_ONE = re.compile(rf"{_WS}*(?P<op>{_OPS}){_WS}*(?P<ver>{_CV_GROUPS}){_WS}*", re.ASCII)
_FIND = re.compile(rf"({_OPS}){_WS}*({_CV})", re.ASCII)
# Masterminds' validConstraintRegex, ``^(\s*(op)\s*(cv)\s*)((?:\s+|,\s*)(op)\s*(cv)\s*)*$``, accepts
# the same strings as this one does once whitespace runs are squeezed to one space. Written so
# that each space has one place to go: the original backtracks exponentially in Python
# (`` 1 , 1 , … !`` with 25 commas took 30 s).
_COMPARATOR = rf"(?:(?:{_OPS[:-1]}) ?)?{_CV}"
_VALID_AND = re.compile(rf" ?{_COMPARATOR}(?:(?: ?, ?| ){_COMPARATOR})* ?", re.ASCII)
_RANGE = re.compile(rf"{_WS}*({_CV}){_WS}+-{_WS}+({_CV}){_WS}*", re.ASCII)


def _shown(text: str) -> str:
    """A constraint as an error message shows it: quoted, escaped, and at most 64 characters."""
    return repr(text) if len(text) <= 64 else repr(text[:64]) + f"… ({len(text)} characters)"


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
    m = _ONE.fullmatch(text)
    if m is None:
        raise PolicyError(f"improper constraint: {_shown(text.strip())}")
    parts = [m["major"], (m["minor"] or "")[1:], (m["patch"] or "")[1:]]
    pre = (m["pre"] or "")[1:] or None
    numbers = [None if not part or _is_x(part) else _uint64(part) for part in parts]
    # A part that is neither a wildcard nor a uint64 (``1x``, or 5,000 digits), or a pre-release
    # Masterminds' NewVersion refuses (``-01``): the constraint cannot be parsed, as there.
    if any(part and not _is_x(part) and n is None for part, n in zip(parts, numbers, strict=True)) \
            or not _valid_prerelease(pre):
        raise PolicyError(f"improper constraint: {_shown(text.strip())}")
    major, minor, patch = numbers
    dirty = minor_dirty = patch_dirty = False
    if major is None:
        dirty, con = True, Version(0, 0, 0, prerelease=pre)
    elif minor is None:
        dirty = minor_dirty = True
        con = Version(major, 0, 0, prerelease=pre)
    elif patch is None:
        dirty = patch_dirty = True
        con = Version(major, minor, 0, prerelease=pre)
    else:
        con = Version(major, minor, patch, prerelease=pre)
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


#: Longer constraints are refused (Masterminds has no limit; no real one comes near it). With
#: whitespace runs squeezed to one space first, this bounds the backtracking of the regexes
#: below (Go's RE2 is linear; Python's engine is not) to milliseconds.
MAX_CONSTRAINT_LENGTH = 1024
_WS_RUN = re.compile(rf"{_WS}+")


def parse_constraint(text: str) -> Constraint:
    """Parse a Masterminds constraint; raise PolicyError naming the bad part."""
    if len(text) > MAX_CONSTRAINT_LENGTH:
        raise PolicyError(f"improper constraint: {_shown(text)} is longer than {MAX_CONSTRAINT_LENGTH} characters")
    squeezed = _WS_RUN.sub(" ", text)  # Masterminds never counts whitespace, only needs it
    rewritten = _WS_RUN.sub(" ", _RANGE.sub(lambda m: f" >= {m.group(1)}, <= {m.group(2)} ", squeezed))
    groups: list[tuple[_Comparator, ...]] = []
    for part in rewritten.split("||"):
        if not _VALID_AND.fullmatch(part):
            raise PolicyError(f"improper constraint: {_shown(text)}")
        found = [op + ver for op, ver in _FIND.findall(part)] or [part]
        groups.append(tuple(_parse_comparator(f) for f in found))
    return Constraint(text=text, groups=tuple(groups))


ANY = parse_constraint("*")
