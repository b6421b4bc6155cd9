"""The narrow interfaces workflows need. Workflows import these, never adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Registry(Protocol):
    def list_tags(self, image: str) -> Sequence[str]:
        """Every tag of `image` (name without tag)."""
        ...

    def created(self, image: str, tag: str) -> datetime | None:
        """When the image behind `tag` was built, or None when the registry does not say."""
        ...

    def digest(self, image: str, tag: str) -> str:
        """The manifest digest `tag` points at now."""
        ...


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
