"""Masterminds/semver v3 semantics, pinned by the library's own test tables.

Cases are carried over from Masterminds/semver `constraints_test.go`
(TestConstraintCheck, TestConstraintsCheck, TestNewConstraint), which is what
Argo CD Image Updater and Flux run under the hood.
"""

import pytest

from gitops_promoter.domain.versions import parse_constraint, parse_lenient, parse_strict
from gitops_promoter.errors import PolicyError

# (constraint, version, expected) — TestConstraintCheck (single comparators)
SINGLE = [
    ("=2.0.0", "1.2.3", False), ("=2.0.0", "2.0.0", True), ("=2.0", "1.2.3", False),
    ("=2.0", "2.0.0", True), ("=2.0", "2.0.1", True), ("4.1", "4.1.0", True),
    ("!=4.1.0", "4.1.0", False), ("!=4.1.0", "4.1.1", True), ("!=4.1", "4.1.0", False),
    ("!=4.1", "4.1.1", False), ("!=4.1", "5.1.0-alpha.1", False), ("!=4.1-alpha", "4.1.0", True),
    ("!=4.1", "5.1.0", True), ("<11", "0.1.0", True), ("<11", "11.1.0", False),
    ("<1.1", "0.1.0", True), ("<1.1", "1.1.0", False), ("<1.1", "1.1.1", False),
    ("<=11", "1.2.3", True), ("<=11", "12.2.3", False), ("<=11", "11.2.3", True),
    ("<=1.1", "1.2.3", False), ("<=1.1", "0.1.0", True), ("<=1.1", "1.1.0", True),
    ("<=1.1", "1.1.1", True), (">1.1", "4.1.0", True), (">1.1", "1.1.0", False),
    (">0", "0", False), (">0", "1", True), (">0", "0.0.1-alpha", False),
    (">0.0", "0.0.1-alpha", False), (">0-0", "0.0.1-alpha", False), (">0.0-0", "0.0.1-alpha", False),
    (">0", "0.0.0-alpha", False), (">0-0", "0.0.0-alpha", False), (">0.0.0-0", "0.0.0-alpha", True),
    (">1.2.3-alpha.1", "1.2.3-alpha.2", True), (">1.2.3-alpha.1", "1.3.3-alpha.2", True),
    (">11", "11.1.0", False), (">11.1", "11.1.0", False), (">11.1", "11.1.1", False),
    (">11.1", "11.2.1", True), (">=11", "11.1.2", True), (">=11.1", "11.1.2", True),
    (">=11.1", "11.0.2", False), (">=1.1", "4.1.0", True), (">=1.1", "1.1.0", True),
    (">=1.1", "0.0.9", False), (">=0", "0.0.1-alpha", False), (">=0.0", "0.0.1-alpha", False),
    (">=0-0", "0.0.1-alpha", True), (">=0.0-0", "0.0.1-alpha", True), (">=0", "0.0.0-alpha", False),
    (">=0-0", "0.0.0-alpha", True), (">=0.0.0-0", "0.0.0-alpha", True), (">=0.0.0-0", "1.2.3", True),
    (">=0.0.0-0", "3.4.5-beta.1", True), ("<0", "0.0.0-alpha", False), ("<0-z", "0.0.0-alpha", True),
    (">=0", "0", True), ("=0", "1", False), ("*", "1", True), ("*", "4.5.6", True),
    ("*", "1.2.3-alpha.1", False), ("*-0", "1.2.3-alpha.1", True), ("2.*", "1", False),
    ("2.*", "3.4.5", False), ("2.*", "2.1.1", True), ("2.1.*", "2.1.1", True), ("2.1.*", "2.2.1", False),
    ("2", "1", False), ("2", "3.4.5", False), ("2", "2.1.1", True), ("2.1", "2.1.1", True),
    ("2.1", "2.2.1", False), ("~1.2.3", "1.2.4", True), ("~1.2.3", "1.3.4", False),
    ("~1.2", "1.2.4", True), ("~1.2", "1.3.4", False), ("~1", "1.2.4", True), ("~1", "2.3.4", False),
    ("~0.2.3", "0.2.5", True), ("~0.2.3", "0.3.5", False), ("~1.2.3-beta.2", "1.2.3-beta.4", True),
    ("~1.2.3-beta.2", "1.2.4-beta.2", True), ("~1.2.3-beta.2", "1.3.4-beta.2", False),
    ("^1.2.3", "1.8.9", True), ("^1.2.3", "2.8.9", False), ("^1.2.3", "1.2.1", False),
    ("^1.1.0", "2.1.0", False), ("^1.2.0", "2.2.1", False), ("^1.2.0", "1.2.1-alpha.1", False),
    ("^1.2.0-alpha.0", "1.2.1-alpha.1", True), ("^1.2.0-alpha.0", "1.2.1-alpha.0", True),
    ("^1.2.0-alpha.2", "1.2.0-alpha.1", False), ("^1.2", "1.8.9", True), ("^1.2", "2.8.9", False),
    ("^1", "1.8.9", True), ("^1", "2.8.9", False), ("^0.2.3", "0.2.5", True), ("^0.2.3", "0.5.6", False),
    ("^0.2", "0.2.5", True), ("^0.2", "0.5.6", False), ("^0.0.3", "0.0.3", True), ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.3", True), ("^0.0", "0.1.4", False), ("^0.0", "1.0.4", False), ("^0", "0.2.3", True),
    ("^0", "1.1.4", False), ("^0.2.3-beta.2", "0.2.3-beta.4", True), ("^0.2.3-beta.2", "0.2.4-beta.2", True),
    ("^0.2.3-beta.2", "0.3.4-beta.2", False), ("^0.2.3-beta.2", "0.2.3-beta.2", True),
]

