"""The long-running service's steady cycle on a scale world (bench/scale.py, issue 11).

`gitops-promoter run` (the service) on the world's config, the registry reached directly, a
`POLL` s poll interval and its status server on a free loopback port. After its first cycle
(every app reconciled once), the next full cycle is watched on /metrics
(`gitops_promoter_reconcile_seconds_count`): from its first reconcile to its last (the spread),
the CPU the process used from the end of one cycle to the end of the next (/proc/PID/stat: its
whole cost per poll interval, idle polling included), its resident memory, and the registry, git
and GitHub requests it made meanwhile (the bench's probes).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.net import free_port

POLL = 20.0  # seconds between an app's reconciles: the cycle
_COUNT = re.compile(r"^gitops_promoter_reconcile_seconds_count (\S+)", re.M)


def _reconciles(port: int) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return -1.0
    m = _COUNT.search(text)
    return float(m.group(1)) if m else 0.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return round(int(m.group(1)) / 1024, 1) if m else 0.0


def steady_cycle(argv: list[str], config: Path, apps: int, *, cwd: Path, env: dict[str, str],
                 probes: Any, timeout: float = 300.0) -> dict[str, Any]:
    """`argv` runs the promoter (`python -m gitops_promoter.cli`); `config`, the world's config with the
    registry reached directly. Returns the cycle's figures (a dict for bench/results)."""
    port = free_port()
    text = config.read_text().replace("state:\n", f"server: {{listen: '127.0.0.1:{port}'}}\nstate:\n"
                                                 f"  poll_interval: {POLL:g}s\n", 1)
    service_config = config.with_name("promoter-service.yaml")
    service_config.write_text(text)
    log = open(cwd / ".bench-service.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*argv, "run", "--config", str(service_config)], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout

        def wait_for(count: float) -> float:
            while (seen := _reconciles(port)) < count:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the service stopped or stalled at {seen:.0f} of {count:.0f} reconciles; "
                                       f"see {cwd / '.bench-service.log'}")
                time.sleep(0.2)
            return time.perf_counter()

        wait_for(apps)  # the first cycle: clones, first reads, pull requests already open
        done = wait_for(2 * apps)  # the second one warms what a first pass cannot
        cpu0, mark = _cpu_s(proc.pid), probes.start()
        began = None
        while (seen := _reconciles(port)) < 3 * apps:
            if began is None and seen > 2 * apps:
                began = time.perf_counter()
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service stopped or stalled in its third cycle; see "
                                   f"{cwd / '.bench-service.log'}")
            time.sleep(0.1)
        ended = time.perf_counter()
        counts = probes.counts(mark)
        return {"pass": "service, steady cycle", "seconds": round(ended - (began or done), 2),
                "poll_interval_s": POLL, "cpu_s": round(_cpu_s(proc.pid) - cpu0, 2),
                "cycle_s": round(ended - done, 2), "rss_mb": _rss_mb(proc.pid), "rss_with_git_children_mb": None,
                **counts, "outcomes": {}}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
