"""GitHub refuses a merge for many reasons; only a real conflict rebuilds the branch.

The stand-in answers as GitHub does (branch protection, allowed merge methods, the author's own
approval, dismissals, lost answers); the promoter must report, wait, and never push, rebuild or
repeat itself for anything but a conflict."""

import pytest
from github import Auth, Github

from gitops_promoter.errors import MergeConflict, MergeMethodNotAllowed, MergeRefused
from tests.support.fake_github import Refused
from tests.support.gitremote import git
from tests.support.world import STAGING

BRANCH = "promoter/staging/web"
REBUILT = "The branch conflicted with main"


def refs(world) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=world.remote)


def comments(world, number: int = 1) -> list[str]:
    return [body for _, body in world.github.repo().pulls[number].comments]


def open_staging_pr(world) -> None:
    world.push_tag("v1.1.0")
    assert world.run()["web/staging"].status == "proposed"


def assert_waits_without_pushing(world, expected: str, passes: int = 2) -> None:
    """Every pass reports GitHub's refusal and waits; no ref of the remote moves, no comment."""
    before, head, said = refs(world), world.head(BRANCH), comments(world)
    for _ in range(passes):
        out = world.run()["web/staging"]
        assert (out.status, out.pr) == ("waiting", 1), out
        assert out.detail.startswith(f"GitHub refuses the merge: {expected}; waiting"), out.detail
        assert "ready to merge (approved by alice)" in out.detail
        assert world.head(BRANCH) == head
        assert refs(world) == before
    assert comments(world) == said  # no "rebuilt" comment, nothing at all
    assert world.github.repo().pulls[1].state == "open"
    assert "newTag: v1.1.0" not in world.file(STAGING)


def test_a_required_review_count_is_reported_and_waited_on_without_a_push(world):
    world.github.protect("main", required_reviews=2)
    world.github.repo().readers.add("mallory")
    open_staging_pr(world)
    world.github.review(1, "alice", "APPROVED")  # the promoter's rule holds, GitHub's does not
    world.github.review(1, "mallory", "APPROVED")  # no write access: GitHub does not count it
    assert_waits_without_pushing(world, "At least 2 approving reviews are required by reviewers with write access.")
    assert not any(REBUILT in c for c in comments(world))
    world.github.review(1, "carol", "APPROVED")
    assert world.run()["web/staging"].status == "merged"
    assert "newTag: v1.1.0" in world.file(STAGING)


def test_a_required_status_check_is_reported_and_waited_on_without_a_push(world):
    world.github.protect("main", contexts=("ci/validate",))
    open_staging_pr(world)
    world.github.review(1, "alice", "APPROVED")
    assert_waits_without_pushing(world, 'Required status check "ci/validate" is expected.')
    world.github.set_status(world.head(BRANCH), "ci/validate", "failure")
    assert_waits_without_pushing(world, 'Required status check "ci/validate" is failing.', passes=1)
    assert not any(REBUILT in c for c in comments(world))
    world.github.set_status(world.head(BRANCH), "ci/validate", "success")
    assert world.run()["web/staging"].status == "merged"


def test_a_disallowed_merge_method_is_a_clear_error_and_nothing_is_pushed(world):
    world.github.allow_merge_methods("merge", "rebase")  # the world merges with squash
    open_staging_pr(world)
    world.github.review(1, "alice", "APPROVED")
    before, said = refs(world), comments(world)
    for _ in range(2):
        out = world.run()["web/staging"]
        assert (out.status, out.error_kind) == ("error", "permanent"), out
        assert "merge method 'squash' is not allowed on this repository; it allows merge, rebase" in out.detail
        assert "Squash merges are not allowed on this repository." in out.detail
        assert refs(world) == before
    assert comments(world) == said


def test_a_real_conflict_rebuilds_once_then_waits_for_protection(world):
    world.github.protect("main", required_reviews=2)
    open_staging_pr(world)
    human = world.human()
    human.commit(STAGING, (human.path / STAGING).read_text().replace("newTag: v1.0.0", "newTag: v1.0.1"),
                 "hotfix staging to v1.0.1")
    world.github.review(1, "alice", "APPROVED")
    assert world.run()["web/staging"].status == "rebuilt"
    rebuilt_head = world.head(BRANCH)
    assert sum(REBUILT in c for c in comments(world)) == 1
    world.github.review(1, "alice", "APPROVED")  # again, on the rebuilt head
    assert_waits_without_pushing(world, "At least 2 approving reviews are required by reviewers with write access.")
    assert world.head(BRANCH) == rebuilt_head
    assert sum(REBUILT in c for c in comments(world)) == 1
    world.github.review(1, "dave", "APPROVED")
    assert world.run()["web/staging"].status == "merged"
    assert "hotfix staging to v1.0.1" in git("log", "--format=%s", "main", cwd=world.remote)


def test_the_adapter_tells_a_conflict_from_a_refusal(world):
    open_staging_pr(world)
    host, head = world.host(), world.head(BRANCH)
    world.github.protect("main", required_reviews=1)
    with pytest.raises(MergeRefused, match=r"GitHub refuses the merge: At least 1 approving review is required by "
                                           r"reviewers with write access\."):
        host.merge(1, sha=head, method="squash", title="t", message="m")
    world.github.allow_merge_methods("squash")
    with pytest.raises(MergeMethodNotAllowed, match=r"merge method 'rebase' is not allowed on this repository; it "
                                                    r"allows squash"):
        host.merge(1, sha=head, method="rebase", title="t", message="m")
    human = world.human()
    human.commit(STAGING, (human.path / STAGING).read_text().replace("newTag: v1.0.0", "newTag: v1.0.1"), "hotfix")
    with pytest.raises(MergeConflict):
        host.merge(1, sha=head, method="squash", title="t", message="m")


