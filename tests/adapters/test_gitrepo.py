"""The git adapter against real repositories: bare remotes on disk and over git daemon."""

import shutil
import subprocess

import pytest

from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config.schema import RepositoryConfig, SecretRef
from gitops_promoter.errors import GitRejected, GitUnavailable
from gitops_promoter.ports import Change, Committed, Unchanged
from tests.support.gitremote import GitDaemon, HumanClone, git, make_remote, remote_file, remote_log
from tests.support.net import free_port

ROLLOUT = "envs/dev/web/rollout.yaml"
MSG = "promote(dev): web v1.0.0 → v1.1.0\n\nbody\n\nPromoter-App: web\nPromoter-Env: dev\nPromoter-Action: bump\n"


def bump(text):
    return text.replace("web:v1.0.0", "web:v1.1.0")


def repo_for(url, tmp_path, **kw):
    cfg = RepositoryConfig(name="deploy", url=str(url), author_name="gitops-promoter",
                           author_email="bot@acme.example", **kw)
    return GitRepo(cfg, workdir=tmp_path / "work", sleep=lambda s: None, backoff=Backoff(base=0.001))


def test_commit_pushes_one_commit_with_author_and_trailers(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    result = repo.commit(Change(ROLLOUT, bump, MSG))
    assert isinstance(result, Committed) and result.attempts == 1
    assert "web:v1.1.0" in remote_file(remote, ROLLOUT)
    assert remote_log(remote, fmt="%an <%ae>|%s") == [
        "gitops-promoter <bot@acme.example>|promote(dev): web v1.0.0 → v1.1.0",
        "Human <human@example.com>|Initial deployment manifests"]
    assert git("log", "-1", "--format=%(trailers:key=Promoter-Action,valueonly)", "main", cwd=remote) == "bump"
    diff = git("diff", "main~1", "main", "--numstat", cwd=remote)
    assert diff == f"1\t1\t{ROLLOUT}"


def test_one_commit_edits_several_files_and_the_branch_carries_them_all(remote, tmp_path):
    """A bump that also arms the canary's gates in another file: one commit, both files; the
    pull-request branch that already carries both is kept (its reviews stay valid)."""
    staging = "envs/staging/web/kustomization.yaml"
    repo = repo_for(remote, tmp_path)
    change = Change(staging, lambda t: t + "# bumped\n", MSG,
                    also=((ROLLOUT, bump), (ROLLOUT, lambda t: t.replace("pause: {duration: 30s}", "pause: {}"))))
    result = repo.commit(change)
    assert isinstance(result, Committed)
    assert sorted(git("diff", "main~1", "main", "--name-only", cwd=remote).split()) == [ROLLOUT, staging]
    rollout = remote_file(remote, ROLLOUT)
    assert "web:v1.1.0" in rollout and "30s" not in rollout  # both edits of one file applied, in order
    # Only the primary file decides whether there is anything to commit.
    assert isinstance(repo.commit(Change(staging, lambda t: t, MSG, also=((ROLLOUT, lambda t: t + "#x\n"),))),
                      Unchanged)
    branch = "gitops-promoter/prod-web"
    again = Change(staging, lambda t: t + "# more\n", MSG, also=((ROLLOUT, lambda t: t + "# armed\n"),))
    first = repo.propose(again, branch=branch)
    assert isinstance(first, Committed) and first.attempts == 1
    assert repo.propose(again, branch=branch) == Committed(sha=first.sha, attempts=0)
    assert git("show", f"{branch}:{ROLLOUT}", cwd=remote).endswith("# armed")


def test_no_commit_when_the_file_already_says_so(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    assert isinstance(repo.commit(Change(ROLLOUT, lambda t: t, MSG)), Unchanged)
    assert len(remote_log(remote)) == 1


def test_second_write_reuses_the_working_clone(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.commit(Change(ROLLOUT, bump, MSG))
    marker = repo.path / "kept"
    marker.write_text("x")
    again = repo_for(remote, tmp_path)  # a new process, same workdir
    again.commit(Change(ROLLOUT, lambda t: t.replace("v1.1.0", "v1.2.0"), MSG))
    assert marker.exists()
    assert "web:v1.2.0" in remote_file(remote, ROLLOUT)


def test_push_race_reapplies_on_the_new_head_and_keeps_the_human_commit(remote, tmp_path):
    human = HumanClone(remote, tmp_path / "human")
    calls = []

    def edit(text):
        calls.append(text)
        if len(calls) == 1:  # a person pushes while we are editing
            human.commit("envs/dev/web/rollout.yaml", text.replace("replicas: 4", "replicas: 5"), "scale up")
        return bump(text)

    result = repo_for(remote, tmp_path).commit(Change(ROLLOUT, edit, MSG))
    assert isinstance(result, Committed) and result.attempts == 2
    final = remote_file(remote, ROLLOUT)
    assert "replicas: 5" in final and "web:v1.1.0" in final
    assert remote_log(remote) == ["promote(dev): web v1.0.0 → v1.1.0", "scale up", "Initial deployment manifests"]


def test_races_are_retried_quickly_until_the_budget_then_it_is_this_passes_error(remote, tmp_path):
    """A person pushes every time we are about to: the commit keeps re-applying on the new head
    with short pauses, then gives up for this pass — every person's commit kept, nothing forced."""
    human = HumanClone(remote, tmp_path / "human")
    now = [0.0]
    slept = []

    def edit(text):
        human.commit("notes.txt", f"{len(slept)}\n", f"human {len(slept)}")
        return bump(text)

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds + 1.0  # each try costs a second of the budget

    cfg = RepositoryConfig(name="deploy", url=str(remote), author_name="gitops-promoter",
                           author_email="bot@acme.example")
    repo = GitRepo(cfg, workdir=tmp_path / "work", sleep=sleep, race_budget=5.0, clock=lambda: now[0])
    gave_up = r"push kept losing races: \d+ attempts in 5\.\d s; trying again next pass"
    with pytest.raises(GitUnavailable, match=gave_up):
        repo.commit(Change(ROLLOUT, edit, MSG))
    assert 3 <= len(slept) <= 5 and all(0.01 <= s <= 0.5 for s in slept)
    assert "web:v1.0.0" in remote_file(remote, ROLLOUT)  # no bump, no force
    assert len([line for line in remote_log(remote) if line.startswith("human ")]) == len(slept) + 1


def test_an_unusable_clone_is_replaced(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.path.mkdir(parents=True)
    git("init", "-q", "--bare", str(repo.path), cwd=tmp_path)  # killed before it had `origin`
    (repo.path / "stray.txt").write_text("left by the interrupted clone")
    repo.commit(Change(ROLLOUT, bump, MSG))
    assert not (repo.path / "stray.txt").exists()
    assert git("show", "--stat", "--format=", "main", cwd=remote).split("|")[0].strip() == ROLLOUT


def test_a_half_made_clone_inside_another_repository_never_touches_that_one(remote, tmp_path):
    """A kill during `git init --bare` leaves hooks/ and description, which git does not take for
    a repository. The workdir sits in a person's work tree: git must not look upward and set
    `origin` (or fetch, or push) in the person's repository; the half-made clone is made anew."""
    person = tmp_path / "person"
    git("init", "-q", str(person), cwd=tmp_path)
    git("remote", "add", "origin", "https://example.invalid/theirs.git", cwd=person)
    repo = GitRepo(RepositoryConfig(name="deploy", url=str(remote), author_name="gitops-promoter",
                                    author_email="bot@acme.example"),
                   workdir=person / "work", sleep=lambda s: None, backoff=Backoff(base=0.001))
    (repo.path / "hooks").mkdir(parents=True)
    (repo.path / "description").write_text("Unnamed repository\n")
    assert isinstance(repo.commit(Change(ROLLOUT, bump, MSG)), Committed)
    assert git("remote", "get-url", "origin", cwd=person) == "https://example.invalid/theirs.git"
    assert git("for-each-ref", cwd=person) == ""  # nothing fetched into it
    assert (repo.path / "HEAD").is_file() and "web:v1.1.0" in remote_file(remote, ROLLOUT)


@pytest.mark.parametrize("change", ["moved", "config-edited", "no-objects", "garbage-head", "bad-config-line"])
def test_a_clone_is_opened_from_its_files_only_when_they_say_exactly_this_remote(remote, tmp_path, change):
    """The next process opens the clone without a git process when its files are whole and its
    origin is the configured URL; a moved repository, a config a person edited, or a clone missing
    its objects folder goes through `git remote set-url` (or is made anew), never used as found; so
    does one whose HEAD or config git cannot read (power lost mid-write), though its files look whole."""
    first = repo_for(remote, tmp_path)
    assert isinstance(first.commit(Change(ROLLOUT, bump, MSG)), Committed)
    moved = remote
    if change == "moved":
        moved = tmp_path / "moved.git"
        remote.rename(moved)
    elif change == "config-edited":
        git("config", "--add", "remote.origin.url", "https://example.invalid/other.git", cwd=first.path)
    elif change == "no-objects":
        shutil.rmtree(first.path / "objects")
    elif change == "garbage-head":
        (first.path / "HEAD").write_bytes(b"\0\0\0\0")
    else:
        with open(first.path / "config", "a") as fh:
            fh.write("this is not git config\n")
    again = repo_for(moved, tmp_path)
    again.repair()  # as every writing pass starts
    done = again.commit(Change(ROLLOUT, lambda t: t.replace("v1.1.0", "v1.2.0"), MSG))
    assert isinstance(done, Committed)
    assert git("config", "--get-all", "remote.origin.url", cwd=again.path) == str(moved)
    assert "web:v1.2.0" in remote_file(moved, ROLLOUT)


def test_only_the_edited_file_changes_and_modes_and_bytes_are_kept(tmp_path):
    seed = tmp_path / "seed"
    (seed / "bin").mkdir(parents=True)
    (seed / "bin" / "run.sh").write_text("#!/bin/sh\n")
    (seed / "bin" / "run.sh").chmod(0o755)
    (seed / "crlf.yaml").write_bytes(b"image: web:v1.0.0\r\nother: x\r\n")
    remote = make_remote(tmp_path, seed)
    repo = repo_for(remote, tmp_path)
    repo.commit(Change("crlf.yaml", bump, MSG))
    raw = subprocess.run(["git", "cat-file", "blob", "main:crlf.yaml"], cwd=remote, capture_output=True).stdout
    assert raw == b"image: web:v1.1.0\r\nother: x\r\n"
    assert git("ls-tree", "main", "bin/run.sh", cwd=remote).startswith("100755")
    assert git("diff", "--name-only", "main~1", "main", cwd=remote) == "crlf.yaml"


def test_dry_run_returns_the_diff_and_writes_nothing(remote, tmp_path):
    before, after = repo_for(remote, tmp_path).commit(Change(ROLLOUT, bump, MSG), dry_run=True)
    assert bump(before) == after
    assert len(remote_log(remote)) == 1


def test_git_daemon_clone_and_push(remote, tmp_path):
    daemon = GitDaemon(tmp_path).start()
    try:
        repo = repo_for(daemon.url("deploy.git"), tmp_path)
        assert isinstance(repo.commit(Change(ROLLOUT, bump, MSG)), Committed)
        assert "web:v1.1.0" in remote_file(remote, ROLLOUT)
    finally:
        daemon.stop()


def test_unreachable_remote_is_retried_then_unavailable(tmp_path):
    repo = repo_for(f"git://127.0.0.1:{free_port()}/deploy.git", tmp_path)
    with pytest.raises(GitUnavailable, match="gave up after 6 attempts"):
        repo.read(ROLLOUT)


def test_missing_branch_is_rejected(remote, tmp_path):
    repo = repo_for(remote, tmp_path, branch="release")
    with pytest.raises(GitRejected):
        repo.read(ROLLOUT)


def test_missing_file_is_rejected_with_its_path(remote, tmp_path):
    with pytest.raises(GitRejected, match="envs/qa/web/rollout.yaml: no such file on branch main"):
        repo_for(remote, tmp_path).read("envs/qa/web/rollout.yaml")


def test_token_goes_in_a_header_never_in_git_config(remote, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOY_TOKEN", "tok-123")
    repo = repo_for(remote, tmp_path, token=SecretRef("env", "DEPLOY_TOKEN", "t"))
    env = repo.env()
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"].startswith("Authorization: Basic ")
    repo.sync()
    assert "tok-123" not in (repo.path / "config").read_text()


def test_ssh_key_by_path(remote, tmp_path):
    repo = repo_for(remote, tmp_path, ssh_key=SecretRef("file", "/etc/promoter/id_ed25519", "t"))
    assert repo.env()["GIT_SSH_COMMAND"].startswith("ssh -i /etc/promoter/id_ed25519 -o IdentitiesOnly=yes")


def test_https_token_over_smart_http(remote, tmp_path, monkeypatch):
    from tests.support.githttp import GitHttpServer

    monkeypatch.setenv("DEPLOY_TOKEN", "tok-123")
    with GitHttpServer(tmp_path, token="tok-123") as server:
        repo = repo_for(f"{server.url}/deploy.git", tmp_path, token=SecretRef("env", "DEPLOY_TOKEN", "t"))
        assert isinstance(repo.commit(Change(ROLLOUT, bump, MSG)), Committed)
        assert "web:v1.1.0" in remote_file(remote, ROLLOUT)
        assert any("git-receive-pack" in r for r in server.requests)


def test_https_wrong_token_is_rejected_not_retried(remote, tmp_path, monkeypatch):
    from tests.support.githttp import GitHttpServer

    monkeypatch.setenv("DEPLOY_TOKEN", "wrong")
    with GitHttpServer(tmp_path, token="tok-123") as server:
        repo = repo_for(f"{server.url}/deploy.git", tmp_path, token=SecretRef("env", "DEPLOY_TOKEN", "t"))
        with pytest.raises(GitRejected, match="Authentication failed"):
            repo.read(ROLLOUT)
        assert len(server.requests) <= 2


def test_revert_undoes_the_release_and_keeps_later_human_edits(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    first = repo.commit(Change(ROLLOUT, bump, MSG)).sha
    second = repo.commit(Change(ROLLOUT, lambda t: t.replace("- pause: {}              # gate at step 1",
                                                             "- pause: {duration: 10s}              # gate at step 1"),
                                "advance\n\nPromoter-App: web\nPromoter-Env: dev\nPromoter-Action: advance\n"
                                "Promoter-Step: 1\n")).sha
    human = HumanClone(remote, tmp_path / "human")
    text = (human.path / ROLLOUT).read_text().replace("replicas: 4", "replicas: 6")
    human.commit(ROLLOUT, text, "scale")
    result = repo.revert([second, first], message="revert(dev): web v1.1.0\n\nPromoter-App: web\nPromoter-Env: dev\n"
                                                  "Promoter-Action: revert\n")
    final = remote_file(remote, ROLLOUT)
    assert "web:v1.0.0" in final and "- pause: {}              # gate at step 1" in final and "replicas: 6" in final
    assert remote_log(remote)[0] == "revert(dev): web v1.1.0"
    assert result.sha == git("rev-parse", "main", cwd=remote)
    history = repo.history(app="web")
    assert [c.trailers.get("Promoter-Action") for c in history] == ["revert", "advance", "bump"]
    assert repo.contains(first, result.sha) and not repo.contains(result.sha, first)


def test_revert_that_conflicts_is_rejected_not_forced(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    first = repo.commit(Change(ROLLOUT, bump, MSG)).sha
    human = HumanClone(remote, tmp_path / "human")
    human.commit(ROLLOUT, (human.path / ROLLOUT).read_text().replace("web:v1.1.0", "web:v9.9.9"), "human pin")
    with pytest.raises(GitRejected, match="cannot revert"):
        repo.revert([first], message="revert\n")
    assert "web:v9.9.9" in remote_file(remote, ROLLOUT)


def test_history_is_read_once_and_then_only_what_is_new(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    assert repo.history(app="web") == []
    repo.commit(Change(ROLLOUT, bump, MSG))
    human = HumanClone(remote, tmp_path / "human")
    git("revert", "--no-edit", "HEAD", cwd=human.path)
    git("push", "-q", "origin", "HEAD:main", cwd=human.path)
    history = repo.history(app="web")
    assert [c.subject for c in history] == ['Revert "promote(dev): web v1.0.0 → v1.1.0"',
                                            "promote(dev): web v1.0.0 → v1.1.0"]
    assert repo.history(app="api") == history[:1]  # reverts are everyone's business


def test_a_normal_write_leaves_nothing_to_repair(remote, tmp_path):
    repo = repo_for(remote, tmp_path)
    repo.commit(Change(ROLLOUT, bump, MSG))
    assert repo.repair() == []
    assert git("for-each-ref", "refs/promoter/", cwd=repo.path) == ""


def test_repair_clears_what_a_killed_writer_left_and_writes_work_again(remote, tmp_path):
    """What `kill -9` in the middle of fast-import, a fetch or a push can leave in the clone."""
    repo = repo_for(remote, tmp_path)
    repo.commit(Change(ROLLOUT, bump, MSG))
    head = git("rev-parse", "refs/remotes/origin/main", cwd=repo.path)
    git("update-ref", "refs/promoter/pending-123-abc", head, cwd=repo.path)
    for leftover in ("refs/remotes/origin/main.lock", "index.lock", "packed-refs.lock", "fast_import_crash_4242",
                     "objects/pack/tmp_pack_Xy12", "promoter-scratch/4242-q1/stream"):
        path = repo.path / leftover
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half-written")
    removed = repo_for(remote, tmp_path).repair()  # a new process, under the workdir lock
    assert sorted(removed) == sorted([
        "fast_import_crash_4242", "index.lock", "objects/pack/tmp_pack_Xy12", "packed-refs.lock",
        "promoter-scratch/4242-q1", "refs/promoter/pending-123-abc", "refs/remotes/origin/main.lock"])
    again = repo_for(remote, tmp_path)
    assert isinstance(again.commit(Change(ROLLOUT, lambda t: t.replace("v1.1.0", "v1.2.0"), MSG)), Committed)
    assert again.repair() == []


def test_a_persons_folder_in_the_workdir_is_never_cleaned_or_replaced(remote, tmp_path):
    folder = tmp_path / "work" / "deploy"
    (folder / "sub").mkdir(parents=True)
    (folder / "Cargo.lock").write_text("mine")
    (folder / "sub" / "yarn.lock").write_text("mine too")
    repo = repo_for(remote, tmp_path)
    assert repo.repair() == []
    with pytest.raises(GitRejected, match="is not a clone of the promoter's; it is left alone"):
        repo.commit(Change(ROLLOUT, bump, MSG))
    assert (folder / "Cargo.lock").read_text() == "mine" and (folder / "sub" / "yarn.lock").exists()


def test_a_clone_killed_early_in_git_init_is_made_again(remote, tmp_path):
    folder = tmp_path / "work" / "deploy"
    (folder / "hooks").mkdir(parents=True)  # git init writes its templates first
    (folder / "description").write_text("Unnamed repository")
    repo = repo_for(remote, tmp_path)
    assert isinstance(repo.commit(Change(ROLLOUT, bump, MSG)), Committed)
