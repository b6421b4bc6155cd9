"""Real git remotes for tests: bare repositories on disk, and `git daemon` serving them over git://."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port, wait_for_port

ENV = {"GIT_AUTHOR_NAME": "Human", "GIT_AUTHOR_EMAIL": "human@example.com", "GIT_COMMITTER_NAME": "Human",
       "GIT_COMMITTER_EMAIL": "human@example.com", "HOME": "/tmp", "GIT_CONFIG_NOSYSTEM": "1"}


def git(*args: str, cwd: Path | str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**ENV, "PATH": "/usr/bin:/bin"}).stdout.strip()


def make_remote(root: Path, seed: Path | None = None, *, name: str = "deploy", branch: str = "main") -> Path:
    """A bare repository `root/name.git` whose `branch` holds a copy of `seed` (one commit)."""
    bare = root / f"{name}.git"
    git("init", "-q", "--bare", f"--initial-branch={branch}", str(bare), cwd=root)
    work = root / f"{name}-seed"
    git("init", "-q", f"--initial-branch={branch}", str(work), cwd=root)
    if seed is not None:
        shutil.copytree(seed, work, dirs_exist_ok=True)
    else:
        (work / "README.md").write_text("deploy\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Initial deployment manifests", cwd=work)
    git("push", "-q", str(bare), f"HEAD:refs/heads/{branch}", cwd=work)
    shutil.rmtree(work)
    return bare


class HumanClone:
    """A person's clone of the remote, for commits the promoter must respect."""

    def __init__(self, remote: Path | str, where: Path, branch: str = "main") -> None:
        self.path = where
        self.branch = branch
        git("clone", "-q", "-b", branch, str(remote), str(where), cwd=where.parent)

    def commit(self, path: str, text: str, message: str = "human change") -> str:
        git("pull", "-q", "--rebase", cwd=self.path)
        file = self.path / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "-m", message, cwd=self.path)
        git("push", "-q", "origin", f"HEAD:refs/heads/{self.branch}", cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path)


def protect(remote: Path, branch: str = "main") -> None:
    """Refuse pushes to `branch` as a GitHub protected branch does (other branches stay open), with
    GitHub's words: "remote: error: GH006: Protected branch update failed for refs/heads/main." and
    "remote: error: Changes must be made through a pull request." (a pre-receive hook, so the ref
    line says "[remote rejected] main -> main (pre-receive hook declined)" where GitHub says
    "(protected branch hook declined)"). Updates made inside the bare repository itself (the fake
    GitHub's merges) do not run hooks, as GitHub's merge button is not a push."""
    hook = Path(remote) / "hooks" / "pre-receive"
    hook.write_text(f"""#!/bin/sh
while read old new ref; do
  if [ "$ref" = "refs/heads/{branch}" ]; then
    echo "error: GH006: Protected branch update failed for refs/heads/{branch}." >&2
    echo "error: Changes must be made through a pull request." >&2
    exit 1
  fi
done
exit 0
""")
    hook.chmod(0o755)


def remote_file(remote: Path, path: str, branch: str = "main") -> str:
    return git("show", f"{branch}:{path}", cwd=remote)


def remote_log(remote: Path, branch: str = "main", fmt: str = "%s") -> list[str]:
    return git("log", f"--format={fmt}", branch, cwd=remote).splitlines()


@dataclass
class GitDaemon:
    """`git daemon` on 127.0.0.1, exporting every repository under `base`, push enabled."""

    base: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GitDaemon:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1",
             f"--port={self.port}", f"--base-path={self.base}", str(self.base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
