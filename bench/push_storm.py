"""Bumps under a storm of people's pushes: do they keep landing, how long do they take, and is
every person's commit kept?

People push small commits to the deployment repository's branch at a steady rate (2, 10 and 20
pushes/s, by several pusher threads, each re-fetching and rebasing when it loses a race, as
`git pull --rebase && git push` does), over `git daemon` (a real network remote on loopback).
Meanwhile the promoter's git adapter makes BUMPS bumps one after another, each with
`GitRepo.commit` and its default race budget. Baseline in the same run: the same bumps with no
storm. A commit whose race budget (30 s) runs out gives up for its pass; the next pass tries
again, as the service does (up to PASSES). Records the share of bumps landed, their latency
from the first try (p50, p95, max), how many passes gave up, the push rate the
people really achieved, and whether every person's commit and every landed bump is in the
branch's history (never a force-push).

Writes bench/results/push_storm.json.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.config.schema import RepositoryConfig
from gitops_promoter.errors import PromoterError
from gitops_promoter.ports import Change, Committed
from tests.support.gitremote import GitDaemon

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BUMPS = 30
RATES = (2, 10, 20)
PUSHERS = 4
PASSES = 3  # the service's next passes retry a bump whose pass gave up (one pass: 30 s of races)


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def make_remote(root: Path) -> Path:
    seed = root / "seed"
    seed.mkdir()
    git("init", "-q", "-b", "main", cwd=seed)
    (seed / "app.yaml").write_text("image: reg/web:v0\n")
    git("add", "-A", cwd=seed)
    git("-c", "user.name=Seed", "-c", "user.email=seed@x", "commit", "-q", "-m", "seed", cwd=seed)
    bare = root / "deploy.git"
    git("clone", "-q", "--bare", str(seed), str(bare), cwd=root)
    git("config", "receive.denyNonFastForwards", "true", cwd=bare)
    git("config", "daemon.receivepack", "true", cwd=bare)
    return bare


class People:
    """PUSHERS threads pushing `rate` commits per second in all; each lost race is a fetch,
    rebase and push again, so every commit lands eventually. `landed` lists their subjects."""

    def __init__(self, url: str, root: Path, rate: float) -> None:
        self.url, self.root, self.rate = url, root, rate
        self.stop = threading.Event()
        self.landed: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(PUSHERS)]

    def __enter__(self) -> People:
        self.started = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)
        self.elapsed = time.monotonic() - self.started

    def _run(self, i: int) -> None:
        where = self.root / f"person-{i}"
        git("clone", "-q", self.url, str(where), cwd=self.root)
        git("config", "user.name", f"Person {i}", cwd=where)
        git("config", "user.email", f"p{i}@x", cwd=where)
        interval = PUSHERS / self.rate
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            next_at += interval
            n += 1
            (where / f"notes-{i}.txt").write_text(f"{n}\n")
            git("add", "-A", cwd=where)
            subject = f"person {i} change {n}"
            git("commit", "-q", "-m", subject, cwd=where)
            while git("push", "-q", "origin", "HEAD:main", cwd=where).returncode != 0:
                git("pull", "-q", "--rebase", "origin", "main", cwd=where)  # lost a race: rebase, again
            with self.lock:
                self.landed.append(subject)
            pause = next_at - time.monotonic()
            if pause > 0:
                self.stop.wait(pause)


def bumps(url: str, workdir: Path) -> tuple[list[float], int]:
    repo = GitRepo(RepositoryConfig(name="deploy", url=url, author_name="gitops-promoter",
                                    author_email="bot@x"), workdir=workdir)
    repo.sync()
    latencies: list[float] = []
    failed = 0
    for n in range(1, BUMPS + 1):
        change = Change("app.yaml", lambda t, n=n: f"image: reg/web:v{n}\n",  # type: ignore[misc]
                        f"promote(dev): web v{n}\n\nPromoter-App: web\nPromoter-Env: dev\nPromoter-Action: bump\n"
                        f"Promoter-Tag: v{n}\n")
        started = time.monotonic()
        for attempt in range(1, PASSES + 1):  # a pass that gives up is retried by the next pass
            try:
                result = repo.commit(change)
                assert isinstance(result, Committed)
                latencies.append(time.monotonic() - started)
                break
            except PromoterError as exc:
                failed += 1
                print(f"  bump v{n}, pass {attempt}: {exc}", file=sys.stderr)
    return latencies, failed


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def one(rate: float | None) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="push-storm-"))
    daemon = GitDaemon(root).start()
    try:
        bare = make_remote(root)
        url = daemon.url(bare.name)
        if rate is None:
            latencies, failed = bumps(url, root / "work")
            people: list[str] = []
            achieved = 0.0
        else:
            with People(url, root, rate) as storm:
                latencies, failed = bumps(url, root / "work")
            people = storm.landed
            achieved = len(people) / storm.elapsed
        log = git("log", "--format=%s", "main", cwd=bare).stdout.splitlines()
        kept = set(people) <= set(log)
        bumps_in_log = sum(1 for line in log if line.startswith("promote(dev)"))
        return {"rate_asked": rate or 0, "pushes_per_s": round(achieved, 1), "people_commits": len(people),
                "every_person_commit_kept": kept, "bumps": BUMPS, "landed": len(latencies),
                "landed_share": round(len(latencies) / BUMPS, 3), "bumps_in_history": bumps_in_log,
                "p50_s": round(statistics.median(latencies), 3) if latencies else None,
                "p95_s": round(quantile(latencies, 0.95), 3), "max_s": round(max(latencies, default=0), 3),
                "passes_that_gave_up": failed}
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    baseline = one(None)
    print(f"baseline (no storm): {baseline['landed']}/{BUMPS} landed, p50 {baseline['p50_s']} s")
    rows = [baseline]
    ok = True
    for rate in RATES:
        row = one(rate)
        rows.append(row)
        ratio = (row["p50_s"] or 0) / (baseline["p50_s"] or 1)  # type: ignore[operator]
        print(f"{rate:>2} pushes/s asked ({row['pushes_per_s']} achieved): {row['landed']}/{BUMPS} bumps landed, "
              f"p50 {row['p50_s']} s ({ratio:.1f}x baseline), p95 {row['p95_s']} s, max {row['max_s']} s; "
              f"every person's commit kept: {row['every_person_commit_kept']}")
        ok = ok and row["landed"] == BUMPS and bool(row["every_person_commit_kept"]) \
            and row["bumps_in_history"] == row["landed"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "push_storm.json").write_text(json.dumps({"bumps_per_rate": BUMPS, "pushers": PUSHERS,
                                                        "rows": rows, "ok": ok}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
