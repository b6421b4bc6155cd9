"""What the scale benchmark counts, from outside the product:

* `CountingProxy`: an HTTP/1.1 proxy in front of the registry that counts every request by kind
  (`tags/list`, manifest, blob, other) and forwards it unchanged over a keep-alive connection.
* `GitCounter`: a directory holding a `git` wrapper script, first on PATH and named by
  GIT_PYTHON_GIT_EXECUTABLE, that appends one line per invocation to a log (its arguments) and
  execs the real git. Git's own subprocesses (upload-pack, index-pack, …) go through git's exec
  path, not PATH, so each line is one git process the promoter started.
* `run_measured`: a command as a process, with its wall time and peak RSS (the kernel's
  high-water mark VmHWM of that process, sampled until it exits; and wait4's ru_maxrss, which
  also covers the git processes it waited for).
"""

from __future__ import annotations

import http.client
import os
import re
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlparse

from tests.support.net import LocalServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "host", "content-length"}
REAL_GIT = "/usr/bin/git"


def request_kind(method: str, target: str) -> str:
    path = urlparse(target).path
    if path.endswith("/tags/list"):
        return "tags/list"
    if "/manifests/" in path:
        return f"manifest {method}"
    if "/blobs/" in path:
        return "blob"
    return "other"


class CountingProxy(LocalServer):
    """`with CountingProxy(upstream_url) as proxy:`; `proxy.counts` by kind, `proxy.reset()`."""

    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._serve()

    def reset(self) -> Counter[str]:
        with self._lock:
            old, self.counts = self.counts, Counter()
        return old

    def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes | None
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(*self.upstream, timeout=30)
            try:
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.relay()

            do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET  # noqa: N815

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.counts[request_kind(self.command, self.path)] += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                status, answer, body = proxy._forward(self.command, self.path, headers, sent)
                self.send_response_only(status)
                length_header = None
                for k, v in answer:
                    if k.lower() == "content-length":
                        length_header = v
                    elif k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                keep = self.command == "HEAD" and length_header is not None  # HEAD says the GET's length
                self.send_header("Content-Length", length_header if keep else str(len(body)))  # type: ignore[arg-type]
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        return Handler


_OPTION_WITH_VALUE = {"-c", "-C", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"}


def subcommand(argv: list[str]) -> str:
    """The git subcommand of an argument list (global options skipped)."""
    args = iter(argv)
    for a in args:
        if a in _OPTION_WITH_VALUE:
            next(args, None)
        elif not a.startswith("-"):
            return a
    return "(none)"


class GitCounter:
    """The wrapper directory; `env()` points PATH and GitPython at it; `take()` returns the
    invocations logged since the last take as {subcommand: count} (cat-file split by mode; each
    push also counted as "push to main" — the deployment branch of the benchmark's worlds — or
    "push to another ref")."""

    def __init__(self, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        self.dir = where
        self.log = where / "invocations.log"
        self.log.write_text("")
        wrapper = where / "git"
        # One printf of a NUL-free line, appended (O_APPEND): concurrent gits never interleave a line.
        wrapper.write_text(f"""#!/bin/sh
printf '%s\\n' "$*" >> '{self.log}'
exec {REAL_GIT} "$@"
""")
        wrapper.chmod(0o755)
        self.wrapper = wrapper

    def overhead_ms(self, runs: int = 200) -> float:
        """What the wrapper adds to one git process (ms): `git rev-parse` through it and direct,
        alternately, median of each; its own log lines are dropped."""
        where = str(self.dir)

        def once(exe: str) -> float:
            t0 = time.perf_counter()
            subprocess.run([exe, "rev-parse", "--git-dir"], cwd=where, capture_output=True, check=False)
            return time.perf_counter() - t0

        wrapped, direct = [], []
        for _ in range(runs):
            wrapped.append(once(str(self.wrapper)))
            direct.append(once(REAL_GIT))
        self.log.write_text("")
        return round(max(0.0, statistics.median(wrapped) - statistics.median(direct)) * 1000, 3)

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        return {**base, "PATH": f"{self.dir}:{base.get('PATH', '/usr/bin:/bin')}",
                "GIT_PYTHON_GIT_EXECUTABLE": str(self.wrapper)}

    def take(self) -> Counter[str]:
        lines = self.log.read_text().splitlines()
        self.log.write_text("")
        out: Counter[str] = Counter()
        for line in lines:
            argv = line.split()
            sub = subcommand(argv)
            if sub == "cat-file":
                mode = next((a for a in argv if a.startswith("--batch")), None)
                sub = f"cat-file {mode}" if mode else "cat-file"
            out[sub] += 1
            if sub == "push":  # also by where it goes: the deployment branch (`main`) or another ref
                out["push to main" if argv[-1].endswith(":refs/heads/main") else "push to another ref"] += 1
        return out


@dataclass
class Measured:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    rss_mb: float  # the process's own peak (VmHWM)
    rss_tree_mb: float  # wait4's ru_maxrss: the process or the largest child it waited for


_HWM = re.compile(rb"VmHWM:\s+(\d+) kB")


def run_measured(argv: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 1800.0) -> Measured:
    out_path, err_path = cwd / ".bench-stdout", cwd / ".bench-stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        hwm = 0
        status_file = f"/proc/{proc.pid}/status"
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                seconds = time.perf_counter() - t0
                break
            try:
                with open(status_file, "rb") as fh:
                    m = _HWM.search(fh.read())
                if m:
                    hwm = max(hwm, int(m.group(1)))
            except OSError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, proc.returncode, out_path.read_text(errors="replace"),
                    err_path.read_text(errors="replace"), round(hwm / 1024, 1), round(usage.ru_maxrss / 1024, 1))
