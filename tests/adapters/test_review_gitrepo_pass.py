"""Review of the pass's reads (pin, read_ttl, ReadStale) and the group commit, against real git.

Each test states what should hold; at the time of the review each one fails, showing a defect."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

import pytest

from gitops_promoter.adapters import gitcmd
from gitops_promoter.errors import GitRejected, GitUnavailable, ReadStale
from gitops_promoter.ports import Change, Committed, Pinnable, PushRefused
from gitops_promoter.runtime.wiring import pinned
from tests.support.gitremote import HumanClone, git, remote_file

from .conftest import wait_until_queued
from .test_gitrepo import MSG, ROLLOUT, bump, repo_for
from .test_gitrepo_reads import STAGING, _msg


def _set_tag(text: str) -> str:
    """What write_version does: set the image to the chosen tag, whatever it says now."""
    return re.sub(r"web:v\d+\.\d+\.\d+", "web:v1.1.0", text)


def test_pinned_pins_a_real_git_repository(remote, tmp_path, monkeypatch):
    """`run --once` reads one head per pass: pinned() must pin GitRepo (it is Pinnable)."""
    repo = repo_for(remote, tmp_path)
    assert isinstance(repo, Pinnable)
    ports = SimpleNamespace(repos={"deploy": repo})
    target = SimpleNamespace(file=ROLLOUT, steps_file=ROLLOUT)
    with pinned(ports, [SimpleNamespace(repository="deploy", targets={"dev": target})]):  # type: ignore[arg-type]
        # The app's files were read with the pin, in one exchange: no request per read.
        monkeypatch.setattr(gitcmd.CatFile, "read",
                            lambda *a: pytest.fail("a pinned read asked git again"))
        for _ in range(5):
            repo.read(ROLLOUT)
            repo.history(app="web")
    assert repo.fetches == 1


def test_a_change_the_remote_refuses_fails_alone_in_a_group_commit(remote, tmp_path):
    """A repository rule refuses pushes touching envs/staging/ (GitHub push rulesets restrict file
    paths: "GH013: Repository rule violations found"; here a pre-receive hook). Two changes land in
    one group: the dev change must not be refused because the staging one was."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("""#!/bin/sh
while read old new ref; do
  if git diff --name-only "$old" "$new" | grep -q '^envs/staging/'; then
    echo "error: GH013: Repository rule violations found for $ref." >&2
    exit 1
  fi
done
exit 0
""")
    hook.chmod(0o755)
    repo = repo_for(remote, tmp_path)
    repo.sync()
    results: dict[str, object] = {}

    def worker(name: str, change: Change) -> None:
        try:
            results[name] = repo.commit(change)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            results[name] = exc

    threads = [threading.Thread(target=worker, args=("dev", Change(ROLLOUT, bump, _msg("web", "v1.1.0")))),
               threading.Thread(target=worker, args=("staging", Change(STAGING, lambda t: t + "# x\n",
                                                                          _msg("api", "v2"))))]
    with repo._lock:  # a write in flight: both queue for the next group commit
        for t in threads:
            t.start()
        wait_until_queued(repo, 2)
    for t in threads:
        t.join(30)
    assert isinstance(results["staging"], PushRefused)
    assert isinstance(results["dev"], Committed), results["dev"]
    assert "web:v1.1.0" in remote_file(remote, ROLLOUT)


def test_a_persons_change_to_the_file_while_the_push_races_is_not_overwritten(remote, tmp_path):
    """The decision read v1.0.0. While our push was on its way, a person rolled the file back by
    hand to v0.9.0 (the push loses the race). Re-applying the edit would write v1.1.0 over the
    person's rollback with a message saying "v1.0.0 → v1.1.0": the write must decide again."""
    repo = repo_for(remote, tmp_path)
    repo.pin()
    assert "web:v1.0.0" in repo.read(ROLLOUT)
    person = HumanClone(remote, tmp_path / "person")
    calls = []

    def edit(text: str) -> str:
        calls.append(text)
        if len(calls) == 1:  # between our fetch and our push
            person.commit(ROLLOUT, text.replace("web:v1.0.0", "web:v0.9.0"), "roll web back by hand")
        return _set_tag(text)

    with pytest.raises(ReadStale):
        repo.commit(Change(ROLLOUT, edit, MSG))
    assert "web:v0.9.0" in remote_file(remote, ROLLOUT)


def test_a_push_that_landed_but_lost_its_answer_is_reported_as_committed(remote, tmp_path):
    """A bad network: the remote took the push, the answer was lost (connection reset), and a
    person pushed on top before the retry. The commit is on the branch: the caller must hear
    Committed with its sha, not "Unchanged: already says so"."""
    repo = repo_for(remote, tmp_path)
    person = HumanClone(remote, tmp_path / "person")
    real_git = repo._git
    pushed: list[str] = []

    def flaky(*args: str, **kw: object) -> str:
        out = real_git(*args, **kw)  # type: ignore[arg-type]
        if args[0] == "push" and not pushed:
            pushed.append(args[-1].split(":", 1)[0])
            person.commit("docs/notes.md", "hello\n", "docs")
            raise GitUnavailable(repository="deploy", detail="git push: Connection reset by peer")
        return out

    repo._git = flaky  # type: ignore[method-assign]
    result = repo.commit(Change(ROLLOUT, bump, MSG))
    assert git("merge-base", "--is-ancestor", pushed[0], "main", cwd=remote) == ""  # it landed
    assert isinstance(result, Committed) and result.sha == pushed[0], result


