"""The narrow interfaces workflows need. Workflows import these, never adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gitops_promoter.domain.tags import TagInfo


class Registry(Protocol):
    def list_tags(self, image: str, *, need_created: bool = False, need_digest: bool = False) -> Sequence[TagInfo]:
        """Every tag of `image` (name without tag), with the metadata asked for."""
        ...

    def digest(self, image: str, tag: str) -> str: ...


@dataclass(frozen=True)
class Change:
    """One file edit to commit. `edit` maps the file's current text to the new text; it is
    re-applied on the new head when a push races another writer, so it must be pure."""

    path: str
    edit: Callable[[str], str]
    message: str


@dataclass(frozen=True)
class Committed:
    sha: str
    attempts: int


@dataclass(frozen=True)
class Unchanged:
    reason: str


class DeployRepo(Protocol):
    name: str

    def read(self, path: str) -> str:
        """The file at the remote branch's head (after a fetch)."""
        ...

    def commit(self, change: Change, *, dry_run: bool = False) -> Committed | Unchanged | tuple[str, str]:
        """Apply, commit and push. With dry_run, return (before, after) and write nothing."""
        ...
