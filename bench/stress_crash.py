"""Crash safety under many SIGKILLs: the trial loop of tests/e2e/test_crash.py, more trials.

One real docker-registry notifying the service, one bare deployment remote with four apps in
`dev` (direct), the service (`gitops-promoter run`, a subprocess) with a short poll. Each trial
pushes a new tag for 2–4 apps, SIGKILLs the service 0–300 ms later, restarts it and waits until
every app names its newest tag; then the remote's whole history is audited against what one
uninterrupted run writes (one bump commit per pushed tag, no empty commit, nothing else).
Every `--check-every` trials the service is stopped (SIGTERM) and `run --once` must find the
clone usable and nothing to do.

A second phase (`--first-clone N`) kills the service at a random moment of its very first
clone (0–30 ms after the clone's folder appears), restarts it and counts the clones it cannot use.

Prints a summary and writes bench/results/crash.json.
"""

from __future__ import annotations

import argparse
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

from tests.support.service import CrashWorld, crash_trial, run_once

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
APPS, POLL, MAX_DELAY = 4, "300ms", 0.3


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _seconds(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"median": round(statistics.median(values), 3), "p90": round(_pct(values, 0.9), 3),
            "max": round(max(values), 3), "runs": len(values)}


def _wedge_check(world: CrashWorld) -> tuple[bool, float, str]:
    """SIGTERM the service, `run --once` on its workdir (must exit 0, every app unchanged), restart."""
    took = world.service.stop(timeout=10.0)
    once = run_once(world.config)
    lines = once.stdout.splitlines()
    ok = once.returncode == 0 and bool(lines) and lines[-1] == f"summary: {len(world.apps)} unchanged"
    world.service.start()
    return ok, took, "" if ok else (once.stdout + once.stderr)[-2000:]


def _recover(world: CrashWorld) -> None:
    """What a person would do with a clone the service cannot use: delete it and restart."""
    world.service.kill()
    shutil.rmtree(world.clone, ignore_errors=True)
    world.service.start()
    world.wait_settled(timeout=30.0)


def _first_clone_trial(world: CrashWorld, rng: random.Random) -> dict[str, object]:
    """Kill the service during its first clone of the deployment repository, restart, settle."""
    world.service.kill()
    shutil.rmtree(world.clone, ignore_errors=True)
    number = world.next_round()
    for app in world.apps:
        world.push(app, f"v1.{number}.0")
    world.service.start(wait=False)
    while not world.clone.exists():
        if not world.service.running:
            raise RuntimeError(f"the service exited:\n{world.service.log_tail()}")
        time.sleep(0.001)
    time.sleep(rng.uniform(0.0, 0.03))
    world.service.kill()
    configured = subprocess.run(["git", "config", "remote.origin.url"], cwd=world.clone, capture_output=True,
                                text=True).returncode == 0
    world.service.start()
    settled = world.wait_settled(timeout=5.0)
    wedged = settled is None
    if wedged:
        _recover(world)
    return {"origin_configured_at_kill": configured, "wedged": wedged}


