"""The narrow interfaces workflows need. Workflows import these, never adapters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from gitops_promoter.domain.history import Commit
from gitops_promoter.errors import GitRejected

if TYPE_CHECKING:  # types only: canary, analysis and pull-request code loads when a config uses it
    from gitops_promoter.domain.analysis import Measurement
    from gitops_promoter.domain.analysis_run import AnalysisRun
    from gitops_promoter.domain.approval import Review
    from gitops_promoter.domain.canary import RolloutView


class Registry(Protocol):
    def list_tags(self, image: str) -> Sequence[str]:
        """Every tag of `image` (name without tag)."""
        ...

    def created(self, image: str, tag: str, *, platform: str | None = None) -> datetime | None:
        """When the image behind `tag` was built, or None when the registry does not say. `platform`
        (os/arch[/variant]): the image of an index whose config is read (default linux/amd64)."""
        ...

    def digest(self, image: str, tag: str) -> str:
        """The manifest digest `tag` points at now."""
        ...


Edit = Callable[[str], str]


@dataclass(frozen=True)
class Change:
    """One commit: an edit of `path`, plus edits of other files (`also`) that belong in the same
    commit (a release's bump arms its canary gates). Each edit maps a file's current text to the
    new text; edits are re-applied on the new head when a push races another writer, so they
    must be pure. The commit is made only when the edit of `path` changes it."""

    path: str
    edit: Edit
    message: str
    also: tuple[tuple[str, Edit], ...] = ()

    def apply(self, read: Callable[[str], str]) -> dict[str, tuple[str, str]]:
        """Every file's (before, after), `path` first; edits of one file apply in order."""
        out: dict[str, tuple[str, str]] = {}
        for path, edit in ((self.path, self.edit), *self.also):
            before, current = out[path] if path in out else (read(path),) * 2
            out[path] = (before, edit(current))
        return out


@dataclass(frozen=True)
class Committed:
    sha: str
    attempts: int


@dataclass(frozen=True)
class Unchanged:
    reason: str


class PushRefused(GitRejected):
    """The remote refuses pushes to `branch` itself (a protected branch: GitHub's "GH006: Protected
    branch update failed", a pre-receive hook that declines): retrying will not help, a pull
    request may. `reason` is what the remote said. Raised by the DeployRepo methods that push to
    the repository's branch (`commit`, `revert`)."""

    def __init__(self, *, repository: str, branch: str, reason: str) -> None:
        self.branch = branch
        self.reason = reason
        super().__init__(repository=repository, detail=f"pushing to {branch} is refused ({reason})")


class DeployRepo(Protocol):
    name: str
    branch: str  # the branch environments live on (pull requests target it)

    def read(self, path: str) -> str:
        """The file at the remote branch's head (after a fetch)."""
        ...

    def head(self) -> str:
        """The commit the remote branch points at (after a fetch)."""
        ...

    def commit(self, change: Change, *, dry_run: bool = False) -> Committed | Unchanged | tuple[str, str]:
        """Apply, commit and push. With dry_run, return (before, after) and write nothing."""
        ...

    def propose(self, change: Change, *, branch: str, rebuild: bool = False) -> Committed | Unchanged:
        """Commit `change` on the head of the repository's branch and point the promoter-owned
        `branch` at it (replacing what it held). Unchanged when the edit changes nothing. A branch
        that already carries the same content is kept (its reviews stay valid) unless `rebuild`."""
        ...

    def history(self, *, app: str, limit: int = 500) -> list[Commit]:
        """Commits whose trailers name `app`, and every revert, newest first."""
        ...

    def contains(self, ancestor: str, descendant: str) -> bool: ...

    def commit_time(self, sha: str) -> float | None:
        """When `sha` was committed (its committer time, seconds since the epoch); None when unknown here."""
        ...

    def revert(self, commits: list[str], *, message: str) -> Committed:
        """One commit that undoes `commits` (newest first) on the branch head, pushed.
        Raises PushRefused when the remote refuses pushes to the branch."""
        ...

    def propose_revert(self, commits: list[str], *, message: str, branch: str) -> Committed:
        """The commit `revert` would push, made on the head of the repository's branch and pushed
        to the promoter-owned `branch` instead (replacing what it held, never what a person pushed
        there since we last looked). A branch that already reverts the same commits to the same
        content is kept (`attempts` 0), so reviews on its head stay valid."""
        ...


@runtime_checkable
class Pinnable(Protocol):
    """A deployment repository whose reads can be fixed to one fetched head for a pass."""

    def pin(self, paths: Sequence[str] = ()) -> str:
        """Fetch once; reads until `unpin` are at that head (`paths`, the files the pass will read,
        may be read at once). Returns it."""
        ...

    def unpin(self) -> None: ...

    def forget_reads(self) -> None:
        """A new decision starts in this thread: a write of its checks only what it reads from now."""
        ...

    def defer(self) -> None:
        """Until `flush`, commits made while pinned are built on a local chain and not pushed."""
        ...

    def flush(self) -> dict[str, Committed | Unchanged | Exception]:
        """Push the local chain once: what became of each commit handed out since `defer`."""
        ...


@runtime_checkable
class Expirable(Protocol):
    """A deployment repository whose reads reuse a recent fetch: `expire` makes the next one fetch."""

    def expire(self) -> None: ...


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: str  # open | closed
    merged: bool
    head_ref: str
    head_sha: str
    base_ref: str
    title: str
    body: str
    author: str
    url: str
    mergeable: bool | None = None  # None while GitHub computes it
    closed_by: str | None = None


class CodeHost(Protocol):
    """Where pull requests live (GitHub)."""

    def login(self) -> str:
        """Who the promoter is on the code host."""
        ...

    def open_pulls(self, *, base: str) -> list[PullRequest]:
        """Every open pull request into `base` from the repository's own branches: one paginated
        listing shared by all apps of a pass (the host reuses it for a short while, keeping its
        own writes in it)."""
        ...

    def pulls(self, *, head_branch: str, state: str) -> list[PullRequest]:
        """The pull requests from `head_branch` in `state` (open, closed, all). A branch's closed
        ones may be reused until it has an open one again."""
        ...

    def pull(self, number: int) -> PullRequest:
        """One PR, fresh, with `mergeable` and `closed_by` (a closed one may be reused: it changes
        only by being reopened)."""
        ...

    def create_pull(self, *, head_branch: str, base: str, title: str, body: str,
                    labels: tuple[str, ...]) -> PullRequest: ...

    def update_pull(self, number: int, *, title: str, body: str) -> None: ...

    def comment(self, number: int, text: str) -> None: ...

    def comments(self, number: int) -> list[str]:
        """The bodies of the PR's comments, oldest first."""
        ...

    def close_pull(self, number: int) -> None: ...

    def reviews(self, number: int) -> list[Review]: ...

    def checks(self, sha: str) -> dict[str, str]:
        """Commit statuses and check runs on `sha`: name → success | failure | pending."""
        ...

    def team_members(self, team: str) -> frozenset[str]: ...

    def merge(self, number: int, *, sha: str, method: str, title: str, message: str) -> str:
        """Merge if the head is still `sha`; return the merge commit. Raises MergeConflict / HeadMoved."""
        ...


class Metrics(Protocol):
    """Where analysis queries go (Prometheus)."""

    def query(self, promql: str) -> Measurement:
        """One measurement: the result, or an error. Never raises for the service being down."""
        ...


class Cluster(Protocol):
    """Where Argo CD Applications and Rollouts are observed."""

    def application(self, ref: str) -> AppView: ...

    def rollout(self, ref: str) -> RolloutView: ...

    def refresh(self, ref: str) -> None: ...


@dataclass(frozen=True)
class AppView:
    """An Argo CD Application's status. `revision` is what Argo CD last *compared* git at (set even
    while OutOfSync), so it says nothing about what runs; `applied` lists the revisions the cluster
    really got: the last successful sync operation's, or the compared ones while Synced."""

    revision: str | None
    sync: str | None
    health: str | None
    applied: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recorded:
    """One outcome as the journal keeps it (for status and the status page)."""

    at: float  # epoch seconds
    app: str
    env: str
    status: str
    detail: str
    from_tag: str | None = None
    to_tag: str | None = None
    sha: str | None = None
    pr: int | None = None


class Journal(Protocol):
    """The service's memory between reconciles and across restarts: in-flight analysis, what the
    registries showed last, PR numbers, recent outcomes. A cache of git and the code host plus
    in-flight analysis: deleting it loses no decision (git trailers stay the truth)."""

    def load_analysis(self, key: str) -> AnalysisRun | None:
        """The gate's analysis in flight under `key`, or None (never started, finished or unreadable)."""
        ...

    def save_analysis(self, run: AnalysisRun) -> None: ...

    def drop_analysis(self, key: str) -> None: ...

    def seen_tags(self, image: str) -> Mapping[str, str | None] | None:
        """The tags (→ digest when known) last seen for `image`, or None when never polled."""
        ...

    def record_tags(self, image: str, tags: Mapping[str, str | None]) -> None: ...

    def pr_number(self, app: str, env: str) -> int | None: ...

    def record_pr(self, app: str, env: str, number: int | None) -> None: ...

    def record_outcomes(self, rows: Sequence[Recorded]) -> None:
        """Append outcomes; the journal keeps a bounded recent window per app × environment."""
        ...

    def recent(self, *, app: str | None = None, env: str | None = None, limit: int = 50) -> list[Recorded]:
        """Newest first."""
        ...

    def close(self) -> None: ...
