"""Tag policies, table-driven, with the peers' own cases.

Sources of the carried-over cases:
* Argo CD Image Updater `pkg/image/version_test.go` (Test_LatestVersion) — lenient semver.
* Flux image-reflector-controller `internal/policy/{semver,alphabetical,numerical}_test.go`.
* Flux image-reflector-controller `internal/policy/filter_test.go` (TestRegexFilter) and
  `internal/policy/filter.go` (RegexFilter: a map from extracted value to tag, so the later
  tag wins a tie); `api/v1/imagerepository_types.go` (GetExclusionList: the default
  `^.*\\.sig$` unless `exclusionList` is given, which replaces it).
* fluxcd/pkg `version/version_test.go` (TestParseVersion) — what strict semver reads.
"""

import time
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


# --- peer-exact corners (issue 10) --------------------------------------------------

@pytest.mark.parametrize(("tags", "constraint", "expected"), [
    pytest.param(["v1.2-rc.1", "v1.1.0"], ">=1.0.0-0", "v1.2-rc.1", id="flux-three-dot-parts-is-enough"),
    pytest.param(["v2025.06.30", "v2025.07.03", "v2025.07.01"], ">=2025.0.0", "v2025.07.03",
                 id="flux-pkg-calver-leading-zeros"),
    pytest.param(["v1.2.0-x.Y.0+metadata", "v1.1.0"], ">=1.0.0-0", "v1.2.0-x.Y.0+metadata",
                 id="flux-pkg-uppercase-prerelease"),
    pytest.param(["v1.2", "v1.1.0"], ">=1.0", "v1.1.0", id="flux-two-parts-is-not-a-version"),
    pytest.param(["v2025.07.03", "v2025.7.3"], ">=2025.0.0", "v2025.07.03", id="equal-calver-keeps-list-order"),
])
def test_semver_strict_reads_as_flux(tags, constraint, expected):
    assert pick(tags, strategy="semver", semver_mode="strict", constraint=constraint) == expected


@pytest.mark.parametrize(("tags", "constraint", "expected"), [
    pytest.param(["16.04", "16.04.1", "16.10", "20.04", "20.10"], None, "20.10", id="ubuntu-calver"),
    pytest.param(["16.04.1", "16.4.1"], None, "16.4.1", id="equal-leading-zeros-lexically-greatest"),
    pytest.param(["v2025.07.03", "v2025.06.30"], "^2025", "v2025.07.03", id="calver-in-a-constraint"),
    pytest.param(["v1.2.0-x.Y.0+metadata", "v1.1.0"], ">=1.0-0", "v1.2.0-x.Y.0+metadata",
                 id="uppercase-prerelease"),
])
def test_semver_lenient_reads_as_masterminds(tags, constraint, expected):
    assert pick(tags, strategy="semver", constraint=constraint) == expected


# Digits outside ASCII: a version to Python's \d, isdigit, int and float; never one to Go.
FOREIGN_DIGITS = ["١٢٣", "v١.٢.٣", "１.２.３", "۹۹۹", "९९.९", "²", "1.²"]


@pytest.mark.parametrize("mode", ["lenient", "strict"])
def test_foreign_digits_never_beat_a_real_version(mode):
    constraint = ">=0.0.0" if mode == "strict" else None
    tags = ["v1.2.3", *FOREIGN_DIGITS]
    assert pick(tags, strategy="semver", semver_mode=mode, constraint=constraint) == "v1.2.3"
    assert pick(FOREIGN_DIGITS, strategy="semver", semver_mode=mode, constraint=constraint) is None


@pytest.mark.parametrize("tag", [*FOREIGN_DIGITS, "1e400", "9" * 400, "9" * 4400, "1_000", "inf", "NaN", "0x1p4"])
def test_numerical_refuses_what_is_not_an_ascii_finite_number(tag):
    # Go's strconv.ParseFloat fails on foreign digits and (ErrRange) on 1e400; Flux's numerical
    # policy then fails with the tag's name. Inf, NaN and hex floats Go would read: we do not.
    started = time.perf_counter()
    with pytest.raises(PolicyError, match="is not a number"):
        pick(["1", tag], strategy="numerical")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(("allow", "tags", "expected"), [
    pytest.param(r"^\d+$", ["١٢٣", "12", "９９"], "12", id="digit-class-is-ascii"),
    pytest.param(r"^v\d+\.\d+\.\d+$", ["v1.2.3", "v١.٢.٣"], "v1.2.3", id="semver-shaped-regex"),
    pytest.param(r"^\w+$", ["abc", "абв", "ab_c"], "abc", id="word-class-is-ascii"),
    pytest.param(r"^[0-9]+$", ["7", "٨"], "7", id="explicit-class"),
])
def test_allow_tags_uses_go_ascii_classes(allow, tags, expected):
    assert pick(tags, strategy="alphabetical", allow_tags=allow) == expected


def test_extracted_foreign_digits_are_not_numbers():
    with pytest.raises(PolicyError, match="is not a number"):
        pick(["build-٣", "build-2"], strategy="numerical", allow_tags=r"^build-(.+)$", extract="$1")
    assert pick(["build-٣", "build-2"], strategy="numerical", allow_tags=r"^build-(\d+)$", extract="$1") == "build-2"


