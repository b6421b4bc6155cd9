"""The OCI tag grammar and digest shapes: what a registry may hand the promoter, and why not."""

import pytest

from gitops_promoter.domain.tags import is_valid_digest, is_valid_tag, tag_problem


@pytest.mark.parametrize("tag", [
    pytest.param("v1.2.3", id="semver"),
    pytest.param("latest", id="word"),
    pytest.param("_private", id="leading-underscore"),
    pytest.param("1", id="one-character"),
    pytest.param("v1.2.3-rc.1_build-7", id="dots-dashes-underscores"),
    pytest.param("2024.01.01", id="date"),
    pytest.param("sha256-" + "a" * 64 + ".sig", id="cosign-signature-tag"),  # valid; the filters drop it
    pytest.param("V" * 128, id="128-characters"),
    pytest.param("16.04.1", id="leading-zero-parts"),
])
def test_oci_tags_are_valid(tag):
    assert is_valid_tag(tag)
    assert tag_problem(tag) is None


@pytest.mark.parametrize(("tag", "problem"), [
    pytest.param("v1.0\u2028Promoter-App: api", "non-ASCII character U+2028", id="line-separator"),
    pytest.param("v1.0.0\n", "control character U+000A", id="trailing-newline"),
    pytest.param("v1.0.0\r\nX: y", "control character U+000D", id="crlf"),
    pytest.param("v1.0.0\x00", "control character U+0000", id="nul"),
    pytest.param("v\u0661.\u0662.\u0663", "non-ASCII character U+0661", id="arabic-indic-digits"),
    pytest.param("\uff56" + "1.0.0", "non-ASCII character U+FF56", id="fullwidth-v"),
    pytest.param("9" * 4400, "4400 characters, more than 128", id="4400-digits"),
    pytest.param("v" * 129, "129 characters, more than 128", id="129-characters"),
    pytest.param("", "empty", id="empty"),
    pytest.param("../x", "starts with '.'", id="dot-dot-slash"),
    pytest.param("-v1", "starts with '-'", id="leading-dash"),
    pytest.param("v1/../x", "character '/' is not allowed", id="slash"),
    pytest.param("v1.0.0+build", "character '+' is not allowed", id="plus"),
    pytest.param("v1:latest", "character ':' is not allowed", id="colon"),
    pytest.param("v1 ", "character ' ' is not allowed", id="space"),
    pytest.param(None, "not a string but null", id="null"),
    pytest.param(3, "not a string but a number", id="int"),
    pytest.param(1.5, "not a string but a number", id="float"),
    pytest.param(True, "not a string but a boolean", id="bool"),
    pytest.param(["v1"], "not a string but a list", id="list"),
    pytest.param({"v": 1}, "not a string but an object", id="object"),
])
def test_anything_else_is_not_a_tag_and_says_why(tag, problem):
    assert not is_valid_tag(tag)
    assert tag_problem(tag) == problem


@pytest.mark.parametrize(("digest", "valid"), [
    pytest.param("sha256:" + "0123456789abcdef" * 4, True, id="sha256"),
    pytest.param("sha512:" + "0123456789abcdef" * 8, True, id="sha512"),
    pytest.param("sha256:" + "A" * 64, False, id="upper-case-hex"),
    pytest.param("sha256:" + "a" * 63, False, id="short"),
    pytest.param("sha256:" + "a" * 65, False, id="long"),
    pytest.param("sha512:" + "a" * 64, False, id="sha512-of-sha256-length"),
    pytest.param("md5:" + "a" * 32, False, id="unregistered-algorithm"),
    pytest.param("SHA256:" + "a" * 64, False, id="upper-case-algorithm"),
    pytest.param("a" * 64, False, id="no-algorithm"),
    pytest.param("sha256:" + "a" * 64 + "\n", False, id="trailing-newline"),
    pytest.param("sha256:" + "\u0661" * 64, False, id="arabic-indic-digits"),
    pytest.param(None, False, id="null"),
    pytest.param("", False, id="empty"),
])
def test_digest_shapes(digest, valid):
    assert is_valid_digest(digest) is valid
