"""Pull-request promotion, scenario by scenario, on real git and the real PyGithub client."""

import pytest

from gitops_promoter.domain.plan import parse_trailers
from gitops_promoter.domain.proposal import parse_marker
from tests.support.fake_github import Refused
from tests.support.gitremote import git
from tests.support.world import STAGING


def test_dev_commit_opens_a_staging_pr_merged_only_at_the_valid_approval(world):
    world.push_tag("v1.1.0")
    out = world.run()
    assert out["web/dev"].status == "bumped"
    staging = out["web/staging"]
    assert (staging.status, staging.to_tag, staging.pr) == ("proposed", "v1.1.0", 1)
    assert out["web/prod"].status == "unchanged"  # staging does not run v1.1.0 yet
    pr = world.github.pulls()[0]
    assert (pr.head, pr.base, pr.title, pr.labels) == ("promoter/staging/web", "main",
                                                      "promote(staging): web v1.0.0 → v1.1.0", ["promotion"])
    assert parse_marker(pr.body)["tag"] == "v1.1.0"
    assert "| source | dev, commit " in pr.body and "promote(dev): web v1.0.0 → v1.1.0 |" in pr.body
    assert "Merges itself when the approval rule holds: 1 approval from alice, acme/sre on the current head." \
        in pr.body
    assert "newTag: v1.0.0" in world.file(STAGING)

    head = world.head("promoter/staging/web")
    world.github.review(1, "mallory", "APPROVED")  # not an approver
    with pytest.raises(Refused) as refused:  # the author, the bot itself: GitHub refuses it (422)
        world.github.review(1, "promoter-bot", "APPROVED")
    assert (refused.value.status, refused.value.body["errors"]) == (422, ["Can not approve your own pull request"])
    world.github.review(1, "alice", "APPROVED", commit_id="0" * 40)  # on an older head
    waiting = world.run()["web/staging"]
    assert waiting.status == "waiting"
    assert waiting.detail == ("waiting: no valid approval yet; 1 more approval needed from alice, acme/sre; "
                              "not counted: mallory (not an approver), alice (approved an older head 0000000)")
    assert world.head("promoter/staging/web") == head  # waiting never rewrites the branch
    assert "newTag: v1.0.0" in world.file(STAGING)

    world.github.review(1, "carol", "APPROVED")  # acme/sre, on the current head
    merged_pass = world.run()
    merged = merged_pass["web/staging"]
    assert merged.status == "merged"
    # Staging runs v1.1.0 now, so prod gets its pull request in the same pass.
    assert (merged_pass["web/prod"].status, merged_pass["web/prod"].pr) == ("proposed", 2)
    assert "newTag: v1.1.0" in world.file(STAGING)
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert message.splitlines()[0] == "promote(staging): web v1.0.0 → v1.1.0"
    assert parse_trailers(message) == {"Promoter-App": "web", "Promoter-Env": "staging", "Promoter-Action": "bump",
                                       "Promoter-Tag": "v1.1.0", "Promoter-Digest": world.registry.digest(
                                           "reg.local/acme/web", "v1.1.0")}
    after = world.run()
    assert after["web/staging"].status == "unchanged"
    assert after["web/prod"].detail == ("waiting: no valid approval yet; 2 more approvals needed from acme/sre")


def test_a_newer_healthy_tag_updates_the_same_pr(world):
    world.push_tag("v1.1.0")
    world.run()
    old_head = world.head("promoter/staging/web")
    world.github.review(1, "alice", "APPROVED")
    world.push_tag("v1.2.0")
    out = world.run()
    assert out["web/dev"].to_tag == "v1.2.0"
    updated = out["web/staging"]
    assert (updated.status, updated.pr, updated.to_tag) == ("updated", 1, "v1.2.0")
    assert "now proposes v1.2.0 instead of v1.1.0" in updated.detail
    assert "alice (approved an older head" in updated.detail  # the approval was for v1.1.0
    pr = world.github.pulls()[0]
    assert len(world.github.pulls()) == 1
    assert pr.title == "promote(staging): web v1.0.0 → v1.2.0" and parse_marker(pr.body)["tag"] == "v1.2.0"
    assert pr.comments[-1][1].startswith("Superseded: v1.1.0 → v1.2.0")
    assert "<!-- gitops-promoter:comment " in pr.comments[-1][1]  # hidden marker, looked up before posting
    assert world.head("promoter/staging/web") != old_head
    assert "newTag: v1.2.0" in git("show", f"promoter/staging/web:{STAGING}", cwd=world.remote)


