"""`make bench`: measure, in one run, against baselines measured in the same run.

1. Bump commit+push on a generated 50,000-commit / 5,000-file repository: the persistent
   working clone (what the promoter does) versus a fresh clone per bump (the baseline).
   Targets: persistent median < 300 ms and >= 20x faster than fresh. On the same repository,
   a failing analysis verdict → the release's revert pushed: target < 1 s.
2. Tag picking over 100,000 tags with the semver policy (filters, lenient parsing, the
   constraint), against a baseline of only parsing the same tags with the `semver` library
   and taking the maximum. Target: at most 2x the baseline.

Writes bench/results/latest.json (and a dated copy) and prints the ratios. Then runs, each writing
its own file in bench/results/: latency.py, stress_crash.py, push_storm.py, fuzz.py (hypothesis
fuzzing of configs, tag lists and registry tag-list answers) and scale.py.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import semver

from bench.bigrepo import generate
from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.config.schema import RepositoryConfig
from gitops_promoter.domain.analysis import Measurement, Metric, assess_metric
from gitops_promoter.domain.edits import ContainerEdit, write_version
from gitops_promoter.domain.history import current_release
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.ports import Change, Committed

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ROLLOUT_PATH = "envs/dev/web/rollout.yaml"
IMAGE = "127.0.0.1:5000/acme/web"
COMMITS = int(os.environ.get("BENCH_COMMITS", "50000"))
FILES = int(os.environ.get("BENCH_FILES", "5000"))
PERSISTENT_BUMPS = 20
FRESH_BUMPS = 3
TAGS = 100_000


def _bump(n: int) -> Change:
    def edit(text: str) -> str:
        return write_version(text, ContainerEdit("web"), image=IMAGE, tag=f"v1.{n}.0", digest=None, pin=False,
                             source=ROLLOUT_PATH)

    return Change(ROLLOUT_PATH, edit, f"promote(dev): web → v1.{n}.0\n\nPromoter-App: web\nPromoter-Env: dev\n"
                                      f"Promoter-Action: bump\nPromoter-Tag: v1.{n}.0\n")


def _failing_verdict_to_revert(repo: GitRepo) -> float:
    """Seconds from a failing measurement to the revert pushed: assess, rebuild the release from
    git history, one revert commit, push — the canary driver's path."""
    t = time.perf_counter()
    metric = Metric("success-rate", success_condition="result[0] >= 0.95")
    verdict = assess_metric(metric, [Measurement([0.41])])
    assert verdict.phase == "Failed"
    release = current_release(repo.history(app="web"), app="web", env="dev")
    assert release is not None
    message = (f"revert(dev): web {release.tag}\n\n{verdict.describe()}\n\n"
               + "".join(f"This reverts commit {sha}.\n" for sha in release.commits)
               + f"\nPromoter-App: web\nPromoter-Env: dev\nPromoter-Action: revert\nPromoter-Tag: {release.tag}\n")
    repo.revert(list(release.commits), message=message)
    return time.perf_counter() - t


def _repo(url: str, workdir: Path) -> GitRepo:
    return GitRepo(RepositoryConfig(name="deploy", url=url), workdir=workdir)


