"""Release planning: every "no" carries a reason; the promoter only moves forward."""

from datetime import UTC, datetime

import pytest

from gitops_promoter.domain.edits import Running
from gitops_promoter.domain.plan import Bump, NoChange, commit_message, parse_trailers, plan_bump
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo

SEMVER = Policy.build(strategy="semver", constraint="^1.0")


def plan(tags, running_tag, policy=SEMVER, digest=None, rejected=frozenset()):
    infos = [t if isinstance(t, TagInfo) else TagInfo(t, digest="sha256:" + "a" * 64) for t in tags]
    return plan_bump(app="web", env="dev", policy=policy, running=Running("img", running_tag, digest),
                     candidates=infos, rejected=rejected)


def test_bump_to_the_newest_tag():
    result = plan(["v1.0.0", "v1.1.0", "v2.0.0"], "v1.0.0")
    assert isinstance(result, Bump)
    assert (result.from_tag, result.tag) == ("v1.0.0", "v1.1.0")
    assert result.reason == "policy semver lenient ^1.0 picked v1.1.0"


@pytest.mark.parametrize(("tags", "running", "reason"), [
    pytest.param(["v1.0.0", "v1.1.0"], "v1.1.0", "already at v1.1.0, the newest tag under semver lenient ^1.0",
                 id="already-there"),
    pytest.param(["v2.0.0", "latest"], "v1.0.0", "no tag matches the policy (semver lenient ^1.0; 2 tags seen)",
                 id="nothing-matches"),
    pytest.param(["v1.0.0", "v1.1.0"], "v1.5.0", "running v1.5.0, newer than the policy's pick v1.1.0; "
                 "a human choice is never overwritten by an older tag", id="never-backwards"),
    pytest.param(["v1.0.0", "v1.1.0"], "v2.0.0", "running v2.0.0, newer than the policy's pick v1.1.0; "
                 "a human choice is never overwritten by an older tag", id="never-backwards-outside-constraint"),
])
def test_no_change_says_why(tags, running, reason):
    result = plan(tags, running)
    assert isinstance(result, NoChange)
    assert result.reason == reason


def test_rejected_tags_are_never_proposed():
    result = plan(["v1.0.0", "v1.1.0", "v1.2.0"], "v1.0.0", rejected=frozenset({"v1.2.0"}))
    assert isinstance(result, Bump) and result.tag == "v1.1.0"


def test_running_tag_that_is_not_a_version_is_replaced():
    assert plan(["v1.0.0"], "latest").tag == "v1.0.0"


def test_digest_strategy_moves_on_a_new_digest():
    policy = Policy.build(strategy="digest", constraint="latest")
    tags = [TagInfo("latest", digest="sha256:" + "b" * 64)]
    assert isinstance(plan(tags, "latest", policy, digest="sha256:" + "b" * 64), NoChange)
    bump = plan(tags, "latest", policy, digest="sha256:" + "a" * 64)
    assert isinstance(bump, Bump) and bump.digest == "sha256:" + "b" * 64
    missing = plan([TagInfo("latest")], "latest", policy)
    assert isinstance(missing, NoChange) and "missing data" in missing.reason


def test_commit_message_subject_body_and_trailers():
    bump = Bump("web", "dev", "v1.4.1", "v1.5.0", "sha256:4b9f", "policy semver lenient ^1.0 picked v1.5.0 "
                "(pushed 2026-11-23T10:02:11Z)")
    msg = commit_message(bump)
    assert msg == ("promote(dev): web v1.4.1 → v1.5.0\n\n"
                   "Policy semver lenient ^1.0 picked v1.5.0 (pushed 2026-11-23T10:02:11Z).\n\n"
                   "Promoter-App: web\nPromoter-Env: dev\nPromoter-Action: bump\nPromoter-Tag: v1.5.0\n"
                   "Promoter-Digest: sha256:4b9f\n")
    assert parse_trailers(msg) == {"Promoter-App": "web", "Promoter-Env": "dev", "Promoter-Action": "bump",
                                   "Promoter-Tag": "v1.5.0", "Promoter-Digest": "sha256:4b9f"}


def test_pushed_time_in_reason():
    tags = [TagInfo("a", created=datetime(2026, 11, 23, 10, 2, 11, tzinfo=UTC))]
    result = plan(tags, None, Policy.build(strategy="newest-build"))
    assert result.reason == "policy newest-build picked a (pushed 2026-11-23T10:02:11Z)"


def test_parse_trailers_ignores_other_keys_and_bodies():
    assert parse_trailers("subject\n\nSigned-off-by: x\nPromoter-Tag: v1\n") == {"Promoter-Tag": "v1"}
    assert parse_trailers("") == {}