# TestConstraintsCheck (AND / OR / ranges)
MULTI = [
    ("*", "1.2.3", True), ("~0.0.0", "1.2.3", True), ("0.x.x", "1.2.3", False), ("0.0.x", "1.2.3", False),
    ("0.0.0", "1.2.3", False), ("^0.0.0", "1.2.3", False), ("= 2.0", "1.2.3", False), ("= 2.0", "2.0.0", True),
    ("4.1.x", "4.1.3", True), ("1.x", "1.4", True), ("!=4.1-alpha", "4.1.0-alpha", False),
    ("!=4.1-alpha", "4.1.1-alpha", False), ("!=4.x", "5.1.0", True), ("!=4.x", "4.1.0", False),
    ("!=4.1.x", "4.2.0", True), ("!=4.2.x", "4.2.3", False), ("<1.x", "1.1.1", False), ("<1.x", "0.1.1", True),
    ("<1.x", "2.0.0", False), ("<1.1.x", "1.2.1", False), ("<1.1.x", "1.1.500", False),
    ("<1.1.x", "1.0.500", True), ("<1.2.x", "1.1.1", True), (">=1.1", "4.1.0-beta", False),
    ("<=1.1", "0.1.0-alpha", False), ("<=1.1-a", "0.1.0-alpha", True), ("<=1.x", "1.1.0", True),
    ("<=2.x", "3.0.0", False), ("<=1.1.x", "1.2.500", False), ("<=4.5", "3.4.0", True), ("<=4.5", "3.7.0", True),
    ("<=4.5", "4.6.3", False), (">1.1, <2", "1.1.1", False), (">1.1, <2", "1.2.1", True),
    (">1.1, <3", "4.3.2", False), (">=1.1, <2, !=1.2.3", "1.2.3", False), (">1.1 <2", "1.1.1", False),
    (">1.1 <2", "1.2.1", True), (">1.1    <3", "4.3.2", False), (">=1.1    <2    !=1.2.3", "1.2.3", False),
    (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", True), (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", False),
    (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", True), (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", False),
    (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", False), ("> 1.1, <     2", "1.1.1", False),
    (">   1.1, <2", "1.2.1", True), (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", True),
    ("1.1 - 2", "1.1.1", True), ("1.5.0 - 4.5", "3.7.0", True), ("1.1-3", "4.3.2", False),
    ("^1.1", "1.1.1", True), ("^1.1", "4.3.2", False), ("^1.x", "1.1.1", True), ("^2.x", "1.1.1", False),
    ("^1.x", "2.1.1", False), ("^1.x", "1.1.1-beta1", False), ("^1.1.2-alpha", "1.2.1-beta1", True),
    ("^1.2.x-alpha", "1.1.1-beta1", False), ("^0.0.1", "0.0.1", True), ("^0.0.1", "0.3.1", False),
    ("~*", "2.1.1", True), ("~1", "2.1.1", False), ("~1", "1.3.5", True), ("~1", "1.4", True),
    ("~1.x", "2.1.1", False), ("~1.x", "1.3.5", True), ("~1.x", "1.4", True), ("~1.1", "1.1.1", True),
    ("~1.1", "1.1.1-alpha", False), ("~1.1-alpha", "1.1.1-beta", True), ("~1.1.1-beta", "1.1.1-alpha", False),
    ("~1.1.1-beta", "1.1.1", True), ("~1.2.3", "1.2.5", True), ("~1.2.3", "1.2.2", False),
    ("~1.2.3", "1.3.2", False), ("~1.1", "1.2.3", False), ("~1.3", "2.4.5", False),
    ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", True), ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", True),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), SINGLE + MULTI,
                         ids=[f"{c}|{v}" for c, v, _ in SINGLE + MULTI])
