"""`rollback APP ENV` end to end on real git, the real GitRepo and the real PyGithub client: in an
environment without a canary; where main refuses pushes (GitHub's GH006, from a pre-receive hook),
through a revert pull request that a person merges."""

import os
import subprocess
import sys

import pytest

from gitops_promoter.domain.plan import parse_trailers
from tests.fakes import run_all
from tests.support.gitremote import git, protect, remote_log
from tests.support.world import ROLLOUT, STAGING

BRANCH = "gitops-promoter/rollback-staging-web"
GH006 = "GH006: Protected branch update failed for refs/heads/main. Changes must be made through a pull request."


def rollback(world, env):
    [out] = run_all(world.config, registry=world.registry, repos={"deploy": world.repo()},
                    hosts={"deploy": world.host()}, envs=frozenset({env}), force="rollback")
    return out


def staging_runs_v1_1_0(world):
    world.push_tag("v1.1.0")
    assert world.run()["web/staging"].status == "proposed"
    world.github.review(1, "alice", "APPROVED")
    out = world.run()
    assert (out["web/staging"].status, out["web/prod"].pr) == ("merged", 2)
    assert "newTag: v1.1.0" in world.file(STAGING)


def merge_by_hand(world, number, method):
    """A person merges the pull request on GitHub. Squash takes GitHub's "pull request title and
    description" default, so the commit is the pull request's text, not the branch's commit."""
    gh = world.github
    pull = gh.repo().pulls[number]
    title = f"{pull.title} (#{number})" if method == "squash" else f"Merge pull request #{number} from {pull.head}"
    sha = gh._merge(gh.repo(), pull, method=method, title=title, message=pull.body if method == "squash" else "",
                    by="olive")
    pull.state, pull.merged, pull.merged_by, pull.merge_commit_sha = "closed", True, "olive", sha


@pytest.mark.parametrize("method", ["merge", "squash"])
def test_a_protected_branch_gets_a_revert_pull_request_and_its_merge_stands(world, method):
    staging_runs_v1_1_0(world)
    bump = git("rev-parse", "main", cwd=world.remote)
    protect(world.remote)

    out = rollback(world, "staging")
    assert (out.status, out.pr, out.to_tag) == ("proposed", 3, "v1.1.0")
    assert out.detail == f"pushing to main is refused ({GH006}); opened revert pull request #3"
    assert git("rev-parse", "main", cwd=world.remote) == bump  # nothing landed on main
    pr = world.github.pulls()[-1]
    assert (pr.head, pr.base, pr.title, pr.author) == (BRANCH, "main", "Roll back web in staging: v1.1.0",
                                                      "promoter-bot")
    assert f"- {bump[:10]} promote(staging): web v1.0.0 → v1.1.0" in pr.body
    head = world.head(BRANCH)
    message = git("log", "-1", "--format=%B", head, cwd=world.remote)
    assert message.startswith(f"revert(staging): web v1.1.0\n\nRolled back by a person (gitops-promoter rollback)."
                              f"\n\nThis reverts commit {bump}.\n")
    assert parse_trailers(message)["Promoter-Action"] == "revert"
    assert "newTag: v1.0.0" in git("show", f"{BRANCH}:{STAGING}", cwd=world.remote)

    again = rollback(world, "staging")
    assert (again.status, again.pr) == ("waiting", 3)
    assert world.head(BRANCH) == head and len(world.github.pulls()) == 3  # same head, same pull request

    merge_by_hand(world, 3, method)
    assert "newTag: v1.0.0" in world.file(STAGING)
    merged = git("rev-parse", "main", cwd=world.remote)
    after = world.run()
    assert after["web/staging"].status == "unchanged"
    assert after["web/staging"].detail.startswith("v1.1.0 was rejected for staging: reverted by the promoter in ")
    assert (after["web/prod"].status, after["web/prod"].detail) == ("closed", "prod already runs v1.0.0, as "
                                                                              "staging does")
    assert git("rev-parse", "main", cwd=world.remote) == merged  # the pass wrote nothing: the revert stands
    assert "newTag: v1.0.0" in world.file(STAGING)
    assert world.run(observe=True)["web/staging"].rollback is None  # no live release of the promoter's there
    nothing = rollback(world, "staging")
    assert (nothing.status, nothing.detail) == ("unchanged", "nothing to roll back: staging has no live release of "
                                                             "the promoter's")


def test_a_direct_environment_without_a_canary_is_reverted_and_not_bumped_again(world):
    world.push_tag("v1.1.0")
    assert world.run()["web/dev"].status == "bumped"
    out = rollback(world, "dev")
    assert out.status == "reverted" and out.detail.startswith("v1.1.0: rolled back by a person")
    assert remote_log(world.remote)[0] == "revert(dev): web v1.1.0"
    assert "web:v1.0.0" in world.file(ROLLOUT)
    after = world.run()
    assert after["web/dev"].status == "unchanged"
    assert (after["web/staging"].status, after["web/staging"].pr) == ("closed", 1)  # dev no longer runs v1.1.0
    assert remote_log(world.remote)[0] == "revert(dev): web v1.1.0"  # the revert stands


def test_a_protected_branch_without_a_github_section_is_a_clear_error(world):
    staging_runs_v1_1_0(world)
    protect(world.remote)
    config = world.config
    [out] = run_all(config, registry=world.registry, repos={"deploy": world.repo()}, envs=frozenset({"staging"}),
                    force="rollback")
    assert (out.status, out.error_kind) == ("error", "permanent")
    assert out.detail == (f"pushing to main is refused ({GH006}), and repository deploy has no github section to "
                          "open a revert pull request with")


def test_rollback_through_the_cli(world):
    staging_runs_v1_1_0(world)
    protect(world.remote)
    (world.root / "promoter.yaml").write_text(world.config_text)
    result = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "rollback", "web", "staging", "--config",
                             "promoter.yaml"], cwd=world.root, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PROMOTER_GITHUB_TOKEN": "bot-token"})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"web/staging: proposed v1.1.0 (#3): pushing to main is refused ({GH006}); "
                               "opened revert pull request #3 [")
    assert lines[-1] == "summary: 1 proposed"
    assert world.github.pulls()[-1].head == BRANCH