def _log_warnings(log: Path) -> dict[str, object]:
    """The service's WARNING/ERROR lines over every start, by kind (the expected ones apart)."""
    expected = ("repaired what an interrupted run left", "skipped: maximum number of running instances")
    kinds: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        if " WARNING " not in line and " ERROR " not in line:
            continue
        text = line.split(" ", 3)[-1]
        kind = next((e for e in expected if e in text), None) or text[:160]
        kinds[kind] = kinds.get(kind, 0) + 1
    other = {k: n for k, n in kinds.items() if k not in expected}
    return {"expected": {k: kinds.get(k, 0) for k in expected}, "other": dict(sorted(other.items())[:20])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--check-every", type=int, default=10, help="a run --once wedge check every N trials")
    parser.add_argument("--first-clone", type=int, default=20, help="kills during the very first clone")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    print(f"bench: crash safety, {args.trials} SIGKILL trials, seed {seed} (--seed {seed} repeats them)", flush=True)
    started = time.monotonic()
    trials, checks, stops, first_clone = [], [], [], []
    failures: list[str] = []
    known: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="promoter-crash-") as tmp:
        world = CrashWorld(Path(tmp), apps=APPS, namespace="crash-bench", poll_interval=POLL)
        try:
            world.service.start()
            while not (world.clone / "refs" / "remotes" / "origin" / "main").exists():
                time.sleep(0.02)
            for i in range(1, args.trials + 1):
                trial = crash_trial(world, rng, max_delay=MAX_DELAY)
                new = [p for p in trial.problems + trial.lost if p not in known]
                known.update(new)
                trials.append((trial, new))
                if new or trial.settled is None:
                    failures.append(trial.describe())
                    print(f"  {trial.describe()}", flush=True)
                    if trial.settled is None:
                        _recover(world)
                if i % args.check_every == 0 or i == args.trials:
                    ok, took, why = _wedge_check(world)
                    checks.append(ok)
                    stops.append(took)
                    if not ok:
                        failures.append(f"after trial {i}: run --once: {why}")
                        _recover(world)
                if i % 25 == 0:
                    print(f"  {i} trials, {len(failures)} problem(s), {time.monotonic() - started:.0f}s", flush=True)
            for k in range(1, args.first_clone + 1):
                first_clone.append(_first_clone_trial(world, rng))
                if first_clone[-1]["wedged"]:
                    failures.append(f"first-clone trial {k}: killed before `origin` was configured; the restarted "
                                    "service could not fetch (clone wedged until deleted by hand)")
            final = world.audit()
        finally:
            world.close()
        warnings = _log_warnings(world.service.log)
    settled = [t.settled for t, _ in trials if t.settled is not None]
    duplicated = sum(n - 1 for n in final.duplicated.values())
    lost = sum(len(t.lost) for t, _ in trials)  # apps not on their newest tag when the trial gave up
    never = sorted(f"{a} {tag}" for (a, _, tag) in world.expected_bumps() if final.bumps[(a, "dev", tag)] == 0)
    wedged = sum(1 for t, _ in trials if t.settled is None) + checks.count(False)
    mid = sum(1 for t, _ in trials if 0 < t.committed_before_kill < len(t.apps))
    before = sum(1 for t, _ in trials if t.committed_before_kill == 0)
    fc_wedged = sum(1 for f in first_clone if f["wedged"])
    fc_window = sum(1 for f in first_clone if not f["origin_configured_at_kill"])
    result = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()},
        "seed": seed,
        "world": {"apps": APPS, "poll_interval": POLL, "kill_delay_after_pushes_ms": [0, int(MAX_DELAY * 1000)],
                  "webhooks": "docker-registry notifications"},
        "trials": len(trials),
        "killed": {"before_any_bump": before, "between_bumps": mid, "after_every_bump": len(trials) - before - mid},
        "duplicated_commits": duplicated,
        "lost_promotions": lost,
        "tags_never_bumped": never,
        "empty_commits": len(final.empty),
        "stray_or_foreign_commits": len(final.strays) + len(final.foreign),
        "wedged_clones": wedged,
        "wedge_checks": {"runs": len(checks), "failed": checks.count(False)},
        "restart_to_ready_s": _seconds([t.restart for t, _ in trials]),
        "restart_to_settled_s": _seconds(settled),
        "sigterm_stop_s": _seconds(stops),
        "commits_on_remote": final.commits,
        "service_log_warnings": warnings,
        "first_clone": {"trials": len(first_clone), "killed_before_origin_was_configured": fc_window,
                        "wedged": fc_wedged},
        "failures": failures[:20],
        "seconds": round(time.monotonic() - started, 1),
    }
    result["pass"] = (duplicated == 0 and lost == 0 and not never and wedged == 0 and not final.empty
                      and fc_wedged == 0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "crash.json").write_text(json.dumps(result, indent=2) + "\n")
    s = result["restart_to_settled_s"]
    print(f"  trials {len(trials)} (killed before any bump {before}, between bumps {mid}, after all "
          f"{len(trials) - before - mid}); duplicated commits {duplicated}; lost promotions {lost}; "
          f"empty commits {len(final.empty)}; wedged clones {wedged} ({len(checks)} run --once checks)")
    print(f"  restart → settled: median {s.get('median')} s, p90 {s.get('p90')} s, max {s.get('max')} s; "
          f"SIGTERM stop median {result['sigterm_stop_s'].get('median')} s")
    print(f"  first clone: {len(first_clone)} kills, {fc_window} before `origin` was configured, "
          f"{fc_wedged} clone(s) the restarted service could not use")
    print(f"bench: {'PASS' if result['pass'] else 'FAIL'} (results in bench/results/crash.json, "
          f"{result['seconds']} s)")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
