"""Tags as the registry reports them, and the filters that run before any policy."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeGuard

#: Tags cosign, notation and friends push next to images; never deployable.
SIGNATURE_GLOBS: tuple[str, ...] = ("*.sig", "*.att", "*.sbom")

#: The OCI distribution spec's tag grammar ("Pulling manifests": `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`),
#: ASCII only and matched whole: no other character, no newline, at most 128 characters.
TAG_GRAMMAR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", re.ASCII)
TAG_MAX_LENGTH = 128

#: The OCI image spec's registered digest algorithms ("Descriptors", registered algorithms) and
#: the shape of their encoded part: lower-case hex of the hash's length.
DIGEST_ENCODINGS: dict[str, re.Pattern[str]] = {
    "sha256": re.compile(r"[a-f0-9]{64}", re.ASCII),
    "sha512": re.compile(r"[a-f0-9]{128}", re.ASCII),
}


def is_valid_tag(name: object) -> TypeGuard[str]:
    """Whether a registry's tag is one the OCI tag grammar allows. Only such tags reach filters,
    policies, files, commits, branches and pull requests."""
    return isinstance(name, str) and TAG_GRAMMAR.fullmatch(name) is not None


def tag_problem(name: object) -> str | None:
    """Why `name` is not a valid tag, in a few words a person can read; None when it is one."""
    if is_valid_tag(name):
        return None
    if not isinstance(name, str):
        kind = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", list: "a list",
                dict: "an object"}.get(type(name), type(name).__name__)
        return f"not a string but {kind}"
    if not name:
        return "empty"
    if len(name) > TAG_MAX_LENGTH:
        return f"{len(name)} characters, more than {TAG_MAX_LENGTH}"
    for char in name:
        if not char.isascii():
            return f"non-ASCII character U+{ord(char):04X}"
        if not char.isprintable():
            return f"control character U+{ord(char):04X}"
    if name[0] in ".-":
        return f"starts with {name[0]!r}"
    bad = next((c for c in name if not (c.isalnum() or c in "._-")), None)
    return f"character {bad!r} is not allowed" if bad else "does not match the OCI tag grammar"


def is_valid_digest(digest: object) -> bool:
    """Whether `digest` is `algorithm:encoded` with a registered algorithm (sha256, sha512) and
    its encoded part exactly as the OCI image spec requires (lower-case hex of full length)."""
    if not isinstance(digest, str):
        return False
    algorithm, sep, encoded = digest.partition(":")
    pattern = DIGEST_ENCODINGS.get(algorithm)
    return bool(sep) and pattern is not None and pattern.fullmatch(encoded) is not None


@dataclass(frozen=True)
class TagInfo:
    """One tag of one image. `created` and `digest` are filled when a policy needs them."""

    name: str
    created: datetime | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A tag that passed the filters, with the key the policy orders it by."""

    tag: TagInfo
    key: str


class Match(Protocol):
    def group(self, ref: int | str, /) -> str | None: ...


class Pattern(Protocol):
    """A compiled filter regex (RE2, see policy.compile_filter_regex)."""

    def search(self, text: str, /) -> Match | None: ...


_EXPAND = re.compile(r"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")  # Go's ASCII \w


def expand(template: str, match: Match) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups expand to ''."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        ref = m.group(2) or m.group(3)
        try:
            group = match.group(int(ref) if ref.isdigit() and len(ref) < 10 else ref)
        except IndexError:
            return ""
        return group or ""

    return _EXPAND.sub(one, template)


@dataclass(frozen=True)
class TagFilter:
    """allow_tags (regex, unanchored), ignore_tags (globs, anchored), extract (Flux-style)."""

    allow: Pattern | None
    ignore: tuple[str, ...]
    extract: str | None
    ignore_signatures: bool = True

    def apply(self, tags: Iterable[TagInfo]) -> list[Candidate]:
        out: list[Candidate] = []
        globs = self.ignore + (SIGNATURE_GLOBS if self.ignore_signatures else ())
        ignored = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)) if globs else None
        for tag in tags:
            if ignored is not None and ignored.match(tag.name):
                continue
            key = tag.name
            if self.allow is not None:
                m = self.allow.search(tag.name)
                if m is None:
                    continue
                if self.extract is not None:
                    key = expand(self.extract, m)
            out.append(Candidate(tag=tag, key=key))
        return out
