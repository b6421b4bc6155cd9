"""Commit and pull-request title templates: what a template may say, what a title becomes, and that
the trailers stay whatever the title."""

import pytest

from gitops_promoter.domain.plan import Bump, commit_message, parse_trailers
from gitops_promoter.domain.proposal import Proposal, title
from gitops_promoter.domain.titles import MAX_TITLE, render_title, template_problem

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("template", "problem"), [
    pytest.param("deploy {app} {to} to {env}", None, id="placeholders"),
    pytest.param("chore({env}): bump {app} from {from} to {to} [skip ci]", None, id="all-four"),
    pytest.param("{{literal}} {app}", None, id="escaped-braces"),
    pytest.param("bump images", None, id="no-placeholder"),
    pytest.param("{app} {tag}", "unknown placeholder {tag}; the placeholders are {app}, {env}, {from}, {to}",
                 id="unknown"),
    pytest.param("{App}", "unknown placeholder {App}; the placeholders are {app}, {env}, {from}, {to}",
                 id="case-sensitive"),
    pytest.param("{0}", "unknown placeholder {0}; the placeholders are {app}, {env}, {from}, {to}", id="positional"),
    pytest.param("{}", "unknown placeholder {}; the placeholders are {app}, {env}, {from}, {to}", id="empty-field"),
    pytest.param("{app.__class__}", "unknown placeholder {app.__class__}; the placeholders are {app}, {env}, "
                 "{from}, {to}", id="attribute"),
    pytest.param("{app[0]}", "unknown placeholder {app[0]}; the placeholders are {app}, {env}, {from}, {to}",
                 id="index"),
    pytest.param("{app!r}", "{app!r}: placeholders take no conversion or format spec; write {app}",
                 id="conversion"),
    pytest.param("{to:>40}", "{to:>40}: placeholders take no conversion or format spec; write {to}", id="spec"),
    pytest.param("{app", "expected '}' before end of string (write {{ and }} for literal braces)", id="unclosed"),
    pytest.param("app}", "Single '}' encountered in format string (write {{ and }} for literal braces)",
                 id="lone-close"),
    pytest.param("   ", "must not be empty", id="blank"),
    pytest.param("a\nb", "must not contain control characters, line breaks or invisible characters (a title is "
                 "one line)", id="newline"),
    pytest.param("a\u202eb", "must not contain control characters, line breaks or invisible characters (a title is "
                 "one line)", id="bidi-override"),
    pytest.param("x" * 201, "is 201 characters long; the limit is 200", id="too-long"),
])
def test_template_problem(template, problem):
    assert template_problem(template) == problem


@pytest.mark.parametrize(("template", "from_tag", "expected"), [
    ("deploy {app} {to} to {env}", "v1", "deploy web v2 to prod"),
    ("{app}: {from} → {to}", None, "web: (none) → v2"),
    ("{{{app}}}", "v1", "{web}"),
    ("  {app} {to}  ", "v1", "web v2"),
])
def test_render_title(template, from_tag, expected):
    assert render_title(template, app="web", env="prod", from_tag=from_tag, to_tag="v2") == expected


def test_a_long_title_is_cut_to_what_github_accepts():
    text = render_title("{from} {to} " + "x" * 150, app="web", env="prod", from_tag="a" * 128, to_tag="b" * 128)
    assert len(text) == MAX_TITLE and text.endswith("…")


def test_commit_message_with_a_template_keeps_body_and_trailers():
    bump = Bump("web", "dev", "v1.0.0", "v1.1.0", DIGEST, "policy semver picked v1.1.0")
    message = commit_message(bump, gates=(1,), template="chore({env}): {app} {from} -> {to} [skip ci]")
    default = commit_message(bump, gates=(1,))
    assert message.splitlines()[0] == "chore(dev): web v1.0.0 -> v1.1.0 [skip ci]"
    assert message.split("\n\n", 1)[1] == default.split("\n\n", 1)[1]
    assert parse_trailers(message) == {"Promoter-App": "web", "Promoter-Env": "dev", "Promoter-Action": "bump",
                                       "Promoter-Tag": "v1.1.0", "Promoter-Digest": DIGEST}


def test_a_tag_read_from_a_file_cannot_break_the_title_or_forge_a_trailer():
    bump = Bump("web", "dev", "v1\nPromoter-Tag: evil\u2028x", "v1.1.0", None, "r")
    message = commit_message(bump, template="{from} → {to}")
    assert message.splitlines()[0] == "v1\\nPromoter-Tag: evil\\u2028x → v1.1.0"
    assert parse_trailers(message)["Promoter-Tag"] == "v1.1.0"
    p = Proposal("web", "prod", "staging", "v1\r\nx\x1b[31m", "v2", None)
    for made in (title(p), title(p, template="{app}: {from} → {to}")):
        assert made.isprintable() and "\\r\\nx\\x1b[31m" in made


def test_default_pull_request_title_is_unchanged():
    assert title(Proposal("web", "prod", "staging", "v1", "v2", None)) == "promote(prod): web v1 → v2"
    assert title(Proposal("web", "prod", "staging", None, "v2", None)) == "promote(prod): web v2"
    assert title(Proposal("web", "prod", "staging", "v1", "v2", None), template="[{env}] {app} {to}") == \
        "[prod] web v2"
