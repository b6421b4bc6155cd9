"""A deployment repository: one persistent (bare) clone per repo, git run as a process (`gitcmd`).

Every write is fetch → read the file at the remote head → edit → commit on that head →
push. A push that loses a race (non-fast-forward) is redone on the new head by
re-applying the edit; nothing is ever force-pushed, so a human commit is never lost. A push the
remote refuses on purpose (a protected branch, a declining hook) is a PushRefused: permanent, and
a revert can take the pull-request route instead (`propose_revert`).
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from gitops_promoter.adapters import gitcmd, gitlog
from gitops_promoter.adapters.blob_memory import BlobMemory
from gitops_promoter.adapters.history_index import HistoryIndex
from gitops_promoter.adapters.retry import Backoff, Retry, retrying
from gitops_promoter.config.schema import RepositoryConfig
from gitops_promoter.deadline import left
from gitops_promoter.domain.history import Commit
from gitops_promoter.errors import ConfigError, GitRejected, GitUnavailable, PromoterError, ReadStale, TransientError
from gitops_promoter.ports import Change, Committed, PushRefused, Unchanged

log = logging.getLogger(__name__)

SCRATCH = "promoter-scratch"
INDEX_FILE = "promoter-history.json"  # the history index, kept beside the clone across processes
# What a bare repository (git init --bare, fetch, fast-import) and the promoter put at the top of a clone.
_BARE_LAYOUT = frozenset({"HEAD", "config", "description", "hooks", "info", "objects", "refs", "branches", "logs",
                          "packed-refs", "FETCH_HEAD", "ORIG_HEAD", "shallow", "index", SCRATCH, INDEX_FILE})
NETWORK_TIMEOUT = 60.0  # seconds for one fetch, push or ls-remote
#: The promoter's pull-request branches (domain.proposal.branch_name): fetched with the pass's one
#: fetch, so a pass over many waiting pull requests asks the remote once.
PR_BRANCHES = "promoter/"
MIN_NETWORK_TIMEOUT = 5.0  # … and at least this long, even close to the app's pass deadline
_F = TypeVar("_F", bound=Callable[..., Any])

_RACE = ("non-fast-forward", "updates were rejected because the remote contains work", "fetch first", "[rejected]",
         "failed to update ref", "cannot lock ref",
         "stale info")
# A push the remote refuses on purpose (branch protection, a hook): a pull request may get it in.
# GitHub: "remote: error: GH006: Protected branch update failed for refs/heads/main." and
# "! [remote rejected] main -> main (protected branch hook declined)"; GitLab and plain git hooks:
# "(pre-receive hook declined)".
_REFUSED = ("protected branch", "gh006", "pre-receive hook declined", "[remote rejected]")
_PROGRESS = re.compile(r"^(resolving deltas|counting objects|compressing objects|total \d|processing)", re.I)
# Anything not a race and not one of these is taken as transient (network, 5xx) and retried.
_REJECTED = ("authentication failed", "permission denied", "couldn't find remote ref", "repository not found",
             "does not appear to be a git repository", "invalid credentials", "error: 403", "error: 401",
             "hook declined", "protected branch", "pathspec", "not found in upstream")


#: How long one commit keeps re-applying after lost push races, and at most how many tries.
RACE_BUDGET, RACE_ATTEMPTS = 30.0, 200
OWN_MEMORY = 10_000  # how many of its own pushed commits the promoter remembers
_RACE_BACKOFF = Backoff(base=0.02, cap=0.5)  # full jitter: 10 ms … 0.5 s between tries


def _serialized(method: _F) -> _F:
    """Run the method holding the repository's lock (re-entrant: methods call each other)."""

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return cast(_F, locked)


