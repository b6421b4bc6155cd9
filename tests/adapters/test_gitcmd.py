"""git as a process (adapters/gitcmd.py): output as GitPython gave it, failures with git's words, and
no git left running after a timeout, an interrupt or a signal to the promoter's process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitops_promoter.adapters import gitcmd


def _bare(tmp_path: Path) -> Path:
    path = tmp_path / "clone.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def _running(marker: str) -> list[int]:
    """Processes whose command line holds `marker` (a sleep's unique duration)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def _gone(marker: str, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _running(marker):
            return True
        time.sleep(0.05)
    return False


def test_output_loses_one_trailing_newline_and_failures_carry_gits_words(tmp_path):
    git_dir = _bare(tmp_path)
    assert gitcmd.run(git_dir, ["rev-parse", "--is-bare-repository"], env={}) == "true"
    assert gitcmd.run(git_dir, ["config", "--get", "core.bare"], env={}) == "true"
    with pytest.raises(gitcmd.GitFailed) as failed:
        gitcmd.run(git_dir, ["rev-parse", "--verify", "refs/heads/nope"], env={})
    assert failed.value.status == 128 and "fatal: Needed a single revision" in failed.value.stderr


def test_a_timed_out_command_is_killed_with_what_it_started(tmp_path):
    git_dir = _bare(tmp_path)
    marker = "37.1234"
    with pytest.raises(gitcmd.GitFailed, match=r"no answer within 0.5 s: stopped") as failed:
        gitcmd.run(git_dir, ["-c", f"alias.slow=!sleep {marker}", "slow"], env={}, timeout=0.5)
    assert failed.value.status is None
    assert _gone(marker), "the command git started still runs after the timeout"


def test_a_signal_to_the_promoters_process_group_reaches_git(tmp_path):
    """`timeout 300 gitops-promoter run --once`, a closed terminal, `kill -TERM -<pgid>`: the
    promoter dies before its own clean-up runs, so git must be in its group to die with it."""
    git_dir = _bare(tmp_path)
    marker = "41.4321"
    code = ("import sys; from pathlib import Path; from gitops_promoter.adapters import gitcmd; "
            f"gitcmd.run(Path({str(git_dir)!r}), ['-c', 'alias.slow=!sleep {marker}', 'slow'], env={{}})")
    promoter = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 10
    while not _running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running(marker), "git's command never started"
    os.killpg(promoter.pid, signal.SIGTERM)
    promoter.wait(timeout=10)
    assert _gone(marker), "git outlived the promoter's process group"


def test_cat_file_answers_and_says_missing_and_restarts_after_its_process_died(tmp_path):
    git_dir = _bare(tmp_path)
    blob = subprocess.run(["git", f"--git-dir={git_dir}", "hash-object", "-w", "--stdin"], input=b"hi\n",
                          capture_output=True, check=True).stdout.decode().strip()
    cat = gitcmd.CatFile(git_dir, {})
    assert cat.read(blob) == (blob, "blob", b"hi\n")
    assert cat.read("0" * 40) is None
    assert cat._proc is not None  # noqa: SLF001 - the test ends the process under it
    cat._proc.kill()  # noqa: SLF001
    cat._proc.wait()  # noqa: SLF001
    with pytest.raises(OSError):
        cat.read(blob)
    assert cat.read(blob) == (blob, "blob", b"hi\n")  # a new process
    cat.close()


def test_an_inherited_git_environment_never_points_git_elsewhere(tmp_path, monkeypatch):
    """Started from a git hook or inside a checkout: GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY and the
    like in the environment must not send the clone's writes into another repository."""
    git_dir = _bare(tmp_path)
    other = _bare(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(other / "objects"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "someone-elses-index"))
    blob = gitcmd.run(git_dir, ["hash-object", "-w", "--stdin"], env={}, stdin=b"mine\n")
    assert gitcmd.run(git_dir, ["cat-file", "-t", blob], env={}) == "blob"
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_OBJECT_DIRECTORY")
    missing = subprocess.run(["git", f"--git-dir={other}", "cat-file", "-e", blob], capture_output=True)
    assert missing.returncode != 0  # nothing was written into the other repository
    assert not (tmp_path / "someone-elses-index").exists()
