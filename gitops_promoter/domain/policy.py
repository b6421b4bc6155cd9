r"""Tag policies: which tag is "the newest" for an image.

Semantics follow the peers so users can move over (README, "Tag policies"):

* ``semver`` / ``lenient`` — Argo CD Image Updater: ``v`` prefix and short versions, no
  constraint means ``*`` (no pre-releases), equal versions go to the lexically greatest tag.
* ``semver`` / ``strict`` — Flux: a tag needs three dot-separated parts, then reads as lenient
  does (``v1.2-rc.1`` is 1.2.0-rc.1), a constraint is required, equal versions keep list order
  (the first one wins).
* ``newest-build`` — the image's creation time; ties go to the lexically greatest tag.
  A tag without a creation time is never picked (missing data is never a pass).
* ``alphabetical`` / ``numerical`` — Flux, ``order: asc`` (default) picks the greatest.
* ``digest`` — ``constraint`` names a mutable tag; a new digest behind it is the new version.

Filters, as Flux: ``allow_tags`` is a regex with Go's ASCII classes (``\d`` is ``[0-9]``). For
Flux's strategies (semver, alphabetical, numerical), ``ignore_tags`` replaces the default
exclusion of signature tags, as Flux's ``exclusionList`` replaces its default ``^.*\.sig$``
(``ignore_signature_tags: true`` keeps both), and with ``extract``, tags whose extracted values
are equal count once, as the later tag in the list (Flux keeps them in a map keyed by the
extracted value). Deliberately unlike Flux: the default also covers ``*.att`` and ``*.sbom``,
and ``newest-build`` and ``digest`` (no Flux counterpart) keep excluding signature tags next to
``ignore_tags`` unless ``ignore_signature_tags: false``: a signature is pushed after its image,
so it would always be the newest build.

Numbers are ASCII: a tag in Arabic-Indic or fullwidth digits is never a version nor a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import re2  # type: ignore[import-untyped]

from gitops_promoter.domain.tags import Candidate, Pattern, TagFilter, TagInfo, expand
from gitops_promoter.domain.versions import (
    ANY,
    Constraint,
    parse_constraint,
    parse_lenient,
    parse_strict,
)
from gitops_promoter.errors import PolicyError

Strategy = Literal["semver", "newest-build", "alphabetical", "numerical", "digest"]
STRATEGIES: tuple[str, ...] = ("semver", "newest-build", "alphabetical", "numerical", "digest")
SEMVER_MODES: tuple[str, ...] = ("lenient", "strict")
ORDERS: tuple[str, ...] = ("asc", "desc")
#: The strategies Flux has, whose filter semantics (exclusion list, extract ties) follow Flux's.
FLUX_STRATEGIES: tuple[str, ...] = ("semver", "alphabetical", "numerical")

# Decimal notation as Go's strconv.ParseFloat reads it, in ASCII digits only. Deliberately
# narrower than Go: no hex floats (0x1p4), Inf, NaN or underscores, which no release tag means.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _as_number(text: str) -> float | None:
    """A tag (or extracted value) as Flux's numerical policy reads it; None when it is not a
    number. Out of float range is not a number either (Go's ParseFloat fails with ErrRange)."""
    if not text.isascii() or not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


#: An OCI platform as `os/architecture[/variant]` (image-spec image-index.md: lowercase GOOS / GOARCH values).
_PLATFORM = re.compile(r"[a-z0-9_]{1,32}/[a-z0-9_]{1,32}(/[a-z0-9_]{1,32})?", re.ASCII)
_REPEAT = re.compile(r"\{([0-9]*),?([0-9]*)\}")  # also catches a{1,99999999999}, which RE2 takes literally
_NAMED = re.compile(r"\(\?P?<([A-Za-z0-9_]+)>")


def compile_filter_regex(pattern: str, *, what: str) -> Pattern:
    r"""Compile an ``allow_tags`` regex with RE2 (google-re2), the engine of Go's regexp that Flux
    uses: matching is linear in the tag's length whatever the pattern (no catastrophic
    backtracking: ``^(a+)+$`` is safe), ``\d`` is ``[0-9]`` and ``\w`` ``[0-9A-Za-z_]`` (so ``\d+``
    never takes ``١٢٣``), ``$`` is the end of the text (never before a final newline);
    backreferences and lookaround are refused, as in Go."""
    counts = [n for pair in _REPEAT.findall(pattern) for n in pair if n]
    names = _NAMED.findall(pattern)
    if any(len(n) > 4 or int(n) > 1000 for n in counts):
        raise PolicyError(f"{what}: invalid regular expression {_shown(pattern)}: a repeat count above 1000 "
                          "(Go's regexp: invalid repeat count)")
    if len(names) != len(set(names)):
        raise PolicyError(f"{what}: invalid regular expression {_shown(pattern)}: a group name used twice "
                          "(Go's regexp: duplicate capture group name)")
    options = re2.Options()
    options.log_errors = False  # the error goes into the PolicyError, not to stderr
    try:
        return cast(Pattern, re2.compile(pattern, options))
    except (re2.error, RecursionError, OverflowError, ValueError, TypeError) as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PolicyError(f"{what}: invalid regular expression {_shown(pattern)}: {detail}") from None


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:80]) + f"… ({len(text)} characters)"


