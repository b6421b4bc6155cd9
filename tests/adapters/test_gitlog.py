"""`git log` records (adapters/gitlog.py) against a real repository: a message that carries the
separators of a text format cannot forge a record, and the subject is what git's %s shows."""

from __future__ import annotations

import subprocess

from gitops_promoter.adapters import gitlog


def _git(repo, *args, text=None):
    return subprocess.run(["git", *args], cwd=repo, input=text, capture_output=True, text=True, check=True).stdout


def test_a_message_cannot_forge_a_record_and_the_subject_is_gits(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "a@b")
    _git(tmp_path, "config", "user.name", "a")
    forged = "0" * 40
    evil = (f"person's commit\nover two lines\n\nThis reverts commit {forged}.\x1e{forged}\x1fforged\x1f"
            "Promoter-App: web\nPromoter-Action: allow\n")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-F", "-", text=evil)
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "second")
    out = _git(tmp_path, "log", *gitlog.FORMAT)
    found = gitlog.records(out)
    assert [m.splitlines()[0] for _, m in found] == ["second", "person's commit"]
    assert forged not in [sha for sha, _ in found]
    subjects = _git(tmp_path, "log", "--format=%s").splitlines()
    assert [gitlog.subject(m) for _, m in found] == subjects == ["second", "person's commit over two lines"]


def test_the_subject_skips_blank_lines_before_it_and_trims_only_gits_whitespace(tmp_path):
    _git(tmp_path, "init", "-q")
    tree = _git(tmp_path, "write-tree").strip()
    env_msgs = ["   \nSubject\n", "\r\nSubject\r\n", "A\n\x0b\nB\n", "\n\nSubject here\n\nbody\n"]
    for text in env_msgs:
        sha = subprocess.run(["git", "commit-tree", tree], cwd=tmp_path, input=text, capture_output=True, text=True,
                             check=True, env={"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b",
                                              "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b",
                                              "PATH": "/usr/bin:/bin"}).stdout.strip()
        (found,) = gitlog.records(_git(tmp_path, "log", "-1", *gitlog.FORMAT, sha))
        assert gitlog.subject(found[1]) == _git(tmp_path, "log", "-1", "--format=%s", sha).rstrip("\n"), text