def test_constraint_check_matches_masterminds(constraint, version, expected):
    v = parse_lenient(version)
    assert v is not None
    assert parse_constraint(constraint).check(v) is expected


@pytest.mark.parametrize(("text", "ors", "ands"), [
    (">= 1.1", 1, 1), (">40.50.60, < 50.70", 1, 2), ("2.0", 1, 1),
    ("v2.3.5-20161202202307-sha.e8fc5e5", 1, 1), (">= 1.2.3 < 2.0", 1, 2),
    (">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2), (">= 1.2.3, < 2.0", 1, 2),
    ("3 - 4 || => 3.0, < 4", 2, 2), ("12.3.34 ~1.2.3", 1, 2), ("1.0.0 - 2.0.0, <=2.0.0", 1, 3),
])
def test_constraint_structure_matches_masterminds(text, ors, ands):
    c = parse_constraint(text)
    assert len(c.groups) == ors
    assert len(c.groups[0]) == ands


@pytest.mark.parametrize("text", [">= bar", "BAR >= 1.2.3", "12.3.4.1234", "12.23.4.1234", "12.3.34.1234",
                                  "12.3.34~ 1.2.3", "foo", "", "1.0.0p", "1x", "x1", "-1", "a", "latest"])
def test_invalid_constraint_is_an_error(text):
    with pytest.raises(PolicyError, match="improper constraint"):
        parse_constraint(text)


@pytest.mark.parametrize(("tag", "expected"), [
    ("1.0", "1.0.0"), ("v1.2", "1.2.0"), ("1", "1.0.0"), ("v1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"),
    ("1.0.0.1", None), ("1.0.0p", None), ("latest", None), ("1.2.3-01", None), ("", None),
])
def test_lenient_parse(tag, expected):
    v = parse_lenient(tag)
    assert (None if v is None else str(v)) == expected


@pytest.mark.parametrize(("tag", "expected"), [
    ("1.0.0", "1.0.0"), ("v1.2.3", "1.2.3"), ("1.0", None), ("v1", None), ("01.0.0", None),
    ("1.0.0.1", None), ("b1.2.3", None), ("1.2.3-rc.1", "1.2.3-rc.1"),
])
def test_strict_parse(tag, expected):
    v = parse_strict(tag)
    assert (None if v is None else str(v)) == expected


def test_precedence_follows_the_semver_spec_example():
    # semver.org §11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
    #                 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    versions = [parse_lenient(v) for v in ordered]
    for a, b in zip(versions, versions[1:], strict=False):
        assert a.compare(b) == -1 and b.compare(a) == 1
    assert parse_lenient("1.0.0+a").compare(parse_lenient("1.0.0+b")) == 0
