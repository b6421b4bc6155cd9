"""A deployment repository through GitPython: one persistent (bare) clone per repo.

Every write is fetch → read the file at the remote head → edit → commit on that head →
push. A push that loses a race (non-fast-forward) is redone on the new head by
re-applying the edit; nothing is ever force-pushed, so a human commit is never lost.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import git

from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config.schema import RepositoryConfig
from gitops_promoter.domain.history import Commit
from gitops_promoter.errors import ConfigError, GitRejected, GitUnavailable, PromoterError
from gitops_promoter.ports import Change, Committed, Unchanged

log = logging.getLogger(__name__)

_RACE = ("non-fast-forward", "updates were rejected because the remote contains work", "fetch first", "[rejected]",
         "failed to update ref", "cannot lock ref",
         "stale info")
# Anything not a race and not one of these is taken as transient (network, 5xx) and retried.
_REJECTED = ("authentication failed", "permission denied", "couldn't find remote ref", "repository not found",
             "does not appear to be a git repository", "invalid credentials", "error: 403", "error: 401",
             "hook declined", "protected branch", "pathspec", "not found in upstream")


class GitRepo:
    def __init__(self, config: RepositoryConfig, *, workdir: Path, max_attempts: int = 6,
                 sleep: Callable[[float], None] = time.sleep, backoff: Backoff | None = None) -> None:
        self.config = config
        self.name = config.name
        self.branch = config.branch
        self.path = workdir / config.name
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._backoff = backoff or Backoff(base=0.2, cap=5.0)
        self._repo: git.Repo | None = None
        self._env: dict[str, str] | None = None
        self._history: list[Commit] = []
        self._history_head: str | None = None

    # --- credentials ---------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment for git: no prompts; token as an HTTP header, SSH key by path (never in .git/config)."""
        if self._env is not None:
            return self._env
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
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
    def _git(self, *args: str, repo: git.Repo | None = None, env: dict[str, str] | None = None) -> str:
        r = repo or self._repo
        assert r is not None
        try:
            out: str = r.git.execute(["git", *args], env={**self.env(), **(env or {})})
            return out
        except git.GitCommandError as exc:
            raise self._classify(exc, args) from None

    def _classify(self, exc: git.GitCommandError, args: tuple[str, ...]) -> Exception:
        err = re.sub(r"^stderr: '(.*)'$", r"\1", (exc.stderr or "").strip(), flags=re.S)
        err = " ".join(line.strip() for line in err.splitlines() if line.strip())
        low = (err + " " + str(exc.stdout or "")).lower()
        detail = f"git {args[0]}: {_redact(err) or exc.status}"
        if any(s in low for s in _RACE):
            return _PushRace(detail)
        if any(s in low for s in _REJECTED):
            return GitRejected(repository=self.name, detail=detail)
        return GitUnavailable(repository=self.name, detail=detail)

    def _retrying(self, what: str, fn: Callable[[], str]) -> str:
        for attempt in range(self.max_attempts):
            try:
                return fn()
            except GitUnavailable as exc:
                if attempt + 1 >= self.max_attempts:
                    raise GitUnavailable(repository=self.name,
                                         detail=f"{exc.detail}; gave up after {attempt + 1} attempts") from None
                delay = self._backoff.delay(attempt)
                log.warning("%s: %s failed (%s); retrying in %.2fs", self.name, what, exc.detail, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    # --- the persistent clone -----------------------------------------------------------
    # A bare repository with `origin` as its only remote. Writes never touch a work tree:
    # read the blob, hash the new one, build the tree in a private index, commit-tree, push.
    # That keeps a bump independent of the repository's size (no checkout of 5,000 files).

    def sync(self) -> str:
        """Fetch the remote branch; return the commit it points at."""
        if self._repo is None:
            self._repo = self._open_or_init()
        branch = self.config.branch
        self._retrying("fetch", lambda: self._git("fetch", "--prune", "--no-tags", "origin",
                                                  f"+refs/heads/{branch}:{self._tracking}"))
        return self._git("rev-parse", "--verify", f"{self._tracking}^{{commit}}")

    @property
    def _tracking(self) -> str:
        return f"refs/remotes/origin/{self.config.branch}"

    def _open_or_init(self) -> git.Repo:
        if self.path.is_dir():
            try:
                repo = git.Repo(self.path)
                if not repo.bare:
                    raise git.InvalidGitRepositoryError(str(self.path))
                self._git("remote", "set-url", "origin", self.config.url, repo=repo)
                return repo
            except (git.InvalidGitRepositoryError, git.NoSuchPathError, GitUnavailable, GitRejected):
                log.warning("%s: clone at %s is unusable; starting a new one", self.name, self.path)
                shutil.rmtree(self.path, ignore_errors=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(self.path, bare=True)
        self._git("remote", "add", "origin", self.config.url, repo=repo)
        self._git("config", "gc.auto", "0", repo=repo)  # no surprise pauses in the middle of a bump
        return repo

    # --- port ------------------------------------------------------------------------
    def read(self, path: str) -> str:
        return self._read_at(self.sync(), path)

    def _read_at(self, commit: str, path: str) -> str:
        try:
            assert self._repo is not None
            raw: bytes = self._repo.git.execute(["git", "cat-file", "blob", f"{commit}:{path}"], env=self.env(),
                                                stdout_as_string=False, strip_newline_in_stdout=False)
        except git.GitCommandError:
            raise GitRejected(repository=self.name,
                              detail=f"{path}: no such file on branch {self.config.branch}") from None
        return raw.decode("utf-8")

    def commit(self, change: Change, *, dry_run: bool = False) -> Committed | Unchanged | tuple[str, str]:
        for attempt in range(1, self.max_attempts + 1):
            head = self.sync()
            before = self._read_at(head, change.path)
            after = change.edit(before)
            if dry_run:
                return before, after
            if after == before:
                return Unchanged(reason=f"{change.path} already says so")
            commit = self._write_commit(head, change.path, after, change.message)
            try:
                self._retrying("push", lambda commit=commit: self._git(  # type: ignore[misc]
                    "push", "--porcelain", "origin", f"{commit}:refs/heads/{self.config.branch}"))
            except _PushRace as race:
                log.info("%s: push lost a race (%s); re-applying on the new head", self.name, race)
                self._sleep(self._backoff.delay(attempt - 1))
                continue
            return Committed(sha=commit, attempts=attempt)
        raise GitUnavailable(repository=self.name,
                             detail=f"push kept losing races after {self.max_attempts} attempts")

    def _write_commit(self, parent: str, path: str, text: str, message: str) -> str:
        """A commit on `parent` that changes only `path`, built by one `git fast-import` (no index,
        no work tree), so its cost does not grow with the number of files in the repository."""
        mode = self._git("ls-tree", parent, "--", path).split(" ", 1)[0] or "100644"
        scratch = self.path / "promoter"
        scratch.mkdir(exist_ok=True)
        marks = scratch / "marks"
        who = f"{self.config.author_name} <{self.config.author_email}> now"
        msg, body = message.encode("utf-8"), text.encode("utf-8")
        stream = b"".join([
            b"commit refs/promoter/pending\nmark :1\n",
            f"author {who}\ncommitter {who}\n".encode(),
            b"data %d\n" % len(msg), msg, b"\n",
            f"from {parent}\n".encode(),
            f"M {mode} inline {_quote_path(path)}\n".encode(),
            b"data %d\n" % len(body), body, b"\ndone\n",
        ])
        (scratch / "stream").write_bytes(stream)
        assert self._repo is not None
        try:
            with open(scratch / "stream", "rb") as fh:
                self._repo.git.execute(["git", "fast-import", "--quiet", "--force", "--done", "--date-format=now",
                                        f"--export-marks={marks}"], istream=fh, env=self.env())
        except git.GitCommandError as exc:
            raise self._classify(exc, ("fast-import",)) from None
        mark, _, sha = marks.read_text().strip().partition(" ")
        if mark != ":1" or len(sha) < 40:
            raise GitRejected(repository=self.name, detail=f"fast-import wrote no commit (marks: {mark} {sha})")
        return sha

    def propose(self, change: Change, *, branch: str, rebuild: bool = False) -> Committed | Unchanged:
        """Commit `change` on the branch head and point the promoter-owned `branch` at it.

        The branch is left alone when it already carries the same file content (so reviews on its
        head stay valid), unless `rebuild` asks for a fresh commit on the current branch head
        (after a merge conflict). The branch is replaced with --force-with-lease: only a branch
        that still holds what we last saw is overwritten.
        """
        for attempt in range(1, self.max_attempts + 1):
            head = self.sync()
            existing = self._remote_branch(branch)
            before = self._read_at(head, change.path)
            after = change.edit(before)
            if after == before:
                return Unchanged(reason=f"{self.config.branch} already has it")
            if existing and not rebuild and self._carries(existing, change.path, after):
                return Committed(sha=existing, attempts=0)
            commit = self._write_commit(head, change.path, after, change.message)
            lease = f"--force-with-lease=refs/heads/{branch}:{existing or ''}"
            try:
                self._retrying("push", lambda commit=commit, lease=lease: self._git(  # type: ignore[misc]
                    "push", "--porcelain", lease, "origin", f"{commit}:refs/heads/{branch}"))
            except _PushRace as race:
                log.info("%s: %s moved while we rebuilt it (%s); again", self.name, branch, race)
                continue
            return Committed(sha=commit, attempts=attempt)
        raise GitUnavailable(repository=self.name, detail=f"{branch}: push kept losing races")

    def _remote_branch(self, branch: str) -> str | None:
        """The commit `branch` holds on the remote (fetched), or None when it does not exist."""
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

    def history(self, *, app: str, limit: int = 500) -> list[Commit]:
        """Commits that mention `app` in trailers, plus every revert, newest first (after a fetch).

        All promoter commits and reverts of the branch are read once and kept per head; when the
        head moves forward only the new commits are read, so a pass over many apps scans the
        history once, not once per app."""
        head = self.sync()
        if self._history_head != head:
            known = self._history_head
            if known is not None and self.contains(known, head):
                self._history = self._log(f"{known}..{head}") + self._history
            else:
                self._history = self._log(head)
            self._history_head = head
        needle = f"Promoter-App: {app}"
        return [c for c in self._history if needle in c.message or c.reverts][:limit]

    def _log(self, revisions: str) -> list[Commit]:
        out = self._git("log", "-n", "20000", "--format=%H%x1f%s%x1f%B%x1e", "-F",
                        "--grep=Promoter-App: ", "--grep=This reverts commit", revisions)
        commits = []
        for record in out.split("\x1e"):
            sha, _, rest = record.strip().partition("\x1f")
            subject, _, message = rest.partition("\x1f")
            if sha:
                commits.append(Commit(sha, subject, message))
        return commits

    def contains(self, ancestor: str, descendant: str) -> bool:
        """Whether `descendant` includes `ancestor` (False when either is unknown here)."""
        if self._repo is None:
            self.sync()
        try:
            self._git("merge-base", "--is-ancestor", ancestor, descendant)
            return True
        except (GitRejected, GitUnavailable):
            return False

    def revert(self, commits: list[str], *, message: str) -> Committed:
        """One commit on the branch head that undoes `commits` (given newest first), like `git revert`
        of each in turn: a three-way reverse patch, so later unrelated edits survive. A revert that
        does not apply cleanly is a GitRejected, never a forced overwrite."""
        for attempt in range(1, self.max_attempts + 1):
            head = self.sync()
            scratch = self.path / "promoter"
            scratch.mkdir(exist_ok=True)
            index = {"GIT_INDEX_FILE": str(scratch / "revert-index")}
            self._git("read-tree", head, env=index)
            for sha in commits:
                patch = scratch / "revert.patch"
                diff: bytes = self._repo.git.execute(  # type: ignore[union-attr]
                    ["git", "diff", "--binary", f"{sha}^", sha], env=self.env(), stdout_as_string=False,
                    strip_newline_in_stdout=False)
                patch.write_bytes(diff)
                try:
                    self._git("apply", "--cached", "-R", "-3", str(patch), env=index)
                except (GitRejected, GitUnavailable) as exc:
                    raise GitRejected(repository=self.name,
                                      detail=f"cannot revert {sha[:10]} cleanly on {self.branch}: {exc}") from None
            tree = self._git("write-tree", env=index)
            (scratch / "message").write_text(message, encoding="utf-8")
            name, email = self.config.author_name, self.config.author_email
            commit = self._git("commit-tree", tree, "-p", head, "-F", str(scratch / "message"),
                               env={"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                                    "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email})
            try:
                self._retrying("push", lambda commit=commit: self._git(  # type: ignore[misc]
                    "push", "--porcelain", "origin", f"{commit}:refs/heads/{self.branch}"))
            except _PushRace:
                continue
            return Committed(sha=commit, attempts=attempt)
        raise GitUnavailable(repository=self.name, detail="revert: push kept losing races")

    def head_message(self) -> str:
        return self._git("log", "-1", "--format=%B", self._tracking)


class _PushRace(PromoterError):
    """The remote branch moved under us; handled inside `commit` by re-applying the edit."""


def _quote_path(path: str) -> str:
    """A path as fast-import reads it: C-style quoted when it has spaces, quotes or newlines."""
    if any(ch in path for ch in ' "\\\n') or path.startswith('"'):
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return path


def _redact(text: str) -> str:
    """Hide credentials a URL may carry in git's messages."""
    return re.sub(r"(https?://)[^@/\s]+@", r"\1***@", text)
