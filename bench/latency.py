"""Registry push → dev commit on the remote, through the running service, webhooks only.

Debian's docker-registry notifies the service (`gitops-promoter run`, a subprocess) of every
push; `state.poll_interval` is 1 h, so only the webhooks drive it. Pushes are sequential: push a
new tag, watch the bare remote's branch (its ref file, read every 2 ms) until the bump commit
lands, record the time from the end of the push (the manifest PUT answered) to the commit on the
remote; next. Every bump is then checked in the remote's history (one commit per tag, trailers).

Baseline, measured in the same run: the same git work alone — a one-line commit to the same
file and a `git push` to the same kind of file:// remote, from a plain clone. The ratio says how
much the service (webhook, registry read, policy, fetch, edit, commit, push) adds to git itself.
Target: p99 < 1 s. Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.support.gitremote import git, make_remote
from tests.support.service import CrashWorld

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_P99 = 1.0
WARMUP = 3


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ms(values: list[float]) -> dict[str, float]:
    return {"p50": round(_pct(values, 0.5) * 1000, 1), "p90": round(_pct(values, 0.9) * 1000, 1),
            "p99": round(_pct(values, 0.99) * 1000, 1), "max": round(max(values) * 1000, 1),
            "mean": round(sum(values) / len(values) * 1000, 1), "runs": len(values)}


class RefWatch:
    """The branch head of a bare remote, read from its loose ref file (no process per look)."""

    def __init__(self, remote: Path, branch: str = "main") -> None:
        self.remote, self.branch = remote, branch
        self.file = remote / "refs" / "heads" / branch

    def head(self) -> str:
        try:
            return self.file.read_text().strip()
        except FileNotFoundError:  # packed: ask git
            return git("rev-parse", self.branch, cwd=self.remote)

    def wait_change(self, old: str, *, timeout: float, every: float = 0.002) -> str | None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            head = self.head()
            if head and head != old:
                return head
            time.sleep(every)
        return None


def bench_service(world: CrashWorld, pushes: int, *, timeout: float) -> tuple[list[float], list[float], list[str]]:
    """Sequential pushes; (push→commit latencies, push durations, problems)."""
    app = world.apps[0]
    watch = RefWatch(world.remote)
    latencies, push_times, problems = [], [], []
    for i in range(1, WARMUP + pushes + 1):
        tag = f"v1.{world.next_round()}.0"
        old = watch.head()
        t0 = time.perf_counter()
        world.push(app, tag)
        pushed = time.perf_counter()
        head = watch.wait_change(old, timeout=timeout)
        landed = time.perf_counter()
        if head is None:
            problems.append(f"{tag}: no commit within {timeout:g}s")
            latencies.append(math.inf)
            continue
        trailers = git("log", "-1", "--format=%(trailers:key=Promoter-Tag,valueonly)", head, cwd=world.remote)
        if trailers.strip() != tag:
            problems.append(f"{tag}: the head {head[:10]} says {trailers.strip()!r}")
        if i > WARMUP:
            latencies.append(landed - pushed)
            push_times.append(pushed - t0)
        if i > WARMUP and (i - WARMUP) % 25 == 0:
            print(f"  {i - WARMUP} pushes", flush=True)
    return latencies, push_times, problems


def bench_git_alone(root: Path, seed: Path, file: str, runs: int) -> list[float]:
    """A one-line commit to `file` and a push to a file:// bare remote, from a plain clone."""
    remote = make_remote(root, seed, name="baseline")
    work = root / "baseline-clone"
    git("clone", "-q", f"file://{remote}", str(work), cwd=root)
    path = work / file
    times = []
    for n in range(WARMUP + runs):
        text = path.read_text()
        start = text.index(":v1.") + 1
        end = text.index('"', start)
        path.write_text(text[:start] + f"v1.{n + 1}.0" + text[end:])
        t = time.perf_counter()
        git("commit", "-q", "-am", f"promote(dev): v1.{n + 1}.0", cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        if n >= WARMUP:
            times.append(time.perf_counter() - t)
    return times


def _service_histogram(url: str) -> dict[str, float]:
    """The service's own tag_to_commit histogram (first seen → commit), as a cross-check."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    values = {}
    for line in text.splitlines():
        for key in ("gitops_promoter_tag_to_commit_seconds_sum", "gitops_promoter_tag_to_commit_seconds_count"):
            if line.startswith(key + " "):
                values[key.rsplit("_", 1)[-1]] = float(line.split()[-1])
    if values.get("count"):
        return {"count": values["count"], "mean_ms": round(values["sum"] / values["count"] * 1000, 1)}
    return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one commit")
    args = parser.parse_args(argv)
    print(f"bench: registry push → dev commit through the service (webhooks, poll 1h), {args.pushes} pushes",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="promoter-latency-") as tmp:
        root = Path(tmp)
        world = CrashWorld(root / "service", apps=1, namespace="latency", poll_interval="1h",
                           secret="latency-hook-s3cret")
        try:
            world.service.start()
            while not (world.clone / "refs" / "remotes" / "origin" / "main").exists():
                time.sleep(0.02)
            latencies, push_times, problems = bench_service(world, args.pushes, timeout=args.timeout)
            histogram = _service_histogram(world.service.url)
            audit = world.audit()
            problems += world.problems(audit)
            stop = world.service.stop()
        finally:
            world.close()
        baseline = bench_git_alone(root, root / "service" / "seed", world.files[world.apps[0]], args.pushes)
    finite = [v for v in latencies if math.isfinite(v)]
    lat, base = _ms(latencies if finite else [math.inf]), _ms(baseline)
    result = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
                    "registry": "Debian docker-registry (distribution 2.8), in-memory, notifications on"},
        "pushes": len(latencies),
        "push_to_commit_ms": lat,
        "push_itself_ms": _ms(push_times) if push_times else {},
        "baseline_git_commit_and_push_ms": base,
        "ratio_vs_baseline": {"p50": round(lat["p50"] / base["p50"], 2), "p99": round(lat["p99"] / base["p99"], 2)},
        "service_tag_to_commit_histogram": histogram,
        "timeouts": sum(1 for v in latencies if not math.isfinite(v)),
        "commits_on_remote": audit.commits,
        "sigterm_stop_s": round(stop, 2),
        "problems": problems[:20],
        "targets": {"p99_ms_below": TARGET_P99 * 1000},
    }
    result["pass"] = not problems and lat["p99"] < TARGET_P99 * 1000
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"  push → commit on the remote: p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, "
          f"max {lat['max']} ms ({len(latencies)} pushes)")
    print(f"  git alone (one-line commit + push, file://): p50 {base['p50']} ms, p90 {base['p90']} ms, "
          f"p99 {base['p99']} ms → ratio p50 {result['ratio_vs_baseline']['p50']}x, "
          f"p99 {result['ratio_vs_baseline']['p99']}x")
    for p in problems[:5]:
        print(f"  problem: {p}")
    print(f"bench: {'PASS' if result['pass'] else 'FAIL'} (target p99 < {TARGET_P99 * 1000:.0f} ms; "
          "results in bench/results/latency.json)")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
