"""Reads of a pass against real repositories: one fetch (pin, or read_ttl), files through one
`git cat-file --batch`, the history index kept beside the clone and extended incrementally; a
write whose file moved since it was read decides again (ReadStale), never on the old text."""

from __future__ import annotations

import json
import subprocess

import pytest

from gitops_promoter.adapters import gitcmd
from gitops_promoter.adapters.gitrepo import INDEX_FILE
from gitops_promoter.adapters.history_index import HistoryIndex
from gitops_promoter.domain.history import Commit
from gitops_promoter.errors import GitRejected, ReadStale
from gitops_promoter.ports import Change, Committed, PushRefused
from gitops_promoter.workflows.outcome import Outcome, guarded
from tests.support.gitremote import HumanClone, git, remote_file

from .conftest import wait_until_queued
from .test_gitrepo import MSG, ROLLOUT, bump, repo_for

STAGING = "envs/staging/web/kustomization.yaml"


def _msg(app: str, tag: str) -> str:
    return f"promote(dev): {app} → {tag}\n\nPromoter-App: {app}\nPromoter-Env: dev\nPromoter-Action: bump\n"


def test_a_pinned_pass_fetches_once_and_reads_one_head(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    head = repo.pin()
    person = HumanClone(remote, tmp_path / "person")
    person.commit(ROLLOUT, remote_file(remote, ROLLOUT).replace("web:v1.0.0", "web:v9.0.0"), "person")
    fetches = repo.fetches
    for _ in range(5):
        assert "web:v1.0.0" in repo.read(ROLLOUT)  # the pass's head, not the person's newer one
        repo.history(app="web")
        assert repo.head() == head
    assert repo.fetches == fetches
    repo.unpin()
    assert "web:v9.0.0" in repo.read(ROLLOUT)  # unpinned: every read fetches again
    assert repo.fetches == fetches + 1


def test_read_ttl_shares_one_fetch_and_expire_ends_it(remote, tmp_path):
    now = [0.0]
    repo = repo_for(remote, tmp_path)
    repo = type(repo)(repo.config, workdir=tmp_path / "w2", read_ttl=5.0, clock=lambda: now[0])
    repo.read(ROLLOUT)
    repo.read(STAGING)
    assert repo.fetches == 1
    now[0] = 6.0
    repo.read(ROLLOUT)
    assert repo.fetches == 2
    repo.expire()
    repo.read(ROLLOUT)
    assert repo.fetches == 3


def test_reads_go_through_one_cat_file_batch_process(remote, tmp_path, monkeypatch):
    repo = repo_for(remote, tmp_path)
    repo.pin()
    assert repo.read(ROLLOUT)  # starts the batch process
    executed = []
    real = subprocess.Popen.__init__

    def spy(self, args, *a, **kw):
        executed.append(args)
        real(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    for _ in range(20):
        repo.read(ROLLOUT)
        repo.read(STAGING)
    assert executed == []  # no process per read


@pytest.mark.parametrize("read_at_pin", [False, True], ids=["one-by-one", "all-at-the-pin"])
def test_missing_folder_and_non_utf8_files_are_clear_errors(remote, tmp_path, read_at_pin):
    person = HumanClone(remote, tmp_path / "person")
    (person.path / "latin1.yaml").write_bytes(b"image: caf\xe9\n")
    git("add", "latin1.yaml", cwd=person.path)
    git("commit", "-q", "-m", "latin-1", cwd=person.path)
    git("push", "-q", "origin", "HEAD:main", cwd=person.path)
    repo = repo_for(remote, tmp_path)
    if read_at_pin:  # the same answers when the pass read every file in one exchange (and twice from memory)
        repo.pin(["nope.yaml", "envs/dev", "latin1.yaml", "a\nb.yaml", "a b.yaml", ROLLOUT])
        assert "image:" in repo.read(ROLLOUT) and "image:" in repo.read(f"./{ROLLOUT}")
        for path in ("nope.yaml", "latin1.yaml", "a b.yaml"):
            with pytest.raises(GitRejected):
                repo.read(path)
    with pytest.raises(GitRejected, match="nope.yaml: no such file on branch main"):
        repo.read("nope.yaml")
    with pytest.raises(GitRejected, match="envs/dev: is a tree"):
        repo.read("envs/dev")
    with pytest.raises(GitRejected, match=r"latin1.yaml: not UTF-8 text \(byte 10"):
        repo.read("latin1.yaml")
    with pytest.raises(GitRejected, match="no such file"):
        repo.read("a\nb.yaml")
    before = git("rev-parse", "main", cwd=remote)
    with pytest.raises(GitRejected, match="not UTF-8"):
        repo.commit(Change("latin1.yaml", lambda t: t + "x", MSG))
    assert git("rev-parse", "main", cwd=remote) == before  # nothing written


def test_a_write_whose_file_moved_since_it_was_read_decides_again(remote, tmp_path):
    """The decision read v1.0.0 at the pass's head; a person then changed that file. The bump is
    not written on a text the decision never saw: ReadStale, and the pass reads the new head."""
    repo = repo_for(remote, tmp_path)
    repo.pin()
    assert "web:v1.0.0" in repo.read(ROLLOUT)
    person = HumanClone(remote, tmp_path / "person")
    moved = person.commit(ROLLOUT, remote_file(remote, ROLLOUT) + "# a person's note\n", "person edits the file")
    before = git("rev-parse", "main", cwd=remote)
    with pytest.raises(ReadStale, match=f"{ROLLOUT} changed on main since it was read"):
        repo.commit(Change(ROLLOUT, bump, MSG))
    assert git("rev-parse", "main", cwd=remote) == before == moved
    assert repo.head() == moved  # the pin moved: deciding again sees the person's commit
    assert isinstance(repo.commit(Change(ROLLOUT, bump, MSG)), Committed)
    assert "# a person's note" in remote_file(remote, ROLLOUT) and "web:v1.1.0" in remote_file(remote, ROLLOUT)


def test_a_person_pushing_other_files_does_not_stop_the_write(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.pin()
    repo.read(ROLLOUT)
    HumanClone(remote, tmp_path / "person").commit("docs/notes.md", "hello\n", "docs")
    assert isinstance(repo.commit(Change(ROLLOUT, bump, MSG)), Committed)
    assert repo.head() == git("rev-parse", "main", cwd=remote)  # the pin follows the promoter's own push


def test_guarded_decides_once_more_after_read_stale():
    calls = []

    def work() -> Outcome:
        calls.append(1)
        if len(calls) == 1:
            raise ReadStale(repository="deploy", detail="x changed")
        return Outcome("web", "dev", "bumped", "again")

    assert guarded("web", "dev", work).status == "bumped" and len(calls) == 2


def test_history_index_is_kept_beside_the_clone_and_extended(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    assert [c.trailers["Promoter-App"] for c in repo.history(app="web")] == ["web"]
    saved = json.loads((repo.path / INDEX_FILE).read_text())
    assert saved["head"] == git("rev-parse", "main", cwd=remote) and len(saved["commits"]) == 1
    # A new process reads the index and only the commits since.
    again = repo_for(remote, tmp_path)
    again.commit(Change(ROLLOUT, lambda t: t.replace("web:v1.1.0", "web:v1.2.0"), _msg("web-api", "v1.2.0")))
    assert [c.trailers["Promoter-App"] for c in again.history(app="web-api")] == ["web-api"]
    assert [c.trailers["Promoter-App"] for c in again.history(app="web")] == ["web"]  # exact app, not a prefix
    assert len(json.loads((repo.path / INDEX_FILE).read_text())["commits"]) == 2


def test_a_corrupt_or_foreign_index_is_rebuilt_from_git(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    repo.history(app="web")
    for junk in ("{not json", json.dumps({"format": 99, "head": "x", "commits": []}),
                 json.dumps({"format": 1, "head": "0" * 40, "commits": [["a", "b"]]})):
        (repo.path / INDEX_FILE).write_text(junk)
        fresh = repo_for(remote, tmp_path)
        assert [c.trailers["Promoter-App"] for c in fresh.history(app="web")] == ["web"]


def test_a_rewritten_branch_rebuilds_the_index(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    assert len(repo.history(app="web")) == 1
    git("update-ref", "refs/heads/main", "main~1", cwd=remote)  # a force-push dropped the bump
    assert repo_for(remote, tmp_path).history(app="web") == []


def test_index_merges_an_apps_commits_with_every_revert_newest_first():
    index = HistoryIndex()
    c = [Commit("a1", "", _msg("web", "v1")), Commit("b1", "", _msg("api", "v1")),
         Commit("r1", "", "Revert\n\nThis reverts commit aaaaaaa1."), Commit("a2", "", _msg("web", "v2")),
         Commit("r2", "", "Revert\n\nThis reverts commit bbbbbbb1.")]
    index.extend(list(reversed(c[:3])), head="h1")
    index.extend(list(reversed(c[3:])), head="h2")
    assert [x.sha for x in index.of("web", limit=10)] == ["r2", "a2", "r1", "a1"]
    assert [x.sha for x in index.of("api", limit=10)] == ["r2", "r1", "b1"]
    assert [x.sha for x in index.of("web", limit=2)] == ["r2", "a2"]
    assert [x.sha for x in index.of("nobody", limit=10)] == ["r2", "r1"]
    # A promoter commit that is also a revert (a rollback of the promoter's) is listed once.
    index.extend([Commit("r3", "", "Revert\n\nThis reverts commit aaaaaaa2.\n\nPromoter-App: web\nPromoter-Env: dev")],
                 head="h3")
    assert [x.sha for x in index.of("web", limit=10)][:2] == ["r3", "r2"]


def test_commits_asked_together_land_as_one_chain_and_one_push(remote, tmp_path):
    """Eight apps decide at once: eight commits (each its own message and trailers) on one chain,
    pushed in fewer pushes than commits; each caller gets its own commit; one bad edit fails alone."""
    import threading

    repo = repo_for(remote, tmp_path)
    repo.pin()
    pushes = _counting_pushes(repo)
    gate = threading.Barrier(9)
    results: dict[int, object] = {}

    def edit_for(i):
        def edit(text):
            if i == 3:
                raise ValueError("app 3's edit fails")
            return text + f"# app {i}\n"
        return edit

    go = threading.Event()

    def worker(i):
        repo.read(ROLLOUT)
        gate.wait()
        go.wait(10)
        try:
            results[i] = repo.commit(Change(ROLLOUT, edit_for(i), _msg(f"app-{i}", f"v{i}")))
        except ValueError as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    gate.wait()  # every app has read the file
    with repo._lock:  # a push in flight: the others queue meanwhile, as in a busy pass
        go.set()
        wait_until_queued(repo, 8)
    for t in threads:
        t.join(30)
    assert isinstance(results[3], ValueError)
    landed = {i: r.sha for i, r in results.items() if isinstance(r, Committed)}
    assert sorted(landed) == [0, 1, 2, 4, 5, 6, 7]
    log = git("log", "--format=%H %(trailers:key=Promoter-App,valueonly)", "main", cwd=remote).splitlines()
    by_app = {line.split()[1]: line.split()[0] for line in log if len(line.split()) == 2}
    assert {i: by_app[f"app-{i}"] for i in landed} == landed  # each caller's sha is its own commit
    text = remote_file(remote, ROLLOUT)
    assert all(f"# app {i}" in text for i in landed) and "# app 3" not in text
    assert len(pushes) == 1


def test_own_commits_of_the_pass_are_not_taken_for_a_persons(remote, tmp_path):
    """Two apps of one file read it at the pass's head; the first app's bump lands; the second
    app's write re-applies on it (its decision did not depend on the other container)."""
    repo = repo_for(remote, tmp_path)
    repo.pin()
    repo.read(ROLLOUT)
    assert isinstance(repo.commit(Change(ROLLOUT, lambda t: t + "# one\n", _msg("one", "v1"))), Committed)
    repo._reads.basis = git("rev-parse", "main~1", cwd=remote)  # the second decision read before it
    assert isinstance(repo.commit(Change(ROLLOUT, lambda t: t + "# two\n", _msg("two", "v1"))), Committed)
    assert remote_file(remote, ROLLOUT).endswith("# one\n# two")


def _counting_pushes(repo):
    pushes = []
    real_git = repo._git

    def counting(*args, **kw):
        if args and args[0] == "push":
            pushes.append(args)
        return real_git(*args, **kw)

    repo._git = counting
    return pushes


def test_a_pass_defers_its_bumps_and_pushes_them_once(remote, tmp_path):
    """`run --once`: the pass's bumps are built as one local chain on the pinned head (later reads
    of the pass see them) and pushed once at its end, each commit with its own trailers."""
    repo = repo_for(remote, tmp_path)
    pushes = _counting_pushes(repo)
    repo.pin()
    fetched = repo.fetches
    repo.defer()
    handed = []
    for i in range(5):
        repo.forget_reads()
        repo.read(ROLLOUT)
        handed.append(repo.commit(Change(ROLLOUT, lambda t, i=i: t + f"# app {i}\n", _msg(f"app-{i}", "v1"))))
    assert "# app 4" in repo.read(ROLLOUT) and pushes == []  # nothing pushed yet; the pass reads its chain
    landed = repo.flush()
    assert len(pushes) == 1 and repo.fetches == fetched  # the pin's fetch serves the push: none before it
    assert [landed[c.sha].sha for c in handed] == [c.sha for c in handed]  # nothing moved: the same commits
    assert git("rev-parse", "main", cwd=remote) == handed[-1].sha
    apps = git("log", "--format=%(trailers:key=Promoter-App,valueonly)", "-5", "main", cwd=remote).split()
    assert apps == [f"app-{i}" for i in reversed(range(5))]


def test_a_deferred_chain_is_rebuilt_when_the_remote_moved_and_a_persons_edit_wins(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.pin()
    repo.defer()
    repo.forget_reads()
    repo.read(ROLLOUT)
    mine = repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    repo.forget_reads()
    repo.read(STAGING)
    other = repo.commit(Change(STAGING, lambda t: t + "# staging\n", _msg("api", "v2")))
    person = HumanClone(remote, tmp_path / "person")
    person.commit(ROLLOUT, remote_file(remote, ROLLOUT) + "# a person's note\n", "person edits the rollout")
    person.commit("docs/x.md", "x\n", "docs")
    fetched = repo.fetches
    landed = repo.flush()
    assert repo.fetches == fetched + 1  # the push on the pinned head was refused (not a fast-forward): fetched
    assert isinstance(landed[mine.sha], ReadStale)  # decided on a text that is gone: decided again next pass
    assert isinstance(landed[other.sha], Committed) and landed[other.sha].sha != other.sha  # rebuilt on the new head
    assert git("rev-parse", "main", cwd=remote) == landed[other.sha].sha
    text = remote_file(remote, ROLLOUT)
    assert "# a person's note" in text and "web:v1.0.0" in text


def test_a_pinned_pass_pushes_a_pull_request_branch_without_fetching_again(remote, tmp_path):
    """The pin's one fetch brought the promoter's branches: a proposal is built on the pinned head
    and pushed with a lease on the branch as that fetch saw it — no fetch, no ls-remote."""
    repo = repo_for(remote, tmp_path)
    calls = []
    real_git = repo._git

    def counting(*args, **kw):
        calls.append(args[0])
        return real_git(*args, **kw)

    repo.pin()
    repo._git = counting
    first = repo.propose(Change(STAGING, lambda t: t + "# v2\n", _msg("web", "v2")), branch="promoter/staging/web")
    assert isinstance(first, Committed) and first.attempts == 1
    assert "fetch" not in calls and "ls-remote" not in calls and calls.count("push") == 1
    again = repo.propose(Change(STAGING, lambda t: t + "# v3\n", _msg("web", "v3")), branch="promoter/staging/web")
    assert isinstance(again, Committed) and "fetch" not in calls  # the pass knows the branch it pushed
    assert git("show", f"promoter/staging/web:{STAGING}", cwd=remote).endswith("# v3")


def test_a_pull_request_branch_that_moved_since_the_pin_is_leased_and_built_again(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    first = repo.propose(Change(STAGING, lambda t: t + "# v2\n", _msg("web", "v2")), branch="promoter/staging/web")
    assert isinstance(first, Committed)
    repo.pin()
    person = HumanClone(remote, tmp_path / "person", branch="promoter/staging/web")
    moved = person.commit("docs/x.md", "x\n", "a person's commit on the promoter's branch")
    result = repo.propose(Change(STAGING, lambda t: t + "# v3\n", _msg("web", "v3")), branch="promoter/staging/web")
    assert isinstance(result, Committed) and result.attempts == 2  # the lease on the pinned branch refused
    assert git("rev-parse", "promoter/staging/web", cwd=remote) == result.sha != moved
    assert git("show", f"promoter/staging/web:{STAGING}", cwd=remote).endswith("# v3")


def test_a_pull_request_branch_is_never_built_on_the_passs_unpushed_chain(remote, tmp_path):
    """run --once defers its bumps: a proposal in the same pass is built on the remote's head as
    the pin fetched it, so the pull request never carries the pass's own dev commits."""
    repo = repo_for(remote, tmp_path)
    pinned = repo.pin()
    repo.defer()
    local = repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    proposed = repo.propose(Change(STAGING, lambda t: t + "# v2\n", _msg("web", "v2")), branch="promoter/staging/web",
                            rebuild=True)
    assert isinstance(local, Committed) and isinstance(proposed, Committed)
    assert git("rev-parse", "promoter/staging/web^", cwd=remote) == pinned != local.sha
    repo.flush()
    assert git("rev-parse", "main^", cwd=remote) == pinned


def test_a_branch_rewound_during_the_pass_does_not_get_back_what_a_person_took_out(remote, tmp_path):
    """A person force-pushes main back to drop a commit (a leaked secret) while a pass builds on the
    head it pinned: the pass's push is leased on that head, refused, and built again on the rewound
    branch — the chain is a fast-forward of the rewound head too, so a plain push would be taken."""
    person = HumanClone(remote, tmp_path / "person")
    person.commit("envs/dev/web/secret.txt", "LEAKED\n", "oops: a secret")
    good = git("rev-parse", "main~1", cwd=remote)
    repo = repo_for(remote, tmp_path)
    repo.pin([ROLLOUT])
    repo.defer()
    repo.forget_reads()
    repo.read(ROLLOUT)
    repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    git("update-ref", "refs/heads/main", good, cwd=remote)  # the person's force-push
    landed = repo.flush()
    assert all(isinstance(r, Committed) for r in landed.values())
    assert git("log", "--format=%s", "main", cwd=remote).splitlines()[1:] == git(
        "log", "--format=%s", good, cwd=remote).splitlines()
    assert "secret.txt" not in git("ls-tree", "-r", "--name-only", "main", cwd=remote)


def test_a_revert_landed_during_a_deferred_pass_does_not_swallow_the_passs_bumps(remote, tmp_path):
    """run --once: app A's bump waits in the pass's chain while app B's failed canary is reverted
    (pushed at once). The chain is built again on the revert and pushed: A's bump lands."""
    repo = repo_for(remote, tmp_path)
    released = repo.commit(Change(STAGING, lambda t: t + "# release\n", _msg("api", "v2")))
    repo.pin([ROLLOUT])
    repo.defer()
    repo.forget_reads()
    repo.read(ROLLOUT)
    mine = repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    reverted = repo.revert([released.sha], message=f"revert(dev): api v2\n\nThis reverts commit {released.sha}.\n")
    later = repo.commit(Change(ROLLOUT, lambda t: t + "# later\n", _msg("web2", "v1")))
    landed = repo.flush()
    assert isinstance(landed[mine.sha], Committed) and isinstance(landed[later.sha], Committed)
    head = git("rev-parse", "main", cwd=remote)
    assert head == landed[later.sha].sha
    assert git("log", "--format=%s", "-4", "main", cwd=remote).splitlines()[1:3] == [
        "promote(dev): web → v1.1.0", "revert(dev): api v2"]
    text = remote_file(remote, ROLLOUT)
    assert "web:v1.1.0" in text and "# later" in text
    assert git("rev-parse", "main~2", cwd=remote) == reverted.sha


def test_expected_files_are_read_together_once_per_head(remote, tmp_path, monkeypatch):
    """The service's reconciles read one file each: the first read at a head reads every file the
    config's apps use in one exchange; the others are answered from memory."""
    repo = repo_for(remote, tmp_path)
    repo.expect([ROLLOUT, STAGING, "nope.yaml"])
    assert "image:" in repo.read(ROLLOUT)
    monkeypatch.setattr(gitcmd.CatFile, "read",
                        lambda *a: pytest.fail("a read of an expected file asked git again"))
    assert "images:" in repo.read(STAGING)
    with pytest.raises(GitRejected, match="nope.yaml: no such file"):
        repo.read("nope.yaml")


@pytest.mark.parametrize("rewound", [False, True], ids=["main-unchanged", "main-rewound-then-restored"])
def test_news_during_a_deferred_pass_never_drops_a_commit_of_its_chain(remote, tmp_path, rewound):
    """expire() mid-pass (a webhook, a merge that failed) while the pass's chain waits: the pass
    reads its chain on, every commit of it lands, and a person's commit is never pushed over."""
    person = HumanClone(remote, tmp_path / "person")
    mark = person.commit("notes.txt", "a person's note\n", "person: a note")
    repo = repo_for(remote, tmp_path)
    repo.pin([ROLLOUT, STAGING])
    repo.defer()
    repo.forget_reads()
    repo.read(ROLLOUT)
    first = repo.commit(Change(ROLLOUT, bump, _msg("web", "v1.1.0")))
    if rewound:
        git("update-ref", "refs/heads/main", git("rev-parse", "main~1", cwd=remote), cwd=remote)
    repo.expire()
    repo.forget_reads()
    repo.read(STAGING)
    second = repo.commit(Change(STAGING, lambda t: t + "# api\n", _msg("api", "v2")))
    if rewound:
        git("update-ref", "refs/heads/main", mark, cwd=remote)
    landed = repo.flush()
    assert isinstance(landed[first.sha], Committed) and isinstance(landed[second.sha], Committed)
    assert "web:v1.1.0" in remote_file(remote, ROLLOUT), git("log", "--format=%h %s", "main", cwd=remote)
    assert remote_file(remote, STAGING).endswith("# api")
    assert subprocess.run(["git", "merge-base", "--is-ancestor", mark, "main"], cwd=remote).returncode == 0


def test_a_hook_that_speaks_of_races_is_still_a_refusal(remote, tmp_path):
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'non-fast-forward updates are not allowed; fetch first' >&2\nexit 1\n")
    hook.chmod(0o755)
    repo = repo_for(remote, tmp_path)
    with pytest.raises(PushRefused, match="fetch first"):
        repo.commit(Change(ROLLOUT, bump, MSG))
    assert repo.fetches <= 2


def test_the_passs_own_chain_is_not_read_together_at_each_of_its_commits(remote, tmp_path):
    """Each deferred commit is a new head: reading every expected file again at each would cost a
    pass of N bumps N reads of the whole repository's files (a 3x slower 1,000-app pass)."""
    repo = repo_for(remote, tmp_path)
    repo.expect([ROLLOUT, STAGING])
    together = []
    real = repo._prefetch
    repo._prefetch = lambda commit, paths: (together.append(commit), real(commit, paths))[1]
    repo.pin([ROLLOUT, STAGING])
    repo.defer()
    for i in range(4):
        repo.forget_reads()
        repo.read(ROLLOUT)
        repo.commit(Change(ROLLOUT, lambda t, i=i: t + f"# app {i}\n", _msg(f"app-{i}", "v1")))
    assert len(set(together)) == 1  # the pin's head only (asked twice there, git once: the rest is known)
    repo.flush()


def test_the_service_proposes_on_its_recent_fetch_without_asking_the_remote_again(remote, tmp_path):
    """read_ttl (the service): the fetch a read made also brought the promoter's branches, so a
    waiting proposal is checked, and a new one pushed, without a fetch or an ls-remote of its own."""
    repo = repo_for(remote, tmp_path)
    repo.read_ttl = 60.0
    repo.read(ROLLOUT)
    calls = []
    real_git = repo._git

    def counting(*args, **kw):
        calls.append(args[0])
        return real_git(*args, **kw)

    repo._git = counting
    change = Change(STAGING, lambda t: t + "# v2\n", _msg("web", "v2"))
    first = repo.propose(change, branch="promoter/staging/web")
    again = repo.propose(change, branch="promoter/staging/web")
    assert isinstance(first, Committed) and again == Committed(sha=first.sha, attempts=0)
    assert "fetch" not in calls and "ls-remote" not in calls and calls.count("push") == 1
    repo.expire()  # a webhook: the next proposal asks the remote
    repo.propose(change, branch="promoter/staging/web")
    assert "fetch" in calls
