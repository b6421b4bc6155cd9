"""The workdir lock: one holder, a named holder for whoever waits, and no second writer after the
lock file is deleted under the holder."""

import pytest

from gitops_promoter.runtime.lock import LOCK_FILE, LockHeld, WorkdirLock


def test_a_second_taker_waits_then_names_the_holder(tmp_path):
    first = WorkdirLock(tmp_path, timeout=0, command="gitops-promoter run (service)")
    first.acquire()
    with pytest.raises(LockHeld, match=r"is in use by pid \d+ on .* gitops-promoter run \(service\); waited 0.2s"):
        WorkdirLock(tmp_path, timeout=0.2, command="cron", sleep=lambda s: None).acquire()
    first.release()
    WorkdirLock(tmp_path, timeout=0).acquire()  # free again


def test_a_cancelled_wait_gives_up_at_once(tmp_path):
    WorkdirLock(tmp_path, timeout=0).acquire()
    calls = []
    with pytest.raises(LockHeld):
        WorkdirLock(tmp_path, timeout=3600, sleep=calls.append).acquire(cancelled=lambda: True)
    assert calls == []


def test_a_deleted_lock_file_is_taken_back_before_anyone_else(tmp_path):
    holder = WorkdirLock(tmp_path, timeout=0)
    holder.acquire()
    (tmp_path / LOCK_FILE).unlink()  # an rm -rf of the workdir, say
    assert holder.verify()  # taken back at once: the file at the path is its own again
    with pytest.raises(LockHeld):
        WorkdirLock(tmp_path, timeout=0).acquire()


def test_a_holder_whose_file_another_process_took_must_stop(tmp_path):
    holder = WorkdirLock(tmp_path, timeout=0)
    holder.acquire()
    (tmp_path / LOCK_FILE).unlink()
    other = WorkdirLock(tmp_path, timeout=0)
    other.acquire()  # came first, on a new file
    assert not holder.verify()