@pytest.mark.parametrize(("policy", "tags", "expected"), [
    pytest.param({}, ["1.0.0", "sha256-abc.sig"], "1.0.0", id="default-excludes-signatures"),
    pytest.param(dict(ignore_tags=["*-debug"]), ["1.0.0", "sha256-abc.sig"], "sha256-abc.sig",
                 id="flux-explicit-list-replaces-the-default"),
    pytest.param(dict(ignore_tags=["*-debug"], ignore_signature_tags=True), ["1.0.0", "sha256-abc.sig"], "1.0.0",
                 id="both-when-asked"),
    pytest.param(dict(ignore_signature_tags=False), ["1.0.0", "sha256-abc.att"], "sha256-abc.att",
                 id="default-off"),
    pytest.param(dict(ignore_tags=["*.sig"]), ["1.0.0", "sha256-abc.sig", "sha256-abc.att"], "sha256-abc.att",
                 id="explicit-list-is-the-whole-list"),
])
def test_ignore_tags_replace_the_signature_default_as_flux(policy, tags, expected):
    assert pick(tags, strategy="alphabetical", **policy) == expected


@pytest.mark.parametrize("strategy", ["newest-build", "digest"])
def test_non_flux_strategies_keep_the_signature_default_next_to_ignore_tags(strategy):
    # Deliberately unlike Flux (which has no such strategy): a signature is pushed after its
    # image, so newest-build would always pick it.
    kw = dict(constraint="latest") if strategy == "digest" else {}
    policy = Policy.build(strategy=strategy, ignore_tags=["*-debug"], **kw)
    assert policy.ignore_signature_tags is True
    tags = [TagInfo("latest", ts("2024-01-01"), "sha256:a"), TagInfo("sha256-a.sig", ts("2024-01-02"), "sha256:b")]
    assert policy.select(tags).name == "latest"


def test_effective_signature_setting_is_recorded():
    assert Policy.build(strategy="semver").ignore_signature_tags is True
    assert Policy.build(strategy="semver", ignore_tags=["x"]).ignore_signature_tags is False
    assert Policy.build(strategy="semver", ignore_tags=["x"], ignore_signature_tags=True).ignore_signature_tags is True


# Flux internal/policy/filter_test.go, TestRegexFilter: (tags, pattern, extract, expected keys).
FLUX_REGEX_FILTER = [
    (["a"], None, None, ["a"]),
    (["ver1", "ver2", "ver3", "rel1"], "^ver", None, ["ver1", "ver2", "ver3"]),
    (["ver1", "ver2", "ver3", "rel1"], r"ver(\d+)", "$1", ["1", "2", "3"]),
]


@pytest.mark.parametrize(("tags", "pattern", "extract", "expected"), FLUX_REGEX_FILTER)
def test_filter_keys_match_flux(tags, pattern, extract, expected):
    policy = Policy.build(strategy="alphabetical", allow_tags=pattern, extract=extract)
    assert sorted(c.key for c in policy.candidates([TagInfo(t) for t in tags])) == expected


@pytest.mark.parametrize(("policy", "tags", "expected"), [
    pytest.param(dict(strategy="numerical"), ["a-1-5", "b-2-5", "c-3-4"], "b-2-5", id="numerical"),
    pytest.param(dict(strategy="numerical", order="desc"), ["a-1-4", "b-2-4", "c-3-5"], "b-2-4", id="numerical-desc"),
    pytest.param(dict(strategy="alphabetical"), ["a-1-5", "b-2-5", "c-3-4"], "b-2-5", id="alphabetical"),
    pytest.param(dict(strategy="alphabetical", order="desc"), ["a-1-4", "b-2-4", "c-3-5"], "b-2-4",
                 id="alphabetical-desc"),
    pytest.param(dict(strategy="semver", semver_mode="strict", constraint="*"), ["z-1-1.0.0", "a-2-1.0.0"],
                 "a-2-1.0.0", id="semver-strict"),
    pytest.param(dict(strategy="semver"), ["z-1-1.0.0", "a-2-1.0.0"], "a-2-1.0.0", id="semver-lenient"),
])
def test_equal_extracted_values_go_to_the_later_tag(policy, tags, expected):
    # Flux internal/policy/filter.go: RegexFilter.Apply stores filtered[extracted] = tag, so of
    # tags with equal extracted values only the later one in the list is seen by the policy.
    assert pick(tags, allow_tags=r"^[a-z]-\d-(?P<v>.+)$", extract="$v", **policy) == expected


def test_candidates_without_extract_keep_every_tag():
    tags = [TagInfo("1.0.0"), TagInfo("v1.0.0"), TagInfo("1.0.0")]
    assert len(Policy.build(strategy="semver").candidates(tags)) == 3


@pytest.mark.parametrize("pattern", ["(", "a{1,99999999999}", "(?P<x>a)(?P<x>b)"])
def test_bad_allow_regex_is_a_policy_error(pattern):
    with pytest.raises(PolicyError, match="allow_tags: invalid regular expression"):
        Policy.build(strategy="semver", allow_tags=pattern)


def test_allow_tags_matches_in_linear_time_even_for_a_catastrophic_pattern():
    """RE2: `^(a+)+$` against 'aaaa…b' backtracks for hours in Python's re; here it is instant."""
    policy = Policy.build(strategy="alphabetical", allow_tags="^(a+)+$")
    tags = [TagInfo("a" * 40 + "b"), TagInfo("a" * 30)]
    started = time.monotonic()
    assert policy.select(tags).name == "a" * 30
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?=a)", "(?<!a)b", "a{1,1001}", "(?P<x>a)(?P<x>b)"])
def test_allow_tags_refuses_what_go_refuses(pattern):
    with pytest.raises(PolicyError, match="allow_tags: invalid regular expression"):
        Policy.build(strategy="alphabetical", allow_tags=pattern)
