"""Generate a large deployment repository quickly with `git fast-import`."""

from __future__ import annotations

import subprocess
from pathlib import Path

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "GIT_CONFIG_NOSYSTEM": "1"}


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def generate(bare: Path, *, commits: int, files: int, rollout: str, rollout_path: str) -> None:
    """A bare repo on `main` with `files` files (one of them `rollout_path`) and `commits` commits."""
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True, env=ENV)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, stdin=subprocess.PIPE, env=ENV)
    assert proc.stdin is not None
    out = proc.stdin
    ts = 1_700_000_000
    out.write(b"commit refs/heads/main\nmark :1\n")
    out.write(b"committer Seed <seed@example.com> %d +0000\n" % ts)
    out.write(_data("Initial manifests"))
    out.write(b"M 100644 inline " + rollout_path.encode() + b"\n" + _data(rollout))
    for i in range(files - 1):
        out.write(f"M 100644 inline apps/team-{i // 100:02d}/svc-{i}.yaml\n".encode())
        out.write(_data(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{i}\ndata:\n  rev: '0'\n"))
    for c in range(2, commits + 1):
        i = c % (files - 1)
        out.write(b"commit refs/heads/main\n")
        out.write(b"committer Dev <dev@example.com> %d +0000\n" % (ts + c))
        out.write(_data(f"svc-{i}: revision {c}"))
        out.write(f"M 100644 inline apps/team-{i // 100:02d}/svc-{i}.yaml\n".encode())
        out.write(_data(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{i}\ndata:\n  rev: '{c}'\n"))
    out.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "repack", "-a", "-d", "-q"], cwd=bare, check=True, env=ENV)