def test_human_close_rejects_that_tag_but_not_a_newer_one(world):
    world.push_tag("v1.1.0")
    world.run()
    world.github.close(1, by="alice")
    out = world.run()["web/staging"]
    assert out.status == "unchanged"
    assert out.detail == "v1.1.0 was rejected for staging: pull request #1 closed unmerged by alice"
    assert len(world.github.pulls()) == 1
    world.push_tag("v1.3.0")
    newer = world.run()["web/staging"]
    assert (newer.status, newer.to_tag, newer.pr) == ("proposed", "v1.3.0", 2)


def test_a_human_merge_is_fine(world):
    world.push_tag("v1.1.0")
    world.run()
    pr = world.github.pulls()[0]
    world.github.repo().pulls[1].state = "closed"
    world.github._merge(world.github.repo(), pr, method="merge", title="Merge it", message="", by="alice")
    pr.merged = True
    assert "newTag: v1.1.0" in world.file(STAGING)
    assert world.run()["web/staging"].status == "unchanged"


def test_pr_is_closed_when_its_tag_is_no_longer_a_candidate(world):
    world.push_tag("v1.1.0")
    world.run()
    # Dev is rolled back by a person: v1.1.0 is no longer what dev runs.
    dev = "envs/dev/web/rollout.yaml"
    human = world.human()
    text = (human.path / dev).read_text().replace("web:v1.1.0", "web:v1.0.0")
    human.commit(dev, text, "Revert web to v1.0.0")
    world.registry.images["reg.local/acme/web"] = [t for t in world.registry.images["reg.local/acme/web"]
                                                    if t.name != "v1.1.0"]
    out = world.run()["web/staging"]
    assert (out.status, out.pr) == ("closed", 1)
    assert out.detail == "staging already runs v1.0.0, as dev does"
    pr = world.github.pulls()[0]
    assert pr.state == "closed" and pr.closed_by == "promoter-bot"
    assert pr.comments[-1][1].split("\n\n")[0] == "Closing: staging already runs v1.0.0, as dev does."
    assert len(pr.comments) == 1


def test_merge_conflict_rebuilds_the_branch(world):
    world.push_tag("v1.1.0")
    world.run()
    old_head = world.head("promoter/staging/web")
    human = world.human()
    human.commit(STAGING, (human.path / STAGING).read_text().replace("newTag: v1.0.0", "newTag: v1.0.1"),
                 "hotfix staging to v1.0.1")
    world.github.review(1, "alice", "APPROVED")
    out = world.run()["web/staging"]
    assert out.status == "rebuilt"
    assert world.head("promoter/staging/web") != old_head
    assert world.github.pulls()[0].comments[-1][1].startswith("The branch conflicted with main; rebuilt it")
    world.github.review(1, "alice", "APPROVED")  # again, on the new head
    merged = world.run()["web/staging"]
    assert merged.status == "merged"
    assert "newTag: v1.1.0" in world.file(STAGING)
    assert "hotfix staging to v1.0.1" in git("log", "--format=%s", "main", cwd=world.remote)


def test_github_5xx_mid_merge_is_not_a_failure_when_the_merge_landed(world):
    world.push_tag("v1.1.0")
    world.run()
    world.github.review(1, "carol", "APPROVED")
    world.github.fail_after("PUT", r"/pulls/1/merge", status=502)
    out = world.run()["web/staging"]
    assert out.status == "merged", out
    assert "newTag: v1.1.0" in world.file(STAGING)
    assert world.run()["web/staging"].status == "unchanged"


