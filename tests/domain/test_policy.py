"""Tag policies, table-driven, with the peers' own cases.

Sources of the carried-over cases:
* Argo CD Image Updater `pkg/image/version_test.go` (Test_LatestVersion) — lenient semver.
* Flux image-reflector-controller `internal/policy/{semver,alphabetical,numerical}_test.go`.
"""

from datetime import UTC, datetime

import pytest

from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.errors import PolicyError


def pick(tags, **policy):
    infos = [t if isinstance(t, TagInfo) else TagInfo(t) for t in tags]
    sel = Policy.build(**policy).select(infos)
    return None if sel is None else sel.name


IU_TAGS = ["0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3"]


@pytest.mark.parametrize(("tags", "constraint", "expected"), [
    pytest.param(IU_TAGS, None, "2.0.3", id="iu-no-constraint"),
    pytest.param(IU_TAGS, "^1.0", "1.1.2", id="iu-caret-major"),
    pytest.param(IU_TAGS, "~1.0", "1.0.1", id="iu-tilde-patch"),
    pytest.param(["0.1", "0.5.1", "0.9", "2.0.3"], "~1.0", None, id="iu-no-match"),
    pytest.param([], "~1.0", None, id="iu-no-tags"),
    pytest.param(["1.0", "1.0.1", "2.0.3"], None, "2.0.3", id="no-constraint-means-star"),
    pytest.param(["1.2.0-rc.1", "1.1.0"], "^1.0", "1.1.0", id="prerelease-needs-opt-in"),
    pytest.param(["1.2.0-rc.1", "1.1.0"], None, "1.1.0", id="star-excludes-prerelease"),
    pytest.param(["1.2.0-rc.1", "1.1.0"], ">=1.0-0", "1.2.0-rc.1", id="prerelease-opt-in"),
    pytest.param(["v1.0", "1.0.0", "v1.0.0", "1.0"], None, "v1.0.0", id="equal-versions-lexically-greatest"),
    pytest.param(["v1.2.3", "latest", "main-abc", "1.0.0.1"], None, "v1.2.3", id="non-versions-skipped"),
    pytest.param(["1.0.0+b2", "1.0.0+b10"], None, "1.0.0+b2", id="build-metadata-ties-lexically"),
])
def test_semver_lenient(tags, constraint, expected):
    assert pick(tags, strategy="semver", constraint=constraint) == expected


@pytest.mark.parametrize(("tags", "constraint", "expected"), [
    pytest.param(["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"], "1.0.x", "1.0.1", id="flux-regular"),
    pytest.param(["v1.2.3", "v1.0.0", "v0.1.0"], "1.0.x", "v1.0.0", id="flux-regular-with-prefix"),
    pytest.param(["b1.2.3", "b1.0.0", "b0.1.0"], "1.0.x", None, id="flux-invalid-prefix"),
    pytest.param([], "1.0.x", None, id="flux-empty-list"),
    pytest.param(["1.2.0"], "1.0.x", None, id="flux-non-matching"),
    pytest.param(["1.0", "1.1", "1.0.5"], ">=1.0", "1.0.5", id="two-part-tags-ignored"),
    pytest.param(["1.0.0", "v1.0.0"], ">=1.0", "1.0.0", id="equal-versions-keep-list-order"),
    pytest.param(["v1.0.0", "1.0.0"], ">=1.0", "v1.0.0", id="equal-versions-keep-list-order-2"),
])
def test_semver_strict(tags, constraint, expected):
    assert pick(tags, strategy="semver", semver_mode="strict", constraint=constraint) == expected


@pytest.mark.parametrize("constraint", ["1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"])
def test_flux_valid_ranges(constraint):
    Policy.build(strategy="semver", semver_mode="strict", constraint=constraint)


@pytest.mark.parametrize("constraint", ["1.0.0p", "1x", "x1", "-1", "a", "latest"])
def test_invalid_constraint_is_an_error_not_nothing_new(constraint):
    with pytest.raises(PolicyError, match="constraint"):
        Policy.build(strategy="semver", constraint=constraint)


def test_strict_needs_a_constraint():
    with pytest.raises(PolicyError, match="needs a constraint"):
        Policy.build(strategy="semver", semver_mode="strict")


CAL = ["16.04", "16.04.1", "16.10", "20.04", "20.10"]
CODE = ["xenial", "yakkety", "zesty", "artful", "bionic"]
TS = ["1606234201", "1606364286", "1606334092", "1606334284", "1606334201"]


@pytest.mark.parametrize(("tags", "order", "expected"), [
    pytest.param(CAL, None, "20.10", id="flux-ubuntu-calver"),
    pytest.param(CAL, "desc", "16.04", id="flux-ubuntu-calver-desc"),
    pytest.param(CODE, None, "zesty", id="flux-code-names"),
    pytest.param(CODE, "desc", "artful", id="flux-code-names-desc"),
    pytest.param(TS, None, "1606364286", id="flux-timestamps"),
    pytest.param(TS, "desc", "1606234201", id="flux-timestamps-desc"),
    pytest.param(["rel-" + t for t in TS], None, "rel-1606364286", id="flux-timestamps-prefix"),
    pytest.param([], None, None, id="flux-empty"),
])
def test_alphabetical(tags, order, expected):
    assert pick(tags, strategy="alphabetical", order=order) == expected


