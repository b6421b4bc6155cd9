"""What a pull-request environment is offered, and how the PR reads."""

import pytest

from gitops_promoter.domain.edits import Running
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.proposal import (
    Proposal,
    body,
    branch_name,
    parse_marker,
    plan_promotion,
    title,
)

POLICY = Policy.build(strategy="semver")


def plan(candidate, running, rejected=None):
    return plan_promotion(app="web", env="staging", source_env="dev", policy=POLICY,
                          candidate=Running("img", *candidate), running=Running("img", *running),
                          rejected=rejected or {})


@pytest.mark.parametrize(("candidate", "running", "rejected", "tag", "reason"), [
    pytest.param(("v1.1.0", None), ("v1.0.0", None), {}, "v1.1.0", "dev runs v1.1.0", id="propose"),
    pytest.param((None, None), ("v1.0.0", None), {}, None, "dev runs no tag of web yet", id="nothing-in-dev"),
    pytest.param(("v1.0.0", None), ("v1.0.0", None), {}, None, "staging already runs v1.0.0, as dev does",
                 id="already-there"),
    pytest.param(("v1.1.0", None), ("v1.0.0", None), {"v1.1.0": "pull request #3 closed unmerged by alice"},
                 None, "v1.1.0 was rejected for staging: pull request #3 closed unmerged by alice", id="rejected"),
    pytest.param(("v1.0.0", None), ("v1.2.0", None), {}, None,
                 "staging runs v1.2.0, newer than dev's v1.0.0; the promoter only moves forward", id="forward-only"),
    pytest.param(("latest", "sha256:b"), ("latest", "sha256:a"), {}, "latest", "dev runs latest",
                 id="same-tag-new-digest"),
])
def test_plan(candidate, running, rejected, tag, reason):
    result = plan(candidate, running, rejected)
    assert (result.proposal.tag if result.proposal else None, result.reason) == (tag, reason)


def test_title_body_and_marker_round_trip():
    p = Proposal("web", "staging", "dev", "v1.0.0", "v1.1.0", "sha256:abc")
    assert branch_name("staging", "web") == "promoter/staging/web"
    assert title(p) == "promote(staging): web v1.0.0 → v1.1.0"
    text = body(p, rule="1 approval from alice on the current head", carried=[("a" * 40, "promote(staging): web")],
                source_commit=("b" * 40, "promote(dev): web v1.0.0 → v1.1.0"), image="reg/web")
    assert "| to | `v1.1.0` |" in text
    assert "- aaaaaaaaaa promote(staging): web" in text
    assert "| source | dev, commit bbbbbbbbbb promote(dev): web v1.0.0 → v1.1.0 |" in text
    assert "Merges itself when the approval rule holds: 1 approval from alice on the current head." in text
    assert parse_marker(text) == {"app": "web", "env": "staging", "tag": "v1.1.0", "digest": "sha256:abc",
                                  "from": "v1.0.0"}
    assert parse_marker("a human PR") is None
    assert parse_marker("<!-- gitops-promoter {broken -->") is None


def test_an_unhealthy_source_keeps_the_pr_open_and_proposes_nothing():
    result = plan_promotion(app="web", env="staging", source_env="dev", policy=POLICY,
                            candidate=Running("img", "v1.1.0", None), running=Running("img", "v1.0.0", None),
                            rejected={}, source_unhealthy="it is paused at step 1")
    assert result.proposal is None and result.keep_open
    assert result.reason == "waiting for dev's canary to complete on v1.1.0: it is paused at step 1"


def chosen(tag, running, rejected=None, unhealthy=None):
    return plan_promotion(app="web", env="staging", source_env="dev", policy=POLICY,
                          candidate=Running(None, tag, None), running=Running("img", running, None),
                          rejected=rejected or {}, source_unhealthy=unhealthy, chosen=True)


@pytest.mark.parametrize(("tag", "running", "rejected", "unhealthy", "expected"), [
    pytest.param("v1.1.0", "v1.0.0", {}, None, ("v1.1.0", False, "a person chose v1.1.0 (gitops-promoter promote "
                                                                  "--tag)"), id="proposed"),
    pytest.param("v0.9.0", "v1.0.0", {}, None, ("v0.9.0", False, "a person chose v0.9.0 (gitops-promoter promote "
                                                                  "--tag)"), id="older-than-running-is-fine"),
    pytest.param("v1.1.0", "v1.0.0", {}, "it is paused at step 1",
                 ("v1.1.0", False, "a person chose v1.1.0 (gitops-promoter promote --tag)"),
                 id="dev-canary-does-not-hold-a-persons-choice"),
    pytest.param("v1.0.0", "v1.0.0", {}, None, (None, False, "staging already runs v1.0.0"), id="already-there"),
    pytest.param("v1.1.0", "v1.0.0", {"v1.1.0": "pull request #3 closed unmerged by alice"}, None,
                 (None, True, "v1.1.0 was rejected for staging: pull request #3 closed unmerged by alice; lift it "
                              "first with `gitops-promoter allow web staging v1.1.0`"),
                 id="rejected-refused-and-another-open-pr-kept"),
])
def test_a_persons_chosen_tag(tag, running, rejected, unhealthy, expected):
    result = chosen(tag, running, rejected, unhealthy)
    assert (result.proposal.tag if result.proposal else None, result.keep_open, result.reason) == expected
    if result.proposal is not None:
        assert result.proposal.chosen and result.proposal.from_tag == running


def test_a_chosen_proposal_says_so_in_its_marker_and_body():
    p = Proposal("web", "staging", "dev", "v1.0.0", "v0.9.0", "sha256:abc", chosen=True)
    text = body(p, rule="1 approval", carried=[], source_commit=None, image="reg/web")
    assert parse_marker(text) == {"app": "web", "env": "staging", "tag": "v0.9.0", "digest": "sha256:abc",
                                  "from": "v1.0.0", "chosen": True}
    assert "The promoter proposes **web** `v0.9.0` for **staging**: a person chose it" in text
    plain = body(Proposal("web", "staging", "dev", "v1.0.0", "v1.1.0", None), rule="1 approval", carried=[],
                 source_commit=None, image="reg/web")
    assert "chosen" not in (parse_marker(plain) or {}) and "dev runs it now." in plain
