"""newest-build's platform on Debian's real docker-registry: a pushed multi-platform OCI index is read
for the policy's platform (default linux/amd64), and the pick follows that platform's build times."""

import json
from datetime import UTC, datetime

from gitops_promoter.adapters.registry import RegistryClient, RegistryHub
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config import parse_config
from gitops_promoter.config.schema import RegistryConfig
from gitops_promoter.domain.policy import Policy
from gitops_promoter.workflows.discover import gather_tags
from tests.support.registry import OCI_INDEX, OCI_MANIFEST, Pusher


def client(url):
    cfg = RegistryConfig(prefix=url.split("//")[1], api_url=url, rate_limit=1000)
    return RegistryClient(cfg, sleep=lambda s: None, backoff=Backoff(base=0.01))


def index(push, repo, tag, entries):
    """An OCI index of (os, architecture, variant, created) images, pushed under `tag`."""
    manifests = []
    for os_, arch, variant, when in entries:
        digest = push.image(repo, None, created=when, arch=arch, payload=f"{repo}:{tag}:{arch}:{variant}".encode())
        body = push.http.get(f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}).content
        platform = {"os": os_, "architecture": arch} | ({"variant": variant} if variant else {})
        manifests.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body), "platform": platform})
    return push.manifest(repo, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}, OCI_INDEX)


def day(n):
    return datetime(2024, 5, n, tzinfo=UTC)


def test_the_index_is_read_for_the_policy_platform(registry, unique):
    push = Pusher(registry.url)
    index(push, unique, "v1", [("linux", "amd64", None, "2024-05-01T00:00:00Z"),
                               ("linux", "arm64", "v8", "2024-05-02T00:00:00Z"),
                               ("linux", "arm", "v7", "2024-05-03T00:00:00Z")])
    c = client(registry.url)
    assert c.created(unique, "v1") == day(1)  # the default, linux/amd64
    assert c.created(unique, "v1", "linux/amd64") == day(1)
    assert c.created(unique, "v1", "linux/arm64") == day(2)  # an entry's variant: v8 is linux/arm64
    assert c.created(unique, "v1", "linux/arm/v7") == day(3)
    assert c.created(unique, "v1", "linux/arm/v6") is None  # not in the index: no time, never picked
    assert c.created(unique, "v1", "linux/riscv64") is None


def test_a_single_image_has_a_time_only_for_its_own_platform(registry, unique):
    Pusher(registry.url).image(unique, "v1", created="2024-05-04T00:00:00Z", arch="amd64")
    c = client(registry.url)
    assert c.created(unique, "v1") == day(4)
    assert c.created(unique, "v1", "linux/amd64") == day(4)
    assert c.created(unique, "v1", "linux/arm64") is None  # its config says amd64


def test_newest_build_picks_by_the_platform_build_times(registry, unique):
    """v1's arm64 image was built last, v2's amd64 one: each platform's policy picks its own newest."""
    push = Pusher(registry.url)
    index(push, unique, "v1", [("linux", "amd64", None, "2024-05-01T00:00:00Z"),
                               ("linux", "arm64", None, "2024-05-09T00:00:00Z")])
    index(push, unique, "v2", [("linux", "amd64", None, "2024-05-05T00:00:00Z"),
                               ("linux", "arm64", None, "2024-05-06T00:00:00Z")])
    host = registry.url.split("//")[1]
    config = parse_config(f"""\
version: 1
registries: [{{prefix: '{host}', api_url: '{registry.url}'}}]
repositories: [{{name: deploy, url: 'file:///unused.git'}}]
environments: [{{name: dev, mode: direct}}]
apps:
  - name: web
    image: {host}/{unique}
    repository: deploy
    policy: {{strategy: newest-build, platform: linux/arm64}}
    targets: {{dev: {{file: web.yaml, edit: {{kind: marker}}}}}}
""", source="p.yaml")
    hub = RegistryHub(config.registry_for)
    image = f"{host}/{unique}"
    arm = config.apps[0].policy
    amd = Policy.build(strategy="newest-build")
    assert arm.select(gather_tags(hub, image, arm)).name == "v1"
    assert amd.select(gather_tags(hub, image, amd)).name == "v2"
    assert json.loads(push.http.get(f"/v2/{unique}/tags/list").content)["tags"] == ["v1", "v2"]