def test_mergeable_state_as_github_reports_it(world):
    open_staging_pr(world)
    gh = Github(base_url=world.github.api, auth=Auth.Token("bot-token"))
    pull = world.github.repo().pulls[1]

    def state():
        return gh.get_repo("acme/deploy").get_pull(1).mergeable_state

    assert state() == "clean"
    world.github.set_status(world.head(BRANCH), "lint", "failure")  # not required by protection
    assert state() == "unstable"
    world.github.protect("main", required_reviews=1)
    assert state() == "blocked"
    world.github.mergeable_pending = 1
    assert state() == "unknown"
    human = world.human()
    human.commit(STAGING, (human.path / STAGING).read_text().replace("newTag: v1.0.0", "newTag: v1.0.1"), "hotfix")
    fresh = gh.get_repo("acme/deploy").get_pull(1)
    assert (fresh.mergeable, fresh.mergeable_state) == (False, "dirty")
    assert pull.state == "open"


def test_the_authors_own_approval_is_refused_and_not_counted(world):
    open_staging_pr(world)
    # Through the REST API, as the promoter itself (the PR's author) would try it.
    gh = Github(base_url=world.github.api, auth=Auth.Token("bot-token"))
    from github import GithubException

    with pytest.raises(GithubException) as info:
        gh.get_repo("acme/deploy").get_pull(1).create_review(event="APPROVE")
    assert info.value.status == 422
    assert info.value.data["errors"] == ["Can not approve your own pull request"]
    with pytest.raises(Refused):
        world.github.review(1, "promoter-bot", "APPROVED")
    assert world.github.repo().pulls[1].reviews == []
    out = world.run()["web/staging"]
    assert out.status == "waiting"
    assert out.detail == "waiting: no valid approval yet; 1 more approval needed from alice, acme/sre"


def test_a_dismissed_approval_changes_the_review_and_stops_counting(world):
    open_staging_pr(world)
    review_id = world.github.review(1, "alice", "APPROVED")
    world.github.dismiss(1, review_id, message="not this one")
    reviews = world.github.repo().pulls[1].reviews
    assert [(r["id"], r["state"]) for r in reviews] == [(review_id, "DISMISSED")]  # the same review, changed
    out = world.run()["web/staging"]
    assert out.status == "waiting" and "no valid approval yet" in out.detail
    # Over HTTP too: PUT /pulls/{n}/reviews/{id}/dismissals.
    carol = world.github.review(1, "carol", "APPROVED")
    world.github.tokens["carol-token"] = "carol"
    gh = Github(base_url=world.github.api, auth=Auth.Token("carol-token"))
    gh.get_repo("acme/deploy").get_pull(1).get_review(carol).dismiss("stale")
    assert [r["state"] for r in world.github.repo().pulls[1].reviews] == ["DISMISSED", "DISMISSED"]
    assert world.run()["web/staging"].status == "waiting"


def test_a_lost_comment_answer_is_not_posted_twice(world):
    open_staging_pr(world)
    world.push_tag("v1.2.0")
    # GitHub stores the comment, but the answer is lost (502); PyGithub would retry the POST.
    world.github.fail_after("POST", r"/issues/1/comments$", status=502)
    out = world.run()["web/staging"]
    assert out.status == "updated", out
    superseded = [c for c in comments(world) if c.startswith("Superseded: v1.1.0 → v1.2.0")]
    assert len(superseded) == 1
    assert sum(1 for line in world.github.log if line == "POST /repos/acme/deploy/issues/1/comments") == 1
    world.run()
    assert len([c for c in comments(world) if c.startswith("Superseded:")]) == 1


def test_a_pass_that_died_after_its_comment_does_not_repeat_it(world):
    """The comment landed, the pass failed before closing the PR: the next pass finds the marker."""
    open_staging_pr(world)
    dev = "envs/dev/web/rollout.yaml"
    human = world.human()
    human.commit(dev, (human.path / dev).read_text().replace("web:v1.1.0", "web:v1.0.0"), "Revert web to v1.0.0")
    world.registry.images["reg.local/acme/web"] = [t for t in world.registry.images["reg.local/acme/web"]
                                                    if t.name != "v1.1.0"]
    world.github.fail_before("PATCH", r"/pulls/1$", status=502)  # the close is not done this pass
    first = world.run()["web/staging"]
    assert (first.status, first.error_kind) == ("error", "transient"), first
    assert world.github.repo().pulls[1].state == "open"
    assert len([c for c in comments(world) if c.startswith("Closing:")]) == 1
    second = world.run()["web/staging"]
    assert second.status == "closed", second
    closing = [c for c in comments(world) if c.startswith("Closing:")]
    assert len(closing) == 1


def test_secondary_rate_limits_with_and_without_retry_after(world):
    from gitops_promoter.adapters.github import GitHubHost
    from gitops_promoter.errors import CodeHostUnavailable

    cfg = world.config.repositories["deploy"].github
    world.github.rate_limit_next(1, secondary=True, retry_after=0)
    assert GitHubHost(cfg, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0).login() \
        == "promoter-bot"
    world.github.rate_limit_next(1, secondary=True, retry_after=None)
    host = GitHubHost(cfg, backoff=0.01, max_rate_limit_wait=1, seconds_between_requests=0, seconds_between_writes=0)
    with pytest.raises(CodeHostUnavailable, match="secondary rate limit") as info:
        host.login()
    assert info.value.status == 403
    assert info.value.retry_after == 60.0  # GitHub: "wait for at least one minute before retrying"