@pytest.mark.parametrize(("tags", "order", "expected"), [
    pytest.param(["-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"], None, "73", id="flux-ints-asc"),
    pytest.param(["5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"], "desc", "-78",
                 id="flux-ints-desc"),
    pytest.param(["47.40896403322944", "-27.8520927455902", "53.47333823144817", "3.2008658570411086"], None,
                 "53.47333823144817", id="flux-floats-asc"),
    pytest.param(["-65.27202780220686", "57.82948329142309", "-90.29082099756083"], "desc",
                 "-90.29082099756083", id="flux-floats-desc"),
    pytest.param(TS, None, "1606364286", id="flux-unix-asc"),
    pytest.param(TS, "desc", "1606234201", id="flux-unix-desc"),
    pytest.param(["1"], None, "1", id="flux-single"),
    pytest.param(["1"], "desc", "1", id="flux-single-desc"),
    pytest.param([], None, None, id="flux-empty"),
    pytest.param(["10", "9", "100"], None, "100", id="numbers-not-strings"),
])
def test_numerical(tags, order, expected):
    assert pick(tags, strategy="numerical", order=order) == expected


@pytest.mark.parametrize("tags", [["0", "1a", "b"], ["1_000"], ["0x10"]])
def test_numerical_non_number_names_the_tag(tags):
    with pytest.raises(PolicyError, match="is not a number"):
        pick(tags, strategy="numerical")


def test_numerical_sig_tags_are_ignored_before_parsing():
    assert pick(["1", "2", "sha256-abc.sig"], strategy="numerical") == "2"


def ts(s):
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(("tags", "expected"), [
    pytest.param([TagInfo("a", ts("2024-01-01")), TagInfo("b", ts("2024-02-01"))], "b", id="newest"),
    pytest.param([TagInfo("a", ts("2024-01-01")), TagInfo("c", ts("2024-01-01")), TagInfo("b", ts("2024-01-01"))],
                 "c", id="equal-times-lexically-greatest"),
    pytest.param([TagInfo("a", ts("2024-01-01")), TagInfo("z", None)], "a", id="missing-time-never-picked"),
    pytest.param([TagInfo("z", None)], None, id="no-times-no-pick"),
])
def test_newest_build(tags, expected):
    assert pick(tags, strategy="newest-build") == expected


def test_digest_follows_the_named_tag():
    tags = [TagInfo("latest", digest="sha256:b"), TagInfo("v1", digest="sha256:a")]
    sel = Policy.build(strategy="digest", constraint="latest").select(tags)
    assert sel == TagInfo("latest", digest="sha256:b")
    assert Policy.build(strategy="digest", constraint="main").select(tags) is None


def test_digest_needs_the_tag():
    with pytest.raises(PolicyError, match="mutable tag"):
        Policy.build(strategy="digest")


@pytest.mark.parametrize(("policy", "tags", "expected"), [
    pytest.param(dict(allow_tags=r"^v?\d+\.\d+\.\d+$"), ["v1.2.3", "v1.3.0-rc1", "v1.2.4-debug"], "v1.2.3",
                 id="allow-regex"),
    pytest.param(dict(allow_tags=r"\d+\.\d+"), ["app-1.2.3", "other"], "app-1.2.3", id="allow-is-unanchored"),
    pytest.param(dict(ignore_tags=["*-debug"]), ["v1.2.3", "v1.2.4-debug"], "v1.2.3", id="ignore-glob"),
    pytest.param(dict(ignore_tags=["1.2"]), ["1.2.3", "1.2"], "1.2.3", id="ignore-glob-anchored"),
    pytest.param({}, ["v1.0.0", "sha256-abcd.sig", "sha256-abcd.att", "sha256-abcd.sbom"], "v1.0.0",
                 id="signatures-ignored-by-default"),
])
def test_filters(policy, tags, expected):
    assert pick(tags, strategy="alphabetical", **policy) == expected


@pytest.mark.parametrize(("extract", "tags", "expected"), [
    pytest.param("$ts", ["main-abc-1700000002", "main-def-1700000010", "main-aaa-1700000009"],
                 "main-def-1700000010", id="flux-named-group"),
    pytest.param("$1", ["main-abc-1700000002", "main-def-1700000010"], "main-def-1700000010", id="numbered"),
    pytest.param("${ts}", ["main-abc-1700000002", "main-def-1700000010"], "main-def-1700000010", id="braced"),
])
def test_extract_orders_by_the_extracted_value(extract, tags, expected):
    assert pick(tags, strategy="numerical", allow_tags=r"^main-[a-f0-9]+-(?P<ts>\d+)$", extract=extract) == expected


def test_extract_semver():
    tags = ["release-1.2.0", "release-1.10.0", "release-1.9.9", "other-9.9.9"]
    assert pick(tags, strategy="semver", allow_tags=r"^release-(.*)$", extract="$1") == "release-1.10.0"


@pytest.mark.parametrize(("policy", "message"), [
    (dict(strategy="semver", allow_tags="("), "allow_tags: invalid regular expression"),
    (dict(strategy="semver", extract="$1"), "extract: needs allow_tags"),
    (dict(strategy="calver"), "unknown strategy"),
    (dict(strategy="semver", semver_mode="loose"), "semver_mode"),
    (dict(strategy="alphabetical", order="up"), "order"),
    (dict(strategy="alphabetical", constraint="^1.0"), "only used by semver and digest"),
    (dict(strategy="numerical", semver_mode="strict"), "only used by the semver"),
])
def test_policy_errors(policy, message):
    with pytest.raises(PolicyError, match=message):
        Policy.build(**policy)