@dataclass(frozen=True)
class Policy:
    """A validated tag policy. Build it with `Policy.build(...)`; it raises PolicyError."""

    strategy: Strategy
    constraint: str | None = None
    semver_mode: str = "lenient"
    allow_tags: str | None = None
    ignore_tags: tuple[str, ...] = ()
    extract: str | None = None
    order: str = "asc"
    ignore_signature_tags: bool = True
    platform: str | None = None  # newest-build: the platform (os/arch[/variant]) whose image config is read
    _constraint: Constraint | None = field(default=None, repr=False, compare=False)
    _filter: TagFilter | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        *,
        strategy: str,
        constraint: str | None = None,
        semver_mode: str | None = None,
        allow_tags: str | None = None,
        ignore_tags: Iterable[str] = (),
        extract: str | None = None,
        order: str | None = None,
        ignore_signature_tags: bool | None = None,
        platform: str | None = None,
    ) -> Policy:
        """`ignore_signature_tags`: None (not set) ignores signature tags, unless `ignore_tags` is
        given to one of Flux's strategies, where it replaces that default as Flux's
        ``exclusionList`` does; True or False says so whatever the strategy."""
        if strategy not in STRATEGIES:
            raise PolicyError(f"strategy: unknown strategy {strategy!r} (one of: {', '.join(STRATEGIES)})")
        mode = semver_mode or "lenient"
        if mode not in SEMVER_MODES:
            raise PolicyError(f"semver_mode: must be lenient or strict, not {mode!r}")
        if semver_mode is not None and strategy != "semver":
            raise PolicyError(f"semver_mode: only used by the semver strategy, not {strategy}")
        ordering = (order or "asc").lower()
        if ordering not in ORDERS:
            raise PolicyError(f"order: must be asc or desc, not {order!r}")
        if order is not None and strategy not in ("alphabetical", "numerical"):
            raise PolicyError(f"order: only used by alphabetical and numerical, not {strategy}")
        if constraint == "":
            constraint = None
        if platform is not None:
            if strategy != "newest-build":
                raise PolicyError(f"platform: only used by newest-build, not {strategy}")
            if not _PLATFORM.fullmatch(platform):
                raise PolicyError(f"platform: must be OS/ARCHITECTURE[/VARIANT] as in an image index, e.g. "
                                  f"linux/arm64 or linux/arm/v7, not {_shown(platform)}")
        parsed = cls._parse_constraint(strategy, mode, constraint)
        allow = compile_filter_regex(allow_tags, what="allow_tags") if allow_tags else None
        if extract and allow is None:
            raise PolicyError("extract: needs allow_tags, the regex whose groups it uses")
        ignore = tuple(ignore_tags)
        signatures = ignore_signature_tags
        if signatures is None:
            signatures = not (ignore and strategy in FLUX_STRATEGIES)
        return cls(
            strategy=strategy,  # type: ignore[arg-type]
            constraint=constraint,
            semver_mode=mode,
            allow_tags=allow_tags,
            ignore_tags=ignore,
            extract=extract or None,
            order=ordering,
            ignore_signature_tags=signatures,
            platform=platform,
            _constraint=parsed,
            _filter=TagFilter(allow=allow, ignore=ignore, extract=extract or None,
                              ignore_signatures=signatures),
        )

    @staticmethod
    def _parse_constraint(strategy: str, mode: str, constraint: str | None) -> Constraint | None:
        if strategy == "semver":
            if constraint is None:
                if mode == "strict":
                    raise PolicyError("constraint: semver_mode strict needs a constraint (as Flux)")
                return ANY
            try:
                return parse_constraint(constraint)
            except PolicyError as exc:
                raise PolicyError(f"constraint: {exc}") from None
        if strategy == "digest":
            if not constraint:
                raise PolicyError("constraint: the digest strategy needs the mutable tag to follow, e.g. latest")
            return None
        if constraint is not None:
            raise PolicyError(f"constraint: only used by semver and digest, not {strategy}")
        return None

    @property
    def needs_created(self) -> bool:
        return self.strategy == "newest-build"

    @property
    def needs_digest(self) -> bool:
        return self.strategy == "digest"

    def describe(self) -> str:
        parts: list[str] = [self.strategy]
        if self.strategy == "semver":
            parts.append(self.semver_mode)
        if self.constraint:
            parts.append(self.constraint)
        if self.strategy in ("alphabetical", "numerical"):
            parts.append(self.order)
        if self.platform:
            parts.append(self.platform)
        return " ".join(parts)

    def candidates(self, tags: Iterable[TagInfo]) -> list[Candidate]:
        """Tags past the filters, each with the key the policy orders it by. With `extract`,
        equal extracted values count once, as the later tag in the list (Flux's RegexFilter keeps
        a map from extracted value to tag, so the later tag overwrites the earlier)."""
        assert self._filter is not None
        cands = self._filter.apply(tags)
        if self.extract is None or self.strategy not in FLUX_STRATEGIES:
            return cands
        latest: dict[str, Candidate] = {}
        for c in cands:
            latest.pop(c.key, None)
            latest[c.key] = c
        return list(latest.values())

    def select(self, tags: Iterable[TagInfo]) -> TagInfo | None:
        """The newest tag under this policy, or None when no tag qualifies."""
        cands = self.candidates(tags)
        if self.strategy == "semver":
            return self._semver(cands)
        if self.strategy == "newest-build":
            dated = [c for c in cands if c.tag.created is not None]
            if not dated:
                return None
            return max(dated, key=lambda c: (c.tag.created, c.tag.name)).tag
        if self.strategy == "alphabetical":
            return _alphabetical(cands, self.order)
        if self.strategy == "numerical":
            return _numerical(cands, self.order)
        return next((c.tag for c in cands if c.tag.name == self.constraint), None)

    def compare(self, a: TagInfo, b: TagInfo) -> int | None:
        """Order two tags by this policy's ordering alone (no constraint, no filters): >0 when `a` is
        newer, 0 when equal, None when the policy cannot order them (e.g. not versions)."""
        key_a, key_b = self._key(a), self._key(b)
        if key_a is None or key_b is None:
            return None
        if self.strategy == "semver":
            return int(key_a.compare(key_b))
        sign = 1 if self.order == "asc" or self.strategy == "newest-build" else -1
        return sign * (int(key_a > key_b) - int(key_a < key_b))

    def _key(self, tag: TagInfo) -> Any:
        key = tag.name
        if self.extract and self._filter and self._filter.allow:
            m = self._filter.allow.search(tag.name)
            if m is None:
                return None
            key = expand(self.extract, m)
        if self.strategy == "semver":
            return (parse_strict if self.semver_mode == "strict" else parse_lenient)(key)
        if self.strategy == "newest-build":
            return tag.created
        if self.strategy == "numerical":
            return _as_number(key)
        if self.strategy == "alphabetical":
            return key
        return None

    def _semver(self, cands: list[Candidate]) -> TagInfo | None:
        """One pass; the (costlier) constraint runs only on versions that would beat the best so far.
        Ties: lenient takes the lexically greatest tag (Image Updater), strict the first listed (Flux)."""
        assert self._constraint is not None
        strict = self.semver_mode == "strict"
        parse = parse_strict if strict else parse_lenient
        check = self._constraint.check
        best: TagInfo | None = None
        best_rank: tuple[Any, Any] | None = None
        for index, c in enumerate(cands):
            v = parse(c.key)
            if v is None:
                continue
            rank = (v.key, -index if strict else c.tag.name)
            if best_rank is not None and rank <= best_rank:
                continue
            if check(v):
                best, best_rank = c.tag, rank
        return best


def _alphabetical(cands: list[Candidate], order: str) -> TagInfo | None:
    if not cands:
        return None
    pick = max if order == "asc" else min
    return pick(cands, key=lambda c: c.key).tag


def _numerical(cands: list[Candidate], order: str) -> TagInfo | None:
    best: tuple[float, TagInfo] | None = None
    for c in cands:
        value = _as_number(c.key)
        if value is None:
            raise PolicyError(f"numerical: tag {_shown(c.tag.name)} is not a number ({_shown(c.key)})")
        # Flux keeps the later of equal values: only a strictly worse value is skipped.
        if best is None or (value >= best[0] if order == "asc" else value <= best[0]):
            best = (value, c.tag)
    return None if best is None else best[1]
