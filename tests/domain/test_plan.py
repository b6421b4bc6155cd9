"""Release planning: every "no" carries a reason; the promoter only moves forward."""

import unicodedata
from datetime import UTC, datetime

import pytest

from gitops_promoter.domain.edits import Running
from gitops_promoter.domain.plan import (
    Bump,
    NoChange,
    UnsafeMessageValue,
    commit_message,
    parse_trailers,
    plan_bump,
    render_message,
)
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.errors import PermanentError

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


# --- trailers cannot be forged (issue 10) -------------------------------------------

#: Every character str.splitlines() breaks on, and other controls a registry tag or a reason
#: may carry: none may ever start a line of a promoter commit message.
SEPARATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029",
              "\x00", "\x1b", "\t", "\u200b", "\u202e", "\ufeff"]
TEMPLATE_OK = {"\n"}


def _only_template_controls(message):
    return all(ch in TEMPLATE_OK or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs")
               for ch in message)


def bump(**changes):
    fields = dict(app="web", env="dev", from_tag="v1.0.0", tag="v1.1.0", digest="sha256:" + "a" * 64,
                  reason="policy semver lenient ^1.0 picked v1.1.0")
    fields.update(changes)
    return Bump(**fields)


@pytest.mark.parametrize("sep", SEPARATORS, ids=[repr(s) for s in SEPARATORS])
def test_a_tag_that_would_forge_a_trailer_is_refused(sep):
    tag = f"v1.0.0{sep}Promoter-App: api"
    with pytest.raises(UnsafeMessageValue, match="tag") as info:
        commit_message(bump(tag=tag))
    assert _only_template_controls(str(info.value))  # the error names the value, escaped


@pytest.mark.parametrize("field", ["app", "env", "digest"])
def test_other_identifiers_are_refused_too(field):
    with pytest.raises(UnsafeMessageValue):
        commit_message(bump(**{field: "x\u2028Promoter-Env: prod"}))


@pytest.mark.parametrize("sep", SEPARATORS, ids=[repr(s) for s in SEPARATORS])
def test_free_text_is_escaped_and_never_becomes_a_trailer(sep):
    reason = f"policy picked v1.1.0{sep}{sep}Promoter-App: api{sep}Promoter-Action: revert"
    msg = commit_message(bump(reason=reason, from_tag=f"v0{sep}Promoter-Tag: v9"))
    assert _only_template_controls(msg)
    assert parse_trailers(msg) == {"Promoter-App": "web", "Promoter-Env": "dev", "Promoter-Action": "bump",
                                   "Promoter-Tag": "v1.1.0", "Promoter-Digest": "sha256:" + "a" * 64}
    assert msg.count("\n\n") == 2  # subject, one body paragraph, trailers


def test_escaping_is_visible():
    msg = commit_message(bump(reason="it said\u2028hello\nworld\x85"))
    assert "It said\\u2028hello\\nworld\\x85." in msg


def test_render_message_refuses_unsafe_trailer_values_and_keys():
    with pytest.raises(UnsafeMessageValue, match="Promoter-Step"):
        render_message("s", ["b"], {"Promoter-App": "web", "Promoter-Step": "3\u2029Promoter-Env: prod"})
    with pytest.raises(UnsafeMessageValue):
        render_message("s", ["b"], {"Promoter-App\nPromoter-Env": "web"})
    with pytest.raises(UnsafeMessageValue):
        render_message("s", ["Promoter-App: api"], {})


def test_render_message_keeps_the_templates_own_paragraphs():
    msg = render_message("revert(dev): web v1", ["Why.", "  - detail", "", "This reverts commit abc."],
                         {"Promoter-App": "web"})
    assert msg == "revert(dev): web v1\n\nWhy.\n  - detail\n\nThis reverts commit abc.\n\nPromoter-App: web\n"


def test_unsafe_value_is_a_permanent_domain_error():
    assert issubclass(UnsafeMessageValue, PermanentError)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\v", "\f", "\x1c", "\x1d", "\x1e", "\r"])
def test_parse_trailers_splits_on_newline_only(sep):
    # A commit written before the fix (or by hand) with a separator inside a value: the value is
    # one odd value, never a second trailer.
    msg = f"promote(dev): api v1.0.0\n\nBody.\n\nPromoter-App: web\nPromoter-Tag: v1.0.0{sep}Promoter-App: api\n"
    trailers = parse_trailers(msg)
    assert trailers["Promoter-App"] == "web"
    assert trailers["Promoter-Tag"] == f"v1.0.0{sep}Promoter-App: api"


def test_parse_trailers_reads_crlf_messages():
    msg = "subject\r\n\r\nbody\r\n\r\nPromoter-App: web\r\nPromoter-Tag: v1\r\n"
    assert parse_trailers(msg) == {"Promoter-App": "web", "Promoter-Tag": "v1"}


def test_parse_trailers_separator_paragraphs_are_not_paragraphs():
    # U+2029 is a paragraph separator to Unicode, not to git: the last paragraph is after \n\n.
    msg = "s\n\nPromoter-App: web\nPromoter-Env: dev\u2029\u2029Promoter-Env: prod\n"
    assert parse_trailers(msg) == {"Promoter-App": "web", "Promoter-Env": "dev\u2029\u2029Promoter-Env: prod"}


def test_round_trip_of_every_promoter_message():
    msg = commit_message(bump(), gates=[1, 3])
    assert _only_template_controls(msg)
    assert parse_trailers(msg)["Promoter-Tag"] == "v1.1.0"
