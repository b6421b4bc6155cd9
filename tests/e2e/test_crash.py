"""Crash safety of the service, on real parts: Debian's docker-registry notifying the running
service (`gitops-promoter run`, a real subprocess), one bare deployment remote with four apps in
`dev` (direct), SIGKILL at random moments while it promotes, and leftovers planted on purpose.

After every restart the remote must hold what one uninterrupted run would have written: exactly
one bump commit per pushed tag (none duplicated, none lost), no empty commit, nothing else; and
the clone must not be wedged: a `run --once` afterwards exits 0 with every app unchanged.

The random trials are seeded: the seed is printed and named in every failure; `CRASH_SEED=N`
runs the same trials again.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time

import pytest

from tests.support.gitremote import git
from tests.support.service import CrashWorld, crash_trial, run_once

SEED = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(1_000_000))
CHUNKS, PER_CHUNK = 2, 22  # 44 random SIGKILLs (51 with the planted cases), each chunk ends with a wedge check


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = CrashWorld(tmp_path_factory.mktemp("crash"), apps=4, namespace="crash-e2e", poll_interval="300ms")
    try:
        w.service.start()
        _wait_for_clone(w)
        yield w
    finally:
        w.close()


@pytest.fixture
def running(world):
    """The world with its service up (a failed test may have left it down), and what an earlier
    failed test already left wrong in its history, so that only new problems fail this one."""
    if not world.service.running:
        world.service.start()
    world.known = set(world.problems())
    yield world


def _check(w: CrashWorld, trial) -> None:
    new = [p for p in trial.problems if p not in w.known]
    assert trial.settled is not None and not trial.lost and not new, (
        f"CRASH_SEED={SEED}: {trial.describe()}\n{new}\n--- service log ---\n{w.service.log_tail()}")


def _wait_for_clone(w: CrashWorld, timeout: float = 20.0) -> None:
    """The first start makes the persistent clone; trials kill a service that has one (a kill
    during the very first clone is its own case, below)."""
    deadline = time.monotonic() + timeout
    while not (w.clone / "refs" / "remotes" / "origin" / "main").exists():
        assert time.monotonic() < deadline, f"no clone after {timeout}s:\n{w.service.log_tail()}"
        time.sleep(0.02)


def _not_wedged(w: CrashWorld) -> float:
    """Stop the service (SIGTERM: exit 0 within 10 s), then `run --once` on the same workdir must
    find nothing to do and exit 0. Returns the stop time."""
    took = w.service.stop(timeout=10.0)
    once = run_once(w.config, env={"PROMOTER_HOOK_SECRET": w.secret})
    assert once.returncode == 0, f"CRASH_SEED={SEED}: run --once after the trials:\n{once.stdout}{once.stderr}"
    lines = once.stdout.splitlines()
    assert lines[-1] == f"summary: {len(w.apps)} unchanged", once.stdout
    assert all(line.startswith(f"{a}/dev: unchanged: already at {w.newest(a)}") for a, line in
               zip(sorted(w.apps), sorted(lines[:-1]), strict=True)), once.stdout
    return took


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_sigkill_at_random_moments_during_promotions(running, chunk):
    w = running
    rng = random.Random(f"{SEED}/{chunk}")
    print(f"crash trials: CRASH_SEED={SEED}, chunk {chunk}")
    mid_promotion = 0
    for _ in range(PER_CHUNK):
        trial = crash_trial(w, rng)
        print(trial.describe())
        _check(w, trial)
        mid_promotion += 0 < trial.committed_before_kill < len(trial.apps)
    took = _not_wedged(w)
    print(f"{PER_CHUNK} trials, {mid_promotion} killed between two bumps; SIGTERM stop {took:.2f}s")
    assert took < 10.0


# --- the nastiest leftovers, planted while the service is down ----------------------------------

def _pending_ref(clone):
    head = git("rev-parse", "refs/remotes/origin/main", cwd=clone)
    git("update-ref", "refs/promoter/pending-x", head, cwd=clone)
    return ["refs/promoter/pending-x"]


def _ref_lock(clone):
    # a fetch must update refs/remotes/origin/main: its stale lock would fail every fetch
    head = git("rev-parse", "refs/remotes/origin/main", cwd=clone)
    (clone / "refs" / "remotes" / "origin" / "main.lock").write_text(head + "\n")
    (clone / "packed-refs.lock").write_text("")
    return ["refs/remotes/origin/main.lock", "packed-refs.lock"]


def _index_lock(clone):
    (clone / "index.lock").write_bytes(b"DIRC")
    return ["index.lock"]


def _fast_import_crash(clone):
    (clone / "fast_import_crash_1234").write_text("fast-import crash report:\n    fast-import process: 1234\n")
    return ["fast_import_crash_1234"]


def _scratch(clone):
    stale = clone / "promoter-scratch" / "1234-k1ll3d"
    stale.mkdir(parents=True)
    (stale / "stream").write_bytes(b"commit refs/promoter/pending-1234-k1ll3d\nmark :1\n")
    (stale / "marks").write_text("")
    return ["promoter-scratch/1234-k1ll3d"]


def _everything(clone):
    (clone / "objects" / "pack" / "tmp_pack_Xk1ll3").write_bytes(b"PACK\x00\x00")
    return [*_pending_ref(clone), *_ref_lock(clone), *_index_lock(clone), *_fast_import_crash(clone),
            *_scratch(clone), "objects/pack/tmp_pack_Xk1ll3"]


@pytest.mark.parametrize("plant", [_pending_ref, _ref_lock, _index_lock, _fast_import_crash, _scratch, _everything],
                         ids=["pending-ref", "ref-lock", "index-lock", "fast-import-crash", "scratch", "all-at-once"])
def test_leftovers_of_a_killed_writer_are_repaired_at_start(running, plant):
    w = running
    planted: list[str] = []
    starts = w.service.starts

    def while_down():
        planted.extend(plant(w.clone))

    trial = crash_trial(w, random.Random(SEED), apps=list(w.apps), delay=0.05, while_down=while_down)
    print(trial.describe())
    _check(w, trial)
    assert [p for p in planted if (w.clone / p).exists()] == []
    assert git("for-each-ref", "refs/promoter/", cwd=w.clone) == ""
    log = w.service.log.read_text().split(f"--- start #{starts + 1} ")[-1]
    repaired = next(line for line in log.splitlines() if "repaired what an interrupted run left" in line)
    assert [p for p in planted if p not in repaired] == [], repaired
    if plant is _everything:
        _not_wedged(w)


def test_a_kill_during_the_very_first_clone_is_repaired(running):
    """Killed between `git init --bare` and `git remote add origin` (the first clone): the next
    start must make the clone again and promote (a repair that opened the clone used to skip the
    check, and the clone stayed without `origin` for good). Restores a usable clone whatever happens."""
    w = running

    def while_down():
        shutil.rmtree(w.clone)
        subprocess.run(["git", "init", "-q", "--bare", str(w.clone)], check=True)

    try:
        trial = crash_trial(w, random.Random(SEED), apps=list(w.apps), delay=0.0, settle_timeout=10.0,
                            while_down=while_down)
        print(trial.describe())
        _check(w, trial)
    finally:
        if not (w.clone / "refs" / "remotes" / "origin" / "main").exists():
            w.service.kill()
            shutil.rmtree(w.clone)
            w.service.start()
            _wait_for_clone(w)