def test_expire_does_not_wait_for_a_write_in_flight(remote, tmp_path):
    """A GitHub webhook calls expire() in the HTTP handler; GitHub gives a delivery 10 s. A push
    to a slow remote holds the repository's lock for up to network_timeout × retries."""
    repo = repo_for(remote, tmp_path)
    repo.sync()
    holding = threading.Event()

    def slow_write() -> None:
        with repo._lock:
            holding.set()
            time.sleep(1.5)

    writer = threading.Thread(target=slow_write)
    writer.start()
    holding.wait(5)
    started = time.monotonic()
    repo.expire()
    waited = time.monotonic() - started
    writer.join()
    assert waited < 0.2, f"expire() waited {waited:.2f}s for the repository lock"


def test_a_decision_that_read_the_persons_change_is_not_stale(remote, tmp_path):
    """A service worker thread reconciled app A (read the file, nothing to write); a person then
    edited the file; the same thread later reconciles app B, reads the file with the person's
    edit, and writes. Its decision saw the current text: no ReadStale."""
    repo = repo_for(remote, tmp_path)  # read_ttl 0: every read fetches
    repo.read(ROLLOUT)  # app A's reconcile: no write
    HumanClone(remote, tmp_path / "person").commit(ROLLOUT, remote_file(remote, ROLLOUT) + "# note\n", "note")
    repo.forget_reads()  # reconcile starts app B's stage: a new decision (workflows.reconcile._new_decision)
    assert "# note" in repo.read(ROLLOUT)  # app B's reconcile reads the new text
    assert isinstance(repo.commit(Change(ROLLOUT, bump, _msg("b", "v1.1.0"))), Committed)


def test_one_apps_odd_path_does_not_break_the_next_apps_read(remote, tmp_path):
    """`./envs/...` passes the config's path check; asked of `git cat-file --batch` in a bare
    repository it kills the process ("relative path syntax can't be used outside working
    tree"), and the next read — another app's — fails."""
    repo = repo_for(remote, tmp_path)
    repo.read(STAGING)
    assert repo.read("./" + ROLLOUT) == repo.read(ROLLOUT)  # read as git's trees name it
    with pytest.raises(GitRejected):
        repo.read(ROLLOUT + "/./x")
    assert repo.read(STAGING)


def test_a_merged_promoter_pull_request_is_a_persons_change_for_read_stale(remote, tmp_path):
    """The promoter proposed release v1.1.0 on its PR branch (that commit is then remembered as
    "own" once any direct push of the process lands). The canary of the running release decided
    at the pass's head to pass gate 1; meanwhile a person merged the PR with a merge commit
    (GitHub's default). `git log basis..head -- file` lists the PR commit only (the merge is
    TREESAME to it and simplified away), so the advance is re-applied on v1.1.0: the new
    release's gate 1 would be passed without any analysis. The write must decide again."""
    repo = repo_for(remote, tmp_path)
    branch = "gitops-promoter/dev-web"
    proposed = repo.propose(Change(ROLLOUT, bump, _msg("web", "v1.1.0")), branch=branch)
    assert isinstance(proposed, Committed)
    assert isinstance(repo.commit(Change(STAGING, lambda t: t + "# api\n", _msg("api", "v2"))), Committed)
    repo.pin()
    assert "web:v1.0.0" in repo.read(ROLLOUT)  # the canary of v1.0.0 decides: gate 1 passed
    person = HumanClone(remote, tmp_path / "person")
    git("fetch", "-q", "origin", branch, cwd=person.path)
    git("merge", "-q", "--no-ff", "-m", "Merge pull request #7 from acme/gitops-promoter/dev-web", "FETCH_HEAD",
        cwd=person.path)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=person.path)

    def advance_gate_1(text: str) -> str:
        return re.sub(r"- pause: \{\}(\s+# gate at step 1)", r"- pause: {duration: 10m}\1", text, count=1)

    advance = ("advance(dev): web v1.0.0 gate 1\n\nPromoter-App: web\nPromoter-Env: dev\nPromoter-Action: advance\n"
               "Promoter-Tag: v1.0.0\nPromoter-Step: 1\n")
    with pytest.raises(ReadStale):
        repo.commit(Change(ROLLOUT, advance_gate_1, advance))


def test_a_dot_slash_path_still_sees_a_persons_edit(remote, tmp_path):
    """A target written `./envs/...` (valid in the config) is the same file for ReadStale."""
    repo = repo_for(remote, tmp_path)
    repo.pin()
    repo.read("./" + ROLLOUT)
    HumanClone(remote, tmp_path / "person").commit(ROLLOUT, remote_file(remote, ROLLOUT) + "# note\n", "note")
    with pytest.raises(ReadStale):
        repo.commit(Change("./" + ROLLOUT, bump, _msg("web", "v1.1.0")))
