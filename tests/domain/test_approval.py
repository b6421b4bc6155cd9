"""Approval rules, case by case."""

import pytest

from gitops_promoter.domain.approval import Review, Rule, evaluate

HEAD, OLD = "h" * 40, "o" * 40
TEAMS = {"acme/sre": frozenset({"carol", "dave"})}


def verdict(rule, reviews, checks=None):
    return evaluate(rule, reviews=[Review(u, s, c) for u, s, c in reviews], author="promoter-bot",
                    bot="promoter-bot", head_sha=HEAD, team_members=TEAMS, checks=checks or {})


RULE = Rule(required=1, approvers=("alice", "acme/sre"))


@pytest.mark.parametrize(("reviews", "ok", "approved"), [
    pytest.param([], False, (), id="no-reviews"),
    pytest.param([("alice", "APPROVED", HEAD)], True, ("alice",), id="listed-user"),
    pytest.param([("carol", "APPROVED", HEAD)], True, ("carol",), id="team-member"),
    pytest.param([("Carol", "APPROVED", HEAD)], True, ("Carol",), id="logins-are-case-insensitive"),
    pytest.param([("mallory", "APPROVED", HEAD)], False, (), id="non-approver"),
    pytest.param([("promoter-bot", "APPROVED", HEAD)], False, (), id="author-and-bot-excluded"),
    pytest.param([("alice", "APPROVED", OLD)], False, (), id="stale-approval"),
    pytest.param([("alice", "APPROVED", HEAD), ("alice", "COMMENTED", HEAD)], True, ("alice",),
                 id="comment-does-not-undo-approval"),
    pytest.param([("alice", "APPROVED", HEAD), ("alice", "DISMISSED", HEAD)], False, (), id="dismissed"),
    pytest.param([("alice", "CHANGES_REQUESTED", OLD), ("alice", "APPROVED", HEAD)], True, ("alice",),
                 id="latest-review-wins"),
    pytest.param([("alice", "APPROVED", HEAD), ("carol", "CHANGES_REQUESTED", OLD)], False, ("alice",),
                 id="changes-requested-by-approver-blocks"),
    pytest.param([("alice", "APPROVED", HEAD), ("mallory", "CHANGES_REQUESTED", HEAD)], True, ("alice",),
                 id="changes-requested-by-outsider-ignored"),
])
def test_rule(reviews, ok, approved):
    v = verdict(RULE, reviews)
    assert (v.ok, v.approved_by) == (ok, approved)


def test_two_required_counts_distinct_people():
    rule = Rule(required=2, approvers=("acme/sre",))
    assert not verdict(rule, [("carol", "APPROVED", HEAD), ("carol", "APPROVED", HEAD)]).ok
    assert verdict(rule, [("carol", "APPROVED", HEAD), ("dave", "APPROVED", HEAD)]).ok


def test_stale_approvals_count_when_the_rule_says_so():
    assert verdict(Rule(approvers=("alice",), dismiss_stale=False), [("alice", "APPROVED", OLD)]).ok


def test_empty_approvers_means_anyone_but_author_and_bot():
    assert verdict(Rule(), [("mallory", "APPROVED", HEAD)]).ok
    assert not verdict(Rule(), [("promoter-bot", "APPROVED", HEAD)]).ok


def test_required_zero_still_needs_checks():
    rule = Rule(required=0, checks=("ci/validate",))
    assert not verdict(rule, []).ok
    assert verdict(rule, [], {"ci/validate": "success"}).ok


@pytest.mark.parametrize(("checks", "ok", "reason"), [
    ({"ci/validate": "success"}, True, None),
    ({"ci/validate": "pending"}, False, "check ci/validate is pending"),
    ({"ci/validate": "failure"}, False, "check ci/validate is failure"),
    ({}, False, "check ci/validate is missing"),
])
def test_required_checks(checks, ok, reason):
    v = verdict(Rule(approvers=("alice",), checks=("ci/validate",)), [("alice", "APPROVED", HEAD)], checks)
    assert v.ok is ok
    if reason:
        assert reason in v.reasons


def test_verdict_explains_itself():
    v = verdict(Rule(required=2, approvers=("alice", "acme/sre")),
                [("alice", "APPROVED", HEAD), ("mallory", "APPROVED", HEAD), ("carol", "APPROVED", OLD)])
    assert v.describe() == ("waiting: approved by alice; 1 more approval needed from alice, acme/sre; "
                            "not counted: mallory (not an approver), carol (approved an older head ooooooo)")
    assert Rule(required=2, approvers=("acme/sre",), checks=("ci",)).describe() == (
        "2 approvals from acme/sre on the current head; checks green: ci")
