"""git as a process, for the deployment clone: one command at a time (`run`) and one long-lived
`git cat-file --batch` for single reads (`CatFile`).

The clone is always named (`--git-dir`): git never looks upward for a repository, so a clone
half-made by a kill is an error here, never a parent folder's repository. Output is decoded as
UTF-8 with surrogate escapes and loses one trailing newline, as GitPython's `execute` does (its
import alone, which runs `git version`, was ~50 ms of a one-bump `run --once`; GitPython still
makes new clones, `GitRepo._open_or_init`).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

#: git's messages in English whatever the machine's locale: the promoter reads them (races, refusals).
_LOCALE = {"LC_ALL": "C", "LANGUAGE": "C"}
#: What would point git at another repository than the one named when inherited (the promoter
#: started from a git hook, a CI job inside a checkout): git's own list of repository-local
#: variables (environment.c, local_repo_env), the config ones aside. The caller's `env` may still
#: set one. `check-config`'s reads drop them too (runtime/checks.py).
GIT_LOCATION = frozenset({"GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_OBJECT_DIRECTORY",
                        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_INDEX_FILE", "GIT_GRAFT_FILE", "GIT_NAMESPACE",
                        "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_SHALLOW_FILE",
                        "GIT_COMMON_DIR"})


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION}
    return {**inherited, **_LOCALE, **env}


class GitFailed(Exception):
    """A git command that exited non-zero or ran out of time (`status` None)."""

    def __init__(self, args: Sequence[str], status: int | None, stdout: str, stderr: str) -> None:
        self.command, self.status, self.stdout, self.stderr = tuple(args), status, stdout, stderr
        super().__init__(f"git {' '.join(args[:1])} exited {status}: {stderr.strip() or stdout.strip()}")


def run(git_dir: Path, args: Sequence[str], *, env: Mapping[str, str], timeout: float | None = None,
        stdin: IO[bytes] | bytes | None = None) -> str:
    """`git --git-dir=<git_dir> <args>`, its output as text without its last newline. A command
    still running after `timeout` seconds is killed with every process it started (a fetch's
    ssh or remote helper), and is a GitFailed that says so."""
    out = run_bytes(git_dir, args, env=env, timeout=timeout, stdin=stdin)
    text = out.decode("utf-8", "surrogateescape")
    return text[:-1] if text.endswith("\n") else text


def run_bytes(git_dir: Path, args: Sequence[str], *, env: Mapping[str, str], timeout: float | None = None,
              stdin: IO[bytes] | bytes | None = None) -> bytes:
    """`run`, its output as git wrote it."""
    feed = stdin if isinstance(stdin, bytes) else None
    source: IO[bytes] | int = subprocess.PIPE if isinstance(stdin, bytes) else (stdin or subprocess.DEVNULL)
    proc = subprocess.Popen(["git", f"--git-dir={git_dir}", *args], cwd=git_dir, env=_environment(env),
                            stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(feed, timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(proc)
        raise GitFailed(args, None, "", f"no answer within {timeout:g} s: stopped") from None
    except BaseException:  # interrupted (a signal, the service stopping): no git left behind
        _end(proc)
        raise
    if proc.returncode != 0:
        raise GitFailed(args, proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    return out


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Kill git and every process it started (a fetch's ssh or remote helper), then reap it. git
    stays in the promoter's process group, so a signal to the group (timeout(1), a closed terminal,
    `kill -TERM -<pgid>`) reaches it too, as it did under GitPython."""
    for pid in [*_descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.communicate()


def _descendants(pid: int) -> list[int]:
    """The processes under `pid`, from /proc (Linux; elsewhere none: git alone is killed)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def batch_header(line: bytes) -> tuple[str, str, int] | None:
    """(object id, type, size) of one `git cat-file --batch` answer's header line, None for
    `<spec> missing` or `<spec> ambiguous`; OSError for anything else (git out of turn)."""
    text = line.decode("utf-8", "replace").rstrip("\n")
    if text.endswith((" missing", " ambiguous")):
        return None
    parts = text.split(" ")
    if len(parts) != 3 or not parts[2].isdigit():
        raise OSError(f"git cat-file answered {text!r}")
    return parts[0], parts[1], int(parts[2])


class CatFile:
    """One `git cat-file --batch` process answering object requests one by one (no process per
    read). Not thread-safe: its owner serializes (GitRepo holds its lock)."""

    def __init__(self, git_dir: Path, env: Mapping[str, str]) -> None:
        self._git_dir, self._env = git_dir, env
        self._proc: subprocess.Popen[bytes] | None = None

    def read(self, spec: str) -> tuple[str, str, bytes] | None:
        """(object id, type, content) of `spec` (`<commit>:<path>`), None when git has no such
        object. OSError when the process died or answered out of turn: it is ended, and the next
        read starts a new one."""
        if "\n" in spec:
            raise ValueError("one request per line: a spec cannot hold a newline")
        proc = self._proc or self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
            proc.stdin.flush()
            header = batch_header(proc.stdout.readline())
            if header is None:
                return None
            sha, kind, size = header
            data = proc.stdout.read(size + 1)
            if len(data) != size + 1:
                raise OSError("git cat-file ended mid-answer")
        except (OSError, ValueError):
            self.close()
            raise
        return sha, kind, data[:-1]

    def _start(self) -> subprocess.Popen[bytes]:
        self._proc = subprocess.Popen(["git", f"--git-dir={self._git_dir}", "cat-file", "--batch"], cwd=self._git_dir,
                                      env=_environment(self._env), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._proc

    def close(self) -> None:
        """End the process: its stdin closed, git ends by itself (a read in flight is not cut)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __del__(self) -> None:  # a repository forgotten without close(): no git left waiting
        try:
            self.close()
        except Exception:  # noqa: BLE001,S110 - at interpreter exit the modules may be gone already
            pass