class GitRepo:
    def __init__(self, config: RepositoryConfig, *, workdir: Path, max_attempts: int = 6,
                 sleep: Callable[[float], None] = time.sleep, backoff: Backoff | None = None,
                 network_timeout: float = NETWORK_TIMEOUT, race_budget: float = RACE_BUDGET,
                 clock: Callable[[], float] = time.monotonic, read_ttl: float = 0.0) -> None:
        """`read_ttl`: reads (files, history, head) reuse the last fetch while it is younger than
        this many seconds (0: every read fetches). Writes always fetch. `pin()` fixes the read head
        for a whole pass instead."""
        self.race_budget = race_budget
        self.read_ttl = read_ttl
        self._clock = clock
        self.config = config
        self.name = config.name
        self.branch = config.branch
        self.path = workdir / config.name
        self.max_attempts = max_attempts
        self.network_timeout = network_timeout
        self._sleep = sleep
        self._backoff = backoff or Backoff(base=0.2, cap=5.0)
        self._repo: Path | None = None  # the clone, once opened (or made) by the first sync
        self._cat: gitcmd.CatFile | None = None  # single reads: one long-lived `git cat-file --batch`
        self._git_opened = False  # repair() ran git in the clone: git reads its HEAD and config
        self._env: dict[str, str] | None = None
        self._index = HistoryIndex()
        self._pinned: str | None = None  # the head reads use during a pass (pin/unpin)
        self._fetched: tuple[float, str] | None = None  # (when, head) of the last fetch
        self.fetches = 0
        self._reads = threading.local()  # per thread (one reconcile): the head its reads were at
        self._lock = threading.RLock()
        self._own: set[str] = set()  # commits this process pushed (bounded)
        self._ancestry: set[tuple[str, str]] = set()  # (ancestor, descendant) pairs git confirmed (bounded)
        self._parent: dict[str, str] = {}  # commit → its parent, for the commits this process wrote (bounded)
        self._generation = 0  # bumped by expire(): a fetch that began before it is not reused
        self._queue: list[_Ticket] = []
        self._repin = False  # expire() during a pinned pass: the next read pins the new head
        self._pr_heads: dict[str, str] | None = None  # pin(): the promoter's PR branches as fetched
        self._pr_fetched: float | None = None  # when they were (the service reuses them within read_ttl)
        self._deferred: list[_Ticket] | None = None  # defer(): the pass's commits, not pushed yet
        self._deferred_base: str | None = None  # changes waiting for the next group commit
        self._queue_lock = threading.Lock()  # one writer per repository across the service's threads
        self._texts = BlobMemory()  # what files said at a commit (read at a sha: never stale)
        self._expected: tuple[str, ...] = ()  # expect(): the files the promoter reads here, read together
        self._read_together: list[str] = []  # the last heads they were read at

    # --- credentials ---------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment for git: no prompts; token as an HTTP header, SSH key by path (never in .git/config)."""
        if self._env is not None:
            return self._env
        # A transfer slower than 1 KB/s for 20 s is given up (git's http.lowSpeedLimit/Time).
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C",
               "GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "20"}
        try:
            if self.config.token is not None:
                raw = base64.b64encode(f"x-access-token:{self.config.token.resolve()}".encode()).decode()
                env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {raw}"})
            if self.config.ssh_key is not None:
                key = self.config.ssh_key
                path = key.target if key.scheme == "file" else self._key_file(key.resolve())
                env["GIT_SSH_COMMAND"] = (f"ssh -i {path} -o IdentitiesOnly=yes -o BatchMode=yes "
                                          "-o StrictHostKeyChecking=accept-new")
        except ConfigError as exc:
            raise GitRejected(repository=self.name, detail=str(exc)) from None
        self._env = env
        return env

    def _key_file(self, content: str) -> str:
        path = self.path.parent / f".{self.name}.ssh-key"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(content.rstrip("\n") + "\n")
        return str(path)

    # --- running git ---------------------------------------------------------------
    def _git(self, *args: str, env: dict[str, str] | None = None) -> str:
        # A command that talks to the remote is killed after network_timeout: a remote that accepts
        # and never answers must not hold the repository's lock (and every app on it) forever.
        remote = args[0] in ("fetch", "push", "ls-remote")
        timeout = None
        if remote:  # and within the app's pass deadline, though never under MIN_NETWORK_TIMEOUT
            remaining = left()
            timeout = self.network_timeout if remaining is None else \
                max(MIN_NETWORK_TIMEOUT, min(self.network_timeout, remaining))
        try:
            return gitcmd.run(self.path, args, env={**self.env(), **(env or {})}, timeout=timeout)
        except gitcmd.GitFailed as exc:
            raise self._classify(exc, args) from None
        except OSError as exc:  # git itself could not be started
            raise GitUnavailable(repository=self.name, detail=f"git {args[0]}: {exc}") from None

    def _classify(self, exc: gitcmd.GitFailed, args: tuple[str, ...]) -> Exception:
        err = (exc.stderr or "").strip()
        own = " ".join(line.strip() for line in err.splitlines() if line.strip() and
                       not line.lstrip().startswith("remote:"))  # git's own words, not a hook's
        err = " ".join(line.strip() for line in err.splitlines() if line.strip())
        low = (err + " " + str(exc.stdout or "")).lower()
        detail = f"git {args[0]}: {_redact(err) or exc.status}"
        if any(s in (own + " " + str(exc.stdout or "")).lower() for s in _RACE) and \
                not (args[0] == "push" and any(s in low for s in _REFUSED)):
            return _PushRace(detail)
        if args[0] == "push" and any(s in low for s in _REFUSED):
            return PushRefused(repository=self.name, branch=_pushed_branch(args),
                               reason=_remote_says(exc.stderr or "", str(exc.stdout or "")))
        if any(s in low for s in _REJECTED):
            return GitRejected(repository=self.name, detail=detail)
        return GitUnavailable(repository=self.name, detail=detail)

    def _retrying(self, what: str, fn: Callable[[], str]) -> str:
        """Run a git command that talks to the remote; network faults are retried with backoff."""

        def attempt() -> str:
            try:
                return fn()
            except GitUnavailable as exc:
                raise Retry(exc.detail) from None

        return retrying(attempt, attempts=self.max_attempts, backoff=self._backoff, sleep=self._sleep,
                        what=f"{self.name}: {what}",
                        give_up=lambda failure, tries: GitUnavailable(
                            repository=self.name, detail=f"{failure.detail}; gave up after {tries} attempts"))

    # --- the persistent clone -----------------------------------------------------------
    # A bare repository with `origin` as its only remote. Writes never touch a work tree:
    # read the blob, hash the new one, build the tree in a private index, commit-tree, push.
    # That keeps a bump independent of the repository's size (no checkout of 5,000 files).

    @_serialized
    def sync(self, *, pr_branches: bool = False) -> str:
        """Fetch the remote branch (and, with `pr_branches`, the promoter's pull-request branches in
        the same fetch); return the commit the branch points at."""
        if self._repo is None:
            self._repo = self._open_or_init()
        branch = self.config.branch
        generation = self._generation
        specs = [f"+refs/heads/{branch}:{self._tracking}"]
        if pr_branches:
            specs.append(f"+refs/heads/{PR_BRANCHES}*:refs/remotes/origin/{PR_BRANCHES}*")
        self._retrying("fetch", lambda: self._git("fetch", "--prune", "--no-tags", "origin", *specs))
        self.fetches += 1
        if not pr_branches:
            head = self._git("rev-parse", "--verify", f"{self._tracking}^{{commit}}")
            self._fetched = (self._clock(), head) if generation == self._generation else None
            return head
        # The branch and the pull-request branches in one listing (one git process, not two).
        prefix = "refs/remotes/origin/"
        refs = [line.split(" ", 2) for line in self._git(
            "for-each-ref", "--format=%(objectname) %(objecttype) %(refname)", self._tracking,
            f"{prefix}{PR_BRANCHES}").splitlines()]
        found = [(sha, kind) for sha, kind, ref in refs if ref == self._tracking]
        if not found or found[0][1] != "commit":
            raise GitRejected(repository=self.name, detail=f"{self._tracking} is not a commit after the fetch "
                                                           f"({found[0][1] if found else 'missing'})")
        head = found[0][0]
        self._fetched = (self._clock(), head) if generation == self._generation else None
        self._pr_heads = {ref[len(prefix):]: sha for sha, _, ref in refs
                          if ref.startswith(f"{prefix}{PR_BRANCHES}")}
        self._pr_fetched = self._fetched[0] if self._fetched is not None else None
        return head

    @_serialized
    def pin(self, paths: Sequence[str] = ()) -> str:
        """Fetch once and read at that head until `unpin`: a pass reads one consistent state with
        one fetch, however many apps share the repository. Writes still fetch, and re-apply their
        edit on the newest head; after the promoter's own push the pin moves to its commit.
        `paths`: the files the pass will read, read at that head in one exchange with git."""
        self._pinned = self.sync(pr_branches=True)
        if paths:  # the pass's own files: the config's others (`expect`) are not read again at this head
            self._prefetch(self._pinned, paths)
            self._read_together = [self._pinned, *self._read_together[:7]]
        return self._pinned

    def expect(self, paths: Sequence[str]) -> None:
        """The files the promoter's apps read here: the first read at a head reads them all in one
        `git cat-file --batch` exchange (the service's reconciles share it, as a pass does its pin's)."""
        self._expected = tuple(dict.fromkeys(paths))

    def _prefetch(self, commit: str, paths: Sequence[str]) -> None:
        """Read `paths` at `commit` with one `git cat-file --batch` run, every request written at
        once (no round trip per file), into the memory of texts `_read_at` answers from. Best
        effort: a file it could not read is read again, alone, when asked for."""
        wanted = [p for p in dict.fromkeys(_tree_path(p) for p in paths)
                  if "\n" not in p and "\r" not in p and not self._texts.knows(commit, p)]
        if not wanted:
            return
        requests = "".join(f"{commit}:{p}\n" for p in wanted).encode()
        try:
            out = gitcmd.run_bytes(self.path, ["cat-file", "--batch"], stdin=requests, env=self.env(),
                                   timeout=self.network_timeout)
        except (OSError, gitcmd.GitFailed) as exc:
            log.debug("%s: reading %d files at once failed (%s); each is read when asked for", self.name,
                      len(wanted), exc)
            return
        at = 0
        for path in wanted:
            end = out.find(b"\n", at)
            if end < 0:
                return
            try:
                header = gitcmd.batch_header(out[at:end])
            except OSError:
                return  # git out of turn: what is left is read alone, when asked for
            at = end + 1
            if header is None:
                self._texts.refused(commit, path, self._missing(path))
                continue
            blob, kind, size = header
            if at + size >= len(out):  # cut short (git ended mid-answer): never a partial file
                return
            raw = out[at:at + size]
            at += size + 1
            try:
                self._texts.text(commit, path, blob, self._blob_text(path, kind, raw))
            except GitRejected as exc:
                self._texts.refused(commit, path, exc)

    @_serialized
    def unpin(self) -> None:
        self._pinned = None
        self._repin = False
        self._pr_heads = None

    def expire(self) -> None:
        """News from outside (a webhook): the next read fetches, whatever `read_ttl` says. Never
        waits for the repository's lock (a webhook handler calls it while a write may be in flight);
        a fetch running now is not kept for reads either."""
        self._generation += 1
        self._fetched = None
        self._repin = self._pinned is not None  # a pinned pass reads the new head from now on

    def forget_reads(self) -> None:
        """A new decision starts in this thread (a reconcile's stage): what it reads from now on is
        what a write of its must find unchanged."""
        self._reads.basis = None

    @_serialized
    def head(self) -> str:
        return self._read_head()

    def _read_head(self) -> str:
        if self._repin and self._pinned is not None:
            self._repin = False
            if not self._deferred:  # a chain of the pass waiting to be pushed is read on; flush rebuilds it
                self.pin()
                if self._deferred is not None:
                    self._deferred_base = self._pinned
        if self._pinned is not None:
            head = self._pinned
        elif self._fetched is not None and self.read_ttl > 0 and self._clock() - self._fetched[0] < self.read_ttl:
            head = self._fetched[1]
        else:
            head = self.sync(pr_branches=self.read_ttl > 0)  # the service: its proposals read them too
        if getattr(self._reads, "basis", None) is None:
            self._reads.basis = head  # the oldest head this thread's decision read, until its write
        return head

    @property
    def _tracking(self) -> str:
        return f"refs/remotes/origin/{self.config.branch}"

    def _open_or_init(self) -> Path:
        if self.path.is_dir() and any(self.path.iterdir()) and not self._looks_like_clone():
            raise GitRejected(repository=self.name, detail=f"{self.path} is not a clone of the promoter's; it is "
                                                           "left alone: move it away or choose another state.workdir")
        if self.path.is_dir():
            try:
                # `--git-dir` names the clone: a folder git does not take for a repository (a kill
                # during `git init`, a work tree's top) fails here; git never looks above it.
                if not (self._git_opened and self._made_for(self.config.url)):
                    self._git("remote", "set-url", "origin", self.config.url)
                return self.path
            except (GitUnavailable, GitRejected):
                log.warning("%s: clone at %s is unusable; starting a new one", self.name, self.path)
                shutil.rmtree(self.path, ignore_errors=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        import git  # GitPython makes the clone (here only: a pass on an existing one never imports it)

        git.Repo.init(self.path, bare=True)
        self._git("remote", "add", "origin", self.config.url)
        self._git("config", "gc.auto", "0")  # no surprise pauses in the middle of a bump
        return self.path

    # --- port ------------------------------------------------------------------------
    @_serialized
    def read(self, path: str) -> str:
        head = self._read_head()
        fetched = self._fetched[1] if self._fetched is not None else None
        if self._expected and head == fetched and head not in self._read_together:
            # The first read at a head fetched from the remote (never at the pass's own local chain,
            # whose every commit is a new head): the apps' files all at once.
            self._read_together = [head, *self._read_together[:7]]
            self._prefetch(head, self._expected)
        return self._read_at(head, path)

    def _read_at(self, commit: str, path: str) -> str:
        """The file's text at `commit`, through one long-lived `git cat-file --batch` (no process
        per read). A file that is not UTF-8 is a GitRejected naming it: never guessed at."""
        assert self._repo is not None
        path = _tree_path(path)
        known = self._texts.get(commit, path)
        if isinstance(known, GitRejected):
            raise known
        if known is not None:
            return known
        missing = self._missing(path)
        if "\n" in path or "\r" in path:  # one request per line: such a path cannot be asked for
            raise missing
        if self._cat is None:
            self._cat = gitcmd.CatFile(self.path, self.env())
        for tries in (1, 2):
            try:
                found = self._cat.read(f"{commit}:{path}")
                break
            except OSError as exc:  # the batch process died or answered out of turn: a new one, once
                if tries == 2:
                    raise GitUnavailable(repository=self.name, detail=f"cat-file {path}: {exc}") from None
        if found is None:  # "<commit>:<path> missing": no such path at that commit
            if gitlog.SHA.fullmatch(commit):
                self._texts.refused(commit, path, missing)
            raise missing
        blob, kind, raw = found
        try:
            text = self._blob_text(path, kind, raw)
        except GitRejected as exc:
            if gitlog.SHA.fullmatch(commit):
                self._texts.refused(commit, path, exc)
            raise
        if gitlog.SHA.fullmatch(commit):
            self._texts.text(commit, path, blob.decode() if isinstance(blob, bytes) else blob, text)
        return text

    def _missing(self, path: str) -> GitRejected:
        return GitRejected(repository=self.name, detail=f"{path}: no such file on branch {self.config.branch}")

    def _blob_text(self, path: str, kind: str, raw: bytes) -> str:
        """A blob's text; GitRejected when it is no file or not UTF-8 (never guessed at)."""
        if kind != "blob":
            raise GitRejected(repository=self.name, detail=f"{path}: is a {kind} on branch {self.config.branch}, "
                                                           "not a file")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GitRejected(repository=self.name, detail=f"{path}: not UTF-8 text (byte {exc.start}: "
                                                           f"{raw[exc.start:exc.start + 1]!r}); nothing is "
                                                           "written to it") from None

    def commit(self, change: Change, *, dry_run: bool = False) -> Committed | Unchanged | tuple[str, str]:
        """Commit `change` on the branch head and push it. Commits asked for at the same time (the
        apps of one pass, reconciled side by side) are built as one chain of commits, each with its
        own message and trailers, and pushed once (group commit): the caller returns when its commit
        is on the remote. A lost race rebuilds the chain on the new head; one change's failure
        (its edit, its file moved since it was read) is that change's alone."""
        if dry_run:
            with self._lock:
                head = self._read_head()
                self._reads.basis = None
                return change.apply(lambda path: self._read_at(head, path))[change.path]
        ticket = _Ticket(change, basis=getattr(self._reads, "basis", None))
        self._reads.basis = None  # the next decision's reads start afresh
        if self._deferred is not None:  # a pass defers its pushes (set and cleared by its own thread)
            with self._lock:
                if self._deferred is not None and self._pinned is not None:
                    return self._commit_locally(ticket)
        with self._queue_lock:
            self._queue.append(ticket)
        while not ticket.done.is_set():
            # Whoever holds the repository's lock lands everything queued so far, ours included.
            if self._lock.acquire(timeout=0.05):
                try:
                    if not ticket.done.is_set():
                        self._land_queued()
                finally:
                    self._lock.release()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

    # --- a pass's bumps as one chain, pushed once ------------------------------------------
    @_serialized
    def defer(self) -> None:
        """Until `flush`, commits made while the repository is pinned are built on a local chain
        on the pinned head (the pass's later reads see them) and not pushed."""
        self._deferred = []
        self._deferred_base = self._pinned

    def _commit_locally(self, ticket: _Ticket) -> Committed | Unchanged:
        assert self._pinned is not None and self._deferred is not None
        tip = self._pinned
        texts = ticket.change.apply(lambda path: self._read_at(tip, path))
        before, after = texts[ticket.change.path]
        if after == before:
            return Unchanged(reason=f"{ticket.change.path} already says so")
        sha = self._write_commit(tip, _changed(texts), ticket.change.message)
        ticket.result = Committed(sha=sha, attempts=0)
        self._deferred.append(ticket)
        self._pinned = sha
        return ticket.result

    @_serialized
    def flush(self) -> dict[str, Committed | Unchanged | Exception]:
        """Push the pass's local chain once; returns what became of each commit `commit` handed out
        meanwhile (by its provisional sha). When the remote moved since the pin, the chain is built
        again on the new head (each change checked and re-applied, as after a lost race)."""
        tickets, base = self._deferred or [], self._deferred_base
        self._deferred = self._deferred_base = None
        if not tickets:
            return {}
        provisional = [t.result.sha for t in tickets if isinstance(t.result, Committed)]
        tip = provisional[-1] if provisional else None  # the chain's last commit (the pin may be elsewhere)
        self._land_tickets(tickets, prebuilt=(base, tip, provisional) if base and tip else None)
        out: dict[str, Committed | Unchanged | Exception] = {}
        for sha, t in zip(provisional, tickets, strict=True):
            out[sha] = t.error if t.error is not None and isinstance(t.error, Exception) else \
                t.result if t.result is not None else GitUnavailable(repository=self.name, detail="not pushed")
        return out

    def _land_queued(self) -> None:
        """Under the lock: land every queued change as one chain of commits and one push."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            self._land_tickets(batch)
        finally:
            for t in batch:
                t.done.set()

    def _land_tickets(self, batch: list[_Ticket],
                      prebuilt: tuple[str, str, list[str]] | None = None) -> None:
        """Build the tickets' changes as one chain on the branch head and push it once. A chain the
        remote refuses (a hook, a push rule on one path) is landed one change at a time, so one
        refused change fails alone."""
        shas: dict[int, str] = {}

        def build(head: str) -> str | Unchanged:
            shas.clear()
            if prebuilt is not None and head == prebuilt[0] and self.contains(head, prebuilt[1]):
                # nothing moved: the local chain as it is
                shas.update(enumerate(prebuilt[2]))
                return prebuilt[1]
            tip = head
            for i, t in enumerate(batch):
                if t.error is not None:
                    continue
                try:
                    # Was it decided on the files as they are? Asked again after every lost race:
                    # a person's edit of the file meanwhile is never overwritten.
                    self._check_fresh(t.basis, head, [t.change.path, *(path for path, _ in t.change.also)])
                    texts = t.change.apply(lambda path, tip=tip: self._read_at(tip, path))  # type: ignore[misc]
                    before, after = texts[t.change.path]
                    if after == before:
                        t.result = Unchanged(reason=f"{t.change.path} already says so")
                        continue
                    t.result = None
                    tip = self._write_commit(tip, _changed(texts), t.change.message)
                except Exception as exc:  # noqa: BLE001 - this change's failure, handed to its caller
                    t.error = exc
                    continue
                shas[i] = tip
            return tip if shas else Unchanged(reason="nothing to commit")

        try:
            landed = self._land(build, chain=lambda: list(shas.values()), known=prebuilt[0] if prebuilt else None)
        except (PushRefused, GitRejected) as exc:
            if len(shas) > 1:
                log.info("%s: the remote refused a chain of %d commits (%s); one at a time", self.name, len(shas),
                         exc)
                for i in list(shas):
                    self._land_tickets([batch[i]])
                return
            self._fail(batch, shas, exc)
            return
        except Exception as exc:  # noqa: BLE001 - the push failed: every change in the chain failed
            self._fail(batch, shas, exc)
            return
        except BaseException as exc:  # an interrupt: the callers fail, and it goes on up
            self._fail(batch, shas, PromoterError(f"interrupted: {type(exc).__name__}"))
            raise
        attempts = landed.attempts if isinstance(landed, Committed) else 1
        for i, sha in shas.items():
            batch[i].result = Committed(sha=sha, attempts=attempts)
        if len(shas) > 1:
            log.info("%s: %d commits pushed at once", self.name, len(shas))

    @staticmethod
    def _fail(batch: list[_Ticket], shas: dict[int, str], exc: Exception) -> None:
        """Every ticket whose commit was in the failed chain, or that has no answer yet, gets `exc`
        (an Unchanged decided against the failed chain's commits is no answer either)."""
        for t in batch:
            if t.error is None:
                t.result = None
                t.error = exc

    def _check_fresh(self, basis: str | None, head: str, paths: list[str]) -> None:
        """Raise ReadStale when a commit between `basis` and `head` that is not the promoter's own
        changed one of `paths`: the caller decided on texts that are gone (a person's push since
        the pass's fetch). The reads move to `head`, so deciding again sees it. `--full-history`:
        a merge that brought a change in (a person merging a pull request) counts as well."""
        if basis is None or basis == head:
            return
        since = self._git("log", "--format=%H", "--full-history", "--no-renames", f"{basis}..{head}", "--", *paths,
                          env={"GIT_LITERAL_PATHSPECS": "1"}).split()
        others = [sha for sha in since if sha not in self._own]  # the promoter's own commits re-apply
        if not others:
            return
        if self._pinned is not None:
            self._pinned = head
        raise ReadStale(repository=self.name,
                        detail=f"{', '.join(paths)} changed on {self.branch} since it was read (in {others[0][:10]}, "
                               f"now at {head[:10]}); deciding again on the new head")

    def _land(self, build: Callable[[str], str | Unchanged],
              chain: Callable[[], list[str]] | None = None, known: str | None = None) -> Committed | Unchanged:
        """Fetch, `build` a commit on the branch head, push it (never a force-push). A push that
        loses a race with another writer is built again on the new head at once, again and again
        with a short jittered pause, for up to `race_budget` seconds (at most RACE_ATTEMPTS tries):
        under a steady stream of people's pushes the window between fetch and push is what
        decides, so many quick tries land where a few long waits do not. A push whose answer was
        lost but that landed (the new head contains it) is taken as landed. `chain` names every
        commit the build made (default: the tip), remembered as the promoter's own. `known`: a head
        fetched already (a pass's pin); the first try builds on it and pushes without fetching again
        (a remote that moved refuses the push as not a fast-forward, and the next try fetches)."""
        started = self._clock()
        attempt = 0
        built: str | None = None
        while True:
            attempt += 1
            head = known if attempt == 1 and known is not None else self.sync()
            if built is not None and self.contains(built, head):  # it landed; only its answer was lost
                return self._landed(built, chain() if chain else [built], attempt - 1)
            rebuilt = build(head)
            if isinstance(rebuilt, Unchanged):
                return rebuilt
            built = rebuilt
            if not self.contains(head, built):  # the lease below must never stand in for a force-push
                raise GitRejected(repository=self.name, detail=f"{built[:10]} does not descend from {head[:10]}; "
                                                               "not pushed")
            try:
                # Leased on the head it was built on: the push lands only where the remote is exactly
                # there — a branch a person moved on, rewound (a force-push that took a commit out) or
                # deleted since refuses it, and the next try fetches. Never more force than a fast-forward.
                refspec = f"{built}:refs/heads/{self.branch}"
                lease = f"--force-with-lease=refs/heads/{self.branch}:{head}"
                self._retrying("push", lambda: self._git("push", "--porcelain", lease, "origin", refspec))  # noqa: B023
            except _PushRace as race:
                spent = self._clock() - started
                late = (left() or 0.0) < 0
                if attempt >= RACE_ATTEMPTS or spent >= self.race_budget or late:
                    detail = f"push kept losing races: {attempt} attempts in {spent:.1f} s; trying again next pass"
                    raise GitUnavailable(repository=self.name, detail=detail) from None
                log.info("%s: push lost a race (%s); re-applying on the new head", self.name, race)
                if not (attempt == 1 and known is not None):  # a stale pin is no contention: fetch at once
                    self._sleep(_RACE_BACKOFF.delay(min(attempt - 1, 5)))
                continue
            return self._landed(built, chain() if chain else [built], attempt)

    def _landed(self, tip: str, commits: list[str], attempts: int) -> Committed:
        """The promoter's commits are on the remote: remember them as its own (bounded), and move
        the reads of this pass (or of read_ttl) to the new head."""
        if len(self._own) + len(commits) > OWN_MEMORY:
            self._own.clear()
        self._own.update(commits)
        self._own.add(tip)
        # A write of its own (a revert) while the pass's chain is not pushed yet leaves the pass
        # reading its chain; `flush` builds the chain again on the new head.
        if self._pinned is not None and not self._deferred:
            self._pinned = tip
            if self._deferred is not None:  # deferring, nothing built yet: the chain starts on the new head
                self._deferred_base = tip
        self._fetched = (self._clock(), tip)
        return Committed(sha=tip, attempts=max(attempts, 1))

    def _write_commit(self, parent: str, files: dict[str, str], message: str) -> str:
        """A commit on `parent` that changes only `files` (path → text), built by one
        `git fast-import` (no index, no work tree), so its cost does not grow with the number of
        files in the repository."""
        files = {_tree_path(path): text for path, text in files.items()}
        modes = {path: self._git("ls-tree", parent, "--", path).split(" ", 1)[0] or "100644" for path in files}
        with self._scratch() as scratch:
            return self._fast_import(scratch, parent, {p: (modes[p], text) for p, text in files.items()}, message)

    def _fast_import(self, scratch: Path, parent: str, files: dict[str, tuple[str, str]], message: str) -> str:
        marks = scratch / "marks"
        # fast-import builds on a ref; resetting it to the null id at the end deletes it again (git's
        # fast-import docs, `reset`): no ref is ever left, and no `update-ref -d` runs after it.
        ref = f"refs/promoter/pending-{scratch.name}"  # per call: concurrent writers never share a ref
        who = f"{self.config.author_name} <{self.config.author_email}> now"
        msg = message.encode("utf-8")
        parts = [f"commit {ref}\nmark :1\n".encode(), f"author {who}\ncommitter {who}\n".encode(),
                 b"data %d\n" % len(msg), msg, b"\n", f"from {parent}\n".encode()]
        for path, (mode, text) in files.items():
            body = text.encode("utf-8")
            parts += [f"M {mode} inline {_quote_path(path)}\n".encode(), b"data %d\n" % len(body), body, b"\n"]
        null = "0" * (64 if len(parent) == 64 else 40)
        stream = b"".join([*parts, f"\nreset {ref}\nfrom {null}\n\n".encode(), b"done\n"])
        (scratch / "stream").write_bytes(stream)
        try:
            with open(scratch / "stream", "rb") as fh:
                gitcmd.run(self.path, ["fast-import", "--quiet", "--force", "--done", "--date-format=now",
                                       f"--export-marks={marks}"], stdin=fh, env=self.env())
        except gitcmd.GitFailed as exc:
            raise self._classify(exc, ("fast-import",)) from None
        mark, _, sha = marks.read_text().strip().partition(" ")
        if mark != ":1" or len(sha) < 40:
            raise GitRejected(repository=self.name, detail=f"fast-import wrote no commit (marks: {mark} {sha})")
        if len(self._parent) >= OWN_MEMORY:
            self._parent.clear()
        self._parent[sha] = parent
        return sha

    @_serialized
    def propose(self, change: Change, *, branch: str, rebuild: bool = False) -> Committed | Unchanged:
        """Commit `change` on the branch head and point the promoter-owned `branch` at it.

        The branch is left alone when it already carries the same file content (so reviews on its
        head stay valid), unless `rebuild` asks for a fresh commit on the current branch head
        (after a merge conflict). The branch is replaced with --force-with-lease: only a branch
        that still holds what we last saw is overwritten.
        """
        for attempt in range(1, self.max_attempts + 1):
            # First at the pass's head and the promoter's branches as its one fetch found them: no
            # network when nothing is to push, and the push built on them, leased on what the fetch
            # saw (a branch that moved since refuses it). Then on the newest head and branch.
            fresh = attempt > 1 or (self._pinned is None and not self._recent_pr_heads())
            head = self.sync() if fresh else self._read_head()
            if not fresh and self._deferred is not None and self._deferred_base is not None:
                head = self._deferred_base  # the pass's own chain is not pushed yet: never under a branch
            existing = self._remote_branch(branch, fresh=fresh)
            texts = change.apply(lambda path, head=head: self._read_at(head, path))  # type: ignore[misc]
            before, after = texts[change.path]
            if after == before:
                return Unchanged(reason=f"{self.config.branch} already has it")
            files = _changed(texts)
            if existing and not rebuild and all(self._carries(existing, p, t) for p, t in files.items()):
                return Committed(sha=existing, attempts=0)
            if not fresh and (self._pr_heads is None or not branch.startswith(PR_BRANCHES)):
                continue
            commit = self._write_commit(head, files, change.message)
            lease = f"--force-with-lease=refs/heads/{branch}:{existing or ''}"
            try:
                self._retrying("push", lambda commit=commit, lease=lease: self._git(  # type: ignore[misc]
                    "push", "--porcelain", lease, "origin", f"{commit}:refs/heads/{branch}"))
            except _PushRace as race:
                log.info("%s: %s moved while we rebuilt it (%s); again", self.name, branch, race)
                continue
            if self._pr_heads is not None:
                self._pr_heads[branch] = commit
            return Committed(sha=commit, attempts=attempt)
        raise GitUnavailable(repository=self.name, detail=f"{branch}: push kept losing races")

    def _recent_pr_heads(self) -> bool:
        """The service's last fetch (within read_ttl, no webhook since) also brought the promoter's
        branches: a proposal first decides on them, as a pinned pass does on its pin's."""
        now = self._clock()
        return (self._pr_heads is not None and self._fetched is not None and self._pr_fetched is not None and
                self.read_ttl > 0 and now - self._fetched[0] < self.read_ttl and now - self._pr_fetched < self.read_ttl)

    def _remote_branch(self, branch: str, *, fresh: bool = True) -> str | None:
        """The commit `branch` holds on the remote (fetched), or None when it does not exist; not
        `fresh`, during a pinned pass: as the pass's one fetch found it."""
        if not fresh and self._pr_heads is not None and branch.startswith(PR_BRANCHES):
            return self._pr_heads.get(branch)
        out = self._retrying("ls-remote", lambda: self._git("ls-remote", "origin", f"refs/heads/{branch}"))
        sha = out.split("\t", 1)[0].strip() if out else ""
        if not sha:
            return None
        self._retrying("fetch", lambda: self._git("fetch", "--no-tags", "origin",
                                                  f"+refs/heads/{branch}:refs/remotes/origin/{branch}"))
        return sha

    def _carries(self, commit: str, path: str, text: str) -> bool:
        try:
            return self._read_at(commit, path) == text
        except GitRejected:
            return False

    @_serialized
    def history(self, *, app: str, limit: int = 500) -> list[Commit]:
        """Commits that mention `app` in trailers, plus every revert, newest first (after a fetch).

        All promoter commits and reverts of the branch are read once and kept per head; when the
        head moves forward only the new commits are read, so a pass over many apps scans the
        history once, not once per app."""
        head = self._read_head()
        if self._index.head != head:
            if self._index.head is None:
                self._index = HistoryIndex.load(self._index_file)
            known = self._index.head
            if known is not None and known != head and self.contains(known, head):
                self._index.extend(self._log(f"{known}..{head}"), head=head)
            elif known != head:
                self._index = HistoryIndex()
                self._index.extend(self._log(head), head=head)
            self._index.save(self._index_file)
        return self._index.of(app, limit=limit)

    @property
    def _index_file(self) -> Path:
        return self.path / INDEX_FILE

    def _log(self, revisions: str) -> list[Commit]:
        out = self._git("log", "-n", "20000", *gitlog.FORMAT, "-F", "--grep=Promoter-App: ",
                        "--grep=This reverts commit", revisions)
        return [Commit(sha, gitlog.subject(message), message) for sha, message in gitlog.records(out)]

    @_serialized
    def contains(self, ancestor: str, descendant: str) -> bool:
        """Whether `descendant` includes `ancestor` (False when either is unknown here). A yes is
        remembered (commits never change); a no is asked again (the objects may arrive later)."""
        if (ancestor, descendant) in self._ancestry or self._wrote_on(ancestor, descendant):
            return True
        if self._repo is None:
            self._read_head()
        try:
            self._git("merge-base", "--is-ancestor", ancestor, descendant)
        except (GitRejected, GitUnavailable):
            return False
        if len(self._ancestry) >= OWN_MEMORY:
            self._ancestry.clear()
        self._ancestry.add((ancestor, descendant))
        return True

    def _wrote_on(self, ancestor: str, descendant: str) -> bool:
        """Whether `descendant` is a chain of commits this process wrote (fast-import, `from` each
        parent) down to `ancestor`: known without asking git."""
        at, steps = descendant, 0
        while at in self._parent and steps <= len(self._parent):
            at, steps = self._parent[at], steps + 1
            if at == ancestor:
                return True
        return False

    @_serialized
    def commit_time(self, sha: str) -> float | None:
        """The committer time of `sha` (a squash or merge commit: when it was merged), None when the
        clone does not have it (or is not open yet: the sha comes from `history`, which opens it)."""
        if self._repo is None:
            return None
        try:
            out = self._git("show", "-s", "--format=%ct", sha, "--")
        except (GitRejected, GitUnavailable):
            return None
        text = out.strip()
        return float(text) if text.isascii() and text.isdigit() else None

    @_serialized
    def revert(self, commits: list[str], *, message: str) -> Committed:
        """One commit on the branch head that undoes `commits` (given newest first), like `git revert`
        of each in turn: a three-way reverse patch, so later unrelated edits survive. A revert that
        does not apply cleanly is a GitRejected, never a forced overwrite; a branch that refuses the
        push, a PushRefused."""
        def build(head: str) -> str:
            with self._scratch() as scratch:
                return self._revert_commit(scratch, head, commits, message)

        result = self._land(build)
        assert isinstance(result, Committed)
        return result

    @_serialized
    def propose_revert(self, commits: list[str], *, message: str, branch: str) -> Committed:
        """The commit `revert` would push, made on the branch head and pushed to the promoter-owned
        `branch` instead, with --force-with-lease (only a branch that still holds what we last saw
        is replaced). A branch that already reverts the same commits to the same content is kept,
        so reviews on its head stay valid."""
        for attempt in range(1, self.max_attempts + 1):
            head = self.sync()
            existing = self._remote_branch(branch)
            with self._scratch() as scratch:
                commit = self._revert_commit(scratch, head, commits, message)
            if existing and self._same_revert(existing, commit, commits):
                return Committed(sha=existing, attempts=0)
            lease = f"--force-with-lease=refs/heads/{branch}:{existing or ''}"
            try:
                self._retrying("push", lambda commit=commit, lease=lease: self._git(  # type: ignore[misc]
                    "push", "--porcelain", lease, "origin", f"{commit}:refs/heads/{branch}"))
            except _PushRace as race:
                log.info("%s: %s moved while we rebuilt it (%s); again", self.name, branch, race)
                continue
            return Committed(sha=commit, attempts=attempt)
        raise GitUnavailable(repository=self.name, detail=f"{branch}: push kept losing races")

    def _same_revert(self, existing: str, commit: str, commits: list[str]) -> bool:
        """Whether `existing` already is this revert: its message reverts the same commits, and every
        file the new revert commit changes reads the same there."""
        said = Commit(existing, "", self._git("log", "-1", "--format=%B", existing)).reverts
        if sorted(said) != sorted(commits):
            return False
        paths = [p for p in self._git("diff", "--name-only", "-z", f"{commit}^", commit).split("\0") if p]
        if not paths:
            return False
        return self._git("ls-tree", existing, "--", *paths) == self._git("ls-tree", commit, "--", *paths)

    def _revert_commit(self, scratch: Path, head: str, commits: list[str], message: str) -> str:
        index = {"GIT_INDEX_FILE": str(scratch / "revert-index")}
        self._git("read-tree", head, env=index)
        for sha in commits:
            patch = scratch / "revert.patch"
            try:
                diff = gitcmd.run_bytes(self.path, ["diff", "--binary", f"{sha}^", sha], env=self.env())
            except gitcmd.GitFailed as exc:
                raise self._classify(exc, ("diff",)) from None
            patch.write_bytes(diff)
            try:
                self._git("apply", "--cached", "-R", "-3", str(patch), env=index)
            except (GitRejected, GitUnavailable) as exc:
                raise GitRejected(repository=self.name,
                                  detail=f"cannot revert {sha[:10]} cleanly on {self.branch}: {exc}") from None
        tree = self._git("write-tree", env=index)
        (scratch / "message").write_text(message, encoding="utf-8")
        name, email = self.config.author_name, self.config.author_email
        return self._git("commit-tree", tree, "-p", head, "-F", str(scratch / "message"),
                         env={"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                              "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email})

    # --- scratch space and crash repair ---------------------------------------------------
    @contextmanager
    def _scratch(self) -> Iterator[Path]:
        """A private folder for one write (fast-import stream, marks, revert index), removed after."""
        root = self.path / SCRATCH
        root.mkdir(exist_ok=True)
        path = Path(tempfile.mkdtemp(dir=root, prefix=f"{os.getpid()}-"))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _drop_ref(self, ref: str) -> None:
        try:
            self._git("update-ref", "-d", ref)
        except PromoterError as exc:  # repaired at the next start
            log.warning("%s: could not delete %s: %s", self.name, ref, exc)

    def _made_for(self, url: str) -> bool:
        """Whether the clone is whole and its `origin` is `url`, read from its files (no git
        process): what git takes for a repository (HEAD, objects/, refs/: setup.c's
        is_git_directory) and one `url = <url>` line in `[remote "origin"]` of its config, as
        `git remote add` writes it. Asked only once git itself opened the clone in this process
        (repair's for-each-ref: a HEAD or config git cannot read fails there). Anything else (a
        kill during `git init`, another URL, a value git would quote) is settled by `git remote
        set-url`, which also proves it a repository, or by a new clone."""
        if not ((self.path / "HEAD").is_file() and (self.path / "objects").is_dir() and (self.path / "refs").is_dir()):
            return False
        try:
            lines = (self.path / "config").read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return False
        section, urls = "", []
        for line in lines:
            text = line.strip()
            if text.startswith("["):
                section = text
            elif section == '[remote "origin"]' and text.split("=", 1)[0].strip() == "url":
                urls.append(text.split("=", 1)[1].strip() if "=" in text else None)
        return urls == [url] and not any(c in url for c in '"\\;#') and url == url.strip()

    def _looks_like_clone(self) -> bool:
        """Whether the folder is git's (a bare clone, even one half-made by a kill during `git init`,
        which writes hooks, info, description, HEAD, config, objects, refs): a person's folder that
        happens to sit here holds none of those, and is never cleaned or replaced."""
        return any(p.name in _BARE_LAYOUT for p in self.path.iterdir())

    @_serialized
    def close(self) -> None:
        """End the long-lived `git cat-file` of single reads (a later read starts it again)."""
        if self._cat is not None:
            self._cat.close()
            self._cat = None

    @_serialized
    def repair(self) -> list[str]:
        """Remove what a killed writer may have left in the clone: git's `*.lock` files (a ref,
        the index, packed-refs, config), `fast_import_crash_*` reports, half-written packs, the
        scratch folders and `refs/promoter/*`. Only safe under the workdir lock, when no other
        process can be writing here. Returns what it removed, for the log."""
        if not self.path.is_dir():
            return []
        if not self._looks_like_clone():
            if any(self.path.iterdir()):
                log.warning("%s: %s is not a clone of the promoter's; not touching it", self.name, self.path)
            return []
        removed: list[str] = []
        for pattern in ("*.lock", "refs/**/*.lock", "logs/**/*.lock", "fast_import_crash_*", "objects/pack/tmp_*",
                        "objects/incoming-*", ".promoter-history-*"):
            for leftover in sorted(self.path.glob(pattern)):
                if SCRATCH in leftover.relative_to(self.path).parts:
                    continue
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
                removed.append(str(leftover.relative_to(self.path)))
        scratch = self.path / SCRATCH
        for leftover in sorted(scratch.iterdir()) if scratch.is_dir() else []:  # one folder per interrupted write
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(f"{SCRATCH}/{leftover.name}")
        try:
            # Opened here only: the next sync opens it for use, and checks it (a clone killed while
            # it was being made, without `origin`, is made again there).
            refs = self._git("for-each-ref", "--format=%(refname)", "refs/promoter/").split()
        except PromoterError:
            return removed  # an unusable clone is replaced at the next sync
        self._git_opened = True
        for ref in refs:
            self._drop_ref(ref)
            removed.append(ref)
        if removed:
            log.warning("%s: repaired what an interrupted run left: %s", self.name, ", ".join(removed))
        return removed

    @_serialized
    def head_message(self) -> str:
        return self._git("log", "-1", "--format=%B", self._tracking)


@dataclass(eq=False)
class _Ticket:
    """One caller's change waiting in the group commit."""

    change: Change
    basis: str | None  # the head the caller's decision read
    result: Committed | Unchanged | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class _PushRace(TransientError):
    """The remote branch moved under us; handled inside `commit` by re-applying the edit (and,
    should one escape from a fetch — "cannot lock ref" — transient: tried again later)."""


def _pushed_branch(args: tuple[str, ...]) -> str:
    """The branch a `git push … <commit>:refs/heads/<branch>` updates."""
    for arg in reversed(args):
        if ":refs/heads/" in arg and not arg.startswith("--"):
            return arg.split(":refs/heads/", 1)[1]
    return "?"


def _remote_says(stderr: str, stdout: str) -> str:
    """What the remote said when it refused a push: its `remote:` lines (GitHub's "GH006: Protected
    branch update failed for refs/heads/main. Changes must be made through a pull request."), else
    the reason of the rejected ref ("pre-receive hook declined")."""
    raw = stderr.strip()
    said = []
    for line in raw.splitlines():
        text = line.strip()
        if not text.lower().startswith("remote:"):
            continue
        text = re.sub(r"^error:\s*", "", text[len("remote:"):].strip(), flags=re.I)
        if text and not _PROGRESS.match(text):
            said.append(text)
    if said:
        return _redact(" ".join(said))
    found = re.search(r"\[remote rejected\][^(\n]*\(([^)\n]*)\)", f"{stdout}\n{raw}")
    return found.group(1) if found else "the remote declined the push"


def _changed(texts: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {path: after for path, (before, after) in texts.items() if after != before}


def _tree_path(path: str) -> str:
    """A path as git's trees hold it: `./values.yaml` and `a/./b` (valid in the config) without the `.` parts."""
    return "/".join(part for part in path.split("/") if part != ".") if "." in path.split("/") else path


def _quote_path(path: str) -> str:
    """A path as fast-import reads it: C-style quoted when it has spaces, quotes or newlines."""
    if any(ch in path for ch in ' "\\\n') or path.startswith('"'):
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return path


def _redact(text: str) -> str:
    """Hide credentials a URL may carry in git's messages."""
    return re.sub(r"(https?://)[^@/\s]+@", r"\1***@", text)
