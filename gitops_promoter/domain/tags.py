"""Tags as the registry reports them, and the filters that run before any policy."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gitops_promoter.errors import PolicyError

#: Tags cosign, notation and friends push next to images; never deployable.
SIGNATURE_GLOBS: tuple[str, ...] = ("*.sig", "*.att", "*.sbom")


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


def compile_regex(pattern: str, *, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PolicyError(f"{what}: invalid regular expression {pattern!r}: {exc}") from None


_EXPAND = re.compile(r"\$(\$|\{(\w+)\}|(\w+))")


def expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups expand to ''."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        ref = m.group(2) or m.group(3)
        try:
            group = match.group(int(ref) if ref.isdigit() else ref)
        except IndexError:
            return ""
        return group or ""

    return _EXPAND.sub(one, template)


@dataclass(frozen=True)
class TagFilter:
    """allow_tags (regex, unanchored), ignore_tags (globs, anchored), extract (Flux-style)."""

    allow: re.Pattern[str] | None
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