def bench_write(tmp: Path) -> dict[str, object]:
    bare = tmp / "deploy.git"
    t0 = time.perf_counter()
    rollout = (ROOT / "fixtures" / "repos" / "deploy" / ROLLOUT_PATH).read_text()
    generate(bare, commits=COMMITS, files=FILES, rollout=rollout, rollout_path=ROLLOUT_PATH)
    print(f"  generated {COMMITS} commits / {FILES} files in {time.perf_counter() - t0:.1f}s", flush=True)
    url = f"file://{bare}"

    persistent = _repo(url, tmp / "persistent")
    persistent.sync()  # the one-time clone, as at service start
    times = []
    for n in range(1, PERSISTENT_BUMPS + 1):
        t = time.perf_counter()
        result = persistent.commit(_bump(n))
        times.append(time.perf_counter() - t)
        assert isinstance(result, Committed), result
    revert_times = []
    for n in range(PERSISTENT_BUMPS + 100, PERSISTENT_BUMPS + 105):
        assert isinstance(persistent.commit(_bump(n)), Committed)
        revert_times.append(_failing_verdict_to_revert(persistent))
    revert_median = statistics.median(revert_times)
    fresh_times = []
    for n in range(PERSISTENT_BUMPS + 1, PERSISTENT_BUMPS + FRESH_BUMPS + 1):
        where = tmp / f"fresh-{n}"
        t = time.perf_counter()
        result = _repo(url, where).commit(_bump(n))
        fresh_times.append(time.perf_counter() - t)
        assert isinstance(result, Committed), result
        shutil.rmtree(where)
    count = subprocess.run(["git", "rev-list", "--count", "main"], cwd=bare, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert int(count) == COMMITS + PERSISTENT_BUMPS + FRESH_BUMPS + 2 * len(revert_times)
    p50, f50 = statistics.median(times), statistics.median(fresh_times)
    return {
        "repo": {"commits": COMMITS, "files": FILES},
        "persistent_ms": {"median": round(p50 * 1000, 1),
                          "p90": round(sorted(times)[int(len(times) * 0.9) - 1] * 1000, 1),
                          "max": round(max(times) * 1000, 1), "runs": len(times)},
        "fresh_clone_ms": {"median": round(f50 * 1000, 1), "runs": len(fresh_times)},
        "speedup": round(f50 / p50, 1),
        "failing_verdict_to_revert_pushed_ms": {"median": round(revert_median * 1000, 1),
                                                "max": round(max(revert_times) * 1000, 1),
                                                "runs": len(revert_times),
                                                "ratio_vs_fresh_clone": round(revert_median / f50, 3)},
        "targets": {"persistent_median_ms_below": 300, "speedup_at_least": 20, "revert_max_ms_below": 1000},
        "pass": p50 < 0.300 and f50 / p50 >= 20 and max(revert_times) < 1.0,
    }


def _tags(n: int) -> list[TagInfo]:
    rng = random.Random(42)
    out = []
    for i in range(n):
        kind = i % 10
        major, minor, patch = rng.randint(0, 3), rng.randint(0, 60), rng.randint(0, 200)
        if kind < 6:
            name = f"v{major}.{minor}.{patch}"
        elif kind < 8:
            name = f"{major}.{minor}.{patch}-rc.{rng.randint(1, 9)}"
        elif kind == 8:
            name = f"main-{rng.getrandbits(28):07x}-{1700000000 + i}"
        else:
            name = f"sha256-{rng.getrandbits(64):016x}.sig"
        out.append(TagInfo(name))
    return out


def bench_pick() -> dict[str, object]:
    tags = _tags(TAGS)
    policy = Policy.build(strategy="semver", constraint="^1.0")

    def ours() -> str | None:
        pick = policy.select(tags)
        return None if pick is None else pick.name

    def baseline() -> str | None:
        best = None
        for t in tags:
            try:
                v = semver.Version.parse(t.name.lstrip("v"))
            except ValueError:
                continue
            if best is None or v > best[0]:
                best = (v, t.name)
        return None if best is None else best[1]

    def timed(fn):  # type: ignore[no-untyped-def]
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            value = fn()
            runs.append(time.perf_counter() - t)
        return min(runs), value

    ours_s, picked = timed(ours)
    base_s, _ = timed(baseline)
    return {"tags": TAGS, "policy": policy.describe(), "selected": picked,
            "ours_ms": round(ours_s * 1000, 1), "baseline_semver_parse_max_ms": round(base_s * 1000, 1),
            "ratio_vs_baseline": round(ours_s / base_s, 2), "targets": {"ratio_vs_baseline_at_most": 2.0},
            "pass": ours_s / base_s <= 2.0}


def main() -> int:
    print("bench: tag picking", flush=True)
    pick = bench_pick()
    print(f"  {pick['tags']} tags: {pick['ours_ms']} ms (semver library parse+max baseline "
          f"{pick['baseline_semver_parse_max_ms']} ms, ratio {pick['ratio_vs_baseline']}x) → {pick['selected']}")
    print("bench: bump commit+push, persistent clone vs fresh clone", flush=True)
    with tempfile.TemporaryDirectory(prefix="promoter-bench-") as tmp:
        write = bench_write(Path(tmp))
    print(f"  persistent median {write['persistent_ms']['median']} ms, fresh clone median "  # type: ignore[index]
          f"{write['fresh_clone_ms']['median']} ms → {write['speedup']}x faster")  # type: ignore[index]
    rv = write["failing_verdict_to_revert_pushed_ms"]
    print(f"  failing verdict → revert pushed: median {rv['median']} ms, max {rv['max']} ms "  # type: ignore[index]
          f"(target < 1000 ms; {rv['ratio_vs_fresh_clone']}x a fresh clone)")  # type: ignore[index]
    result = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "write": write, "pick": pick,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    (RESULTS / "latest.json").write_text(text)
    (RESULTS / f"{result['when'][:10]}.json").write_text(text)
    ok = bool(write["pass"]) and bool(pick["pass"])
    ok = subprocess.run([sys.executable, "-m", "bench.latency"], cwd=ROOT).returncode == 0 and ok  # latency.json
    ok = subprocess.run([sys.executable, "-m", "bench.stress_crash"], cwd=ROOT).returncode == 0 and ok  # crash.json
    ok = subprocess.run([sys.executable, "-m", "bench.push_storm"], cwd=ROOT).returncode == 0 and ok  # push_storm.json
    ok = subprocess.run([sys.executable, "-m", "bench.fuzz"], cwd=ROOT).returncode == 0 and ok  # fuzz.json
    ok = subprocess.run([sys.executable, "-m", "bench.scale"], cwd=ROOT).returncode == 0 and ok  # scale.json, .png
    print(f"bench: {'PASS' if ok else 'FAIL'} (results in bench/results/latest.json)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
