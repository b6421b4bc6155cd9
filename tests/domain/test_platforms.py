"""Which image of an index a newest-build policy reads: Argo CD Image Updater's platform matching
(registry-scanner pkg/options/options.go, PlatformKey / WantsPlatform) for one platform."""

import pytest

from gitops_promoter.domain.platforms import choose_platform, key, matches
from gitops_promoter.domain.policy import Policy
from gitops_promoter.errors import PolicyError


def p(os_="linux", arch="amd64", variant=None):
    out = {"os": os_, "architecture": arch}
    if variant is not None:
        out["variant"] = variant
    return out


@pytest.mark.parametrize(("platform", "expected"), [
    (p(), "linux/amd64"),
    (p(arch="arm", variant="v7"), "linux/arm/v7"),
    (p(arch="arm64", variant=""), "linux/arm64"),
    ({"os": "linux"}, None),
    ({"architecture": "amd64"}, None),
    ({"os": 1, "architecture": "amd64"}, None),
    ("linux/amd64", None),
    (None, None),
])
def test_key(platform, expected):
    assert key(platform) == expected


@pytest.mark.parametrize(("platform", "wanted", "expected"), [
    pytest.param(p(arch="arm64"), "linux/arm64", True, id="equal"),
    pytest.param(p(arch="arm64", variant="v8"), "linux/arm64", True, id="a-variant-of-the-wanted-platform"),
    pytest.param(p(arch="arm64"), "linux/arm64/v8", False, id="no-variant-when-one-is-wanted"),
    pytest.param(p(arch="arm", variant="v6"), "linux/arm/v7", False, id="another-variant"),
    pytest.param(p(arch="arm", variant="v7"), "linux/arm/v7", True, id="the-variant"),
    pytest.param(p(os_="windows"), "linux/amd64", False, id="another-os"),
    pytest.param(p(arch="ARM64"), "linux/arm64", False, id="case-sensitive"),
    pytest.param({}, "linux/amd64", False, id="no-platform"),
])
def test_matches(platform, wanted, expected):
    assert matches(platform, wanted) is expected


@pytest.mark.parametrize(("platforms", "wanted", "expected"), [
    pytest.param([p(arch="arm64"), p()], None, 1, id="default-linux-amd64"),
    pytest.param([p(arch="arm64"), p(arch="s390x")], None, 0, id="default-else-the-first"),
    pytest.param([None, p(arch="amd64", variant="v2")], None, 1, id="default-amd64-any-variant"),
    pytest.param([], None, None, id="empty"),
    pytest.param([p(), p(arch="arm64")], "linux/arm64", 1, id="wanted"),
    pytest.param([p(), p(arch="arm", variant="v6"), p(arch="arm", variant="v7")], "linux/arm", 1,
                 id="the-first-variant-of-an-unvaried-wish"),
    pytest.param([p(), p(arch="arm64")], "linux/riscv64", None, id="absent-means-no-time"),
    pytest.param([p(arch="arm64")], "linux/amd64", None, id="explicit-amd64-is-strict"),
])
def test_choose_platform(platforms, wanted, expected):
    assert choose_platform(platforms, wanted) == expected


def test_policy_platform():
    policy = Policy.build(strategy="newest-build", platform="linux/arm/v7")
    assert (policy.platform, policy.describe()) == ("linux/arm/v7", "newest-build linux/arm/v7")
    assert Policy.build(strategy="newest-build").platform is None


@pytest.mark.parametrize(("args", "message"), [
    ({"strategy": "semver", "platform": "linux/arm64"}, "platform: only used by newest-build, not semver"),
    ({"strategy": "newest-build", "platform": "arm64"}, "platform: must be OS/ARCHITECTURE"),
    ({"strategy": "newest-build", "platform": "Linux/ARM64"}, "platform: must be OS/ARCHITECTURE"),
    ({"strategy": "newest-build", "platform": "linux/arm/v7/x"}, "platform: must be OS/ARCHITECTURE"),
    ({"strategy": "newest-build", "platform": "linux/"}, "platform: must be OS/ARCHITECTURE"),
])
def test_policy_platform_errors(args, message):
    with pytest.raises(PolicyError, match=message):
        Policy.build(**args)