def test_github_5xx_and_rate_limits_are_retried(world):
    world.push_tag("v1.1.0")
    world.github.fail_next(2, status=503)
    world.github.rate_limit_next(1, reset_in=0)
    world.github.rate_limit_next(1, secondary=True)
    out = world.run()["web/staging"]
    assert out.status == "proposed", out


def test_required_checks_gate_the_merge(world):
    world.config_text = world.config_text.replace("{required: 1, approvers: [alice, acme/sre]}",
                                                  "{required: 1, approvers: [alice], checks: [ci/validate]}")
    world.push_tag("v1.1.0")
    world.run()
    head = world.head("promoter/staging/web")
    world.github.review(1, "alice", "APPROVED")
    world.github.set_status(head, "ci/validate", "pending")
    assert "check ci/validate is pending" in world.run()["web/staging"].detail
    world.github.set_check_run(head, "ci/validate", "completed", "success")
    world.github.set_status(head, "ci/validate", "success")
    assert world.run()["web/staging"].status == "merged"


def test_status_reports_and_writes_nothing(world):
    world.push_tag("v1.1.0")
    world.run()
    world.github.review(1, "mallory", "APPROVED")
    before = git("for-each-ref", cwd=world.remote)
    requests = len(world.github.log)
    out = world.run(observe=True)["web/staging"]
    assert out.status == "waiting"
    assert out.detail.startswith("waiting: no valid approval yet; 1 more approval needed from alice, acme/sre")
    assert git("for-each-ref", cwd=world.remote) == before
    writes = [line for line in world.github.log[requests:] if not line.startswith("GET")]
    assert writes == []


def test_a_stale_pr_listing_does_not_loop_on_422(world):
    """GitHub's list can lag: create answers 422 'already exists', and the promoter adopts that PR."""
    world.push_tag("v1.1.0")
    world.run()
    real_host = world.host

    class StaleListing(type(real_host())):
        calls = 0

        def open_pulls(self, *, base):
            StaleListing.calls += 1
            if StaleListing.calls == 1:
                return []  # the first listing misses the open PR
            return super().open_pulls(base=base)

    world.push_tag("v1.2.0")
    world.host = lambda: StaleListing(world.config.repositories["deploy"].github, backoff=0.01,
                                      seconds_between_requests=0, seconds_between_writes=0)
    out = world.run()["web/staging"]
    assert (out.status, out.pr) == ("proposed", 1), out
    assert len(world.github.pulls()) == 1
    assert parse_marker(world.github.pulls()[0].body)["tag"] == "v1.2.0"


def test_merge_waits_while_github_computes_mergeability(world):
    world.push_tag("v1.1.0")
    world.run()
    world.github.review(1, "alice", "APPROVED")
    world.github.mergeable_pending = 1
    out = world.run()["web/staging"]
    assert (out.status, out.detail) == ("waiting", "approved; GitHub is still computing whether it merges cleanly")
    assert world.run()["web/staging"].status == "merged"


def test_git_revert_head_rolls_back_a_squash_merged_promotion_and_is_respected(world):
    """O&M's usual rollback works in a pull-request environment: the default squash merge is one
    commit carrying the trailers, so `git revert HEAD` needs no `-m`; the tag is rejected there."""
    world.config_text = world.config_text.replace("    merge_method: squash\n", "")  # the default
    world.push_tag("v1.1.0")
    world.run()
    world.github.review(1, "alice", "APPROVED")
    assert world.run()["web/staging"].status == "merged"
    assert git("rev-list", "--count", "--merges", "main", cwd=world.remote) == "0"  # squashed: no merge commit
    human = world.human()
    git("-c", "user.name=Olive", "-c", "user.email=olive@acme.example", "revert", "--no-edit", "HEAD",
        cwd=human.path)
    git("push", "-q", "origin", "HEAD:main", cwd=human.path)
    assert "newTag: v1.0.0" in world.file(STAGING)
    again = world.run()["web/staging"]
    assert (again.status, again.detail.split(" in ")[0]) == ("unchanged", "v1.1.0 was rejected for staging: reverted")
    assert "newTag: v1.0.0" in world.file(STAGING)  # the revert stands
    assert [p for p in world.github.pulls() if p.state == "open" and p.head == "promoter/staging/web"] == []
