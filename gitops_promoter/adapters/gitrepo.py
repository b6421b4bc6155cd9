"""A deployment repository through GitPython: one persistent working clone per repo.

Every write is fetch → hard reset to the remote branch → edit → commit → push. A push
that loses a race (non-fast-forward) is redone on the new head by re-applying the edit;
nothing is ever force-pushed, so a human commit is never lost.
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
from gitops_promoter.errors import ConfigError, GitRejected, GitUnavailable, PromoterError
from gitops_promoter.ports import Change, Committed, Unchanged

log = logging.getLogger(__name__)

_RACE = ("non-fast-forward", "updates were rejected because the remote contains work", "fetch first", "[rejected]", "failed to update ref", "cannot lock ref",
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
        self.path = workdir / config.name
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._backoff = backoff or Backoff(base=0.2, cap=5.0)
        self._repo: git.Repo | None = None
        self._env: dict[str, str] | None = None

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

    # --- the working clone -----------------------------------------------------------
    def sync(self) -> str:
        """Make the working clone equal to the remote branch; return its head commit."""
        if self._repo is None:
            self._repo = self._open_or_clone()
        branch = self.config.branch
        self._retrying("fetch", lambda: self._git("fetch", "--prune", "--no-tags", "origin",
                                                  f"+refs/heads/{branch}:refs/remotes/origin/{branch}"))
        self._git("checkout", "-q", "-B", branch, f"refs/remotes/origin/{branch}")
        self._git("reset", "-q", "--hard", f"refs/remotes/origin/{branch}")
        self._git("clean", "-q", "-fdx")
        return self._git("rev-parse", "HEAD")

    def _open_or_clone(self) -> git.Repo:
        if (self.path / ".git").is_dir():
            try:
                repo = git.Repo(self.path)
                self._git("remote", "set-url", "origin", self.config.url, repo=repo)
                return repo
            except (git.InvalidGitRepositoryError, git.NoSuchPathError, GitUnavailable, GitRejected):
                log.warning("%s: working clone at %s is unusable; cloning again", self.name, self.path)
                shutil.rmtree(self.path, ignore_errors=True)
        elif self.path.exists():
            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def clone() -> str:
            shutil.rmtree(self.path, ignore_errors=True)
            try:
                git.Repo.clone_from(self.config.url, self.path, branch=self.config.branch, no_tags=True,
                                    env=self.env())
            except git.GitCommandError as exc:
                raise self._classify(exc, ("clone",)) from None
            return ""

        self._retrying("clone", clone)
        return git.Repo(self.path)

    # --- port ------------------------------------------------------------------------
    def read(self, path: str) -> str:
        self.sync()
        return self._read_worktree(path)

    def _read_worktree(self, path: str) -> str:
        file = self.path / path
        if not file.is_file():
            raise GitRejected(repository=self.name, detail=f"{path}: no such file on branch {self.config.branch}")
        with open(file, encoding="utf-8", newline="") as fh:
            return fh.read()

    def commit(self, change: Change, *, dry_run: bool = False) -> Committed | Unchanged | tuple[str, str]:
        for attempt in range(1, self.max_attempts + 1):
            self.sync()
            before = self._read_worktree(change.path)
            after = change.edit(before)
            if dry_run:
                return before, after
            if after == before:
                return Unchanged(reason=f"{change.path} already says so")
            with open(self.path / change.path, "w", encoding="utf-8", newline="") as fh:
                fh.write(after)
            self._git("add", "--", change.path)
            self._commit(change.message)
            try:
                self._retrying("push", lambda: self._git("push", "--porcelain", "origin",
                                                         f"HEAD:refs/heads/{self.config.branch}"))
            except _PushRace as race:
                log.info("%s: push lost a race (%s); re-applying on the new head", self.name, race)
                self._sleep(self._backoff.delay(attempt - 1))
                continue
            return Committed(sha=self._git("rev-parse", "HEAD"), attempts=attempt)
        raise GitUnavailable(repository=self.name,
                             detail=f"push kept losing races after {self.max_attempts} attempts")

    def _commit(self, message: str) -> None:
        name, email = self.config.author_name, self.config.author_email
        msg_file = self.path / ".git" / "PROMOTER_MSG"
        msg_file.write_text(message, encoding="utf-8")
        self._git("commit", "-q", "--no-verify", "--cleanup=verbatim", "-F", str(msg_file),
                  env={"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                       "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email})

    def head_message(self) -> str:
        return self._git("log", "-1", "--format=%B")


class _PushRace(PromoterError):
    """The remote branch moved under us; handled inside `commit` by re-applying the edit."""


def _redact(text: str) -> str:
    """Hide credentials a URL may carry in git's messages."""
    return re.sub(r"(https?://)[^@/\s]+@", r"\1***@", text)
