"""The registry client behind a fault-injecting proxy in front of Debian's real docker-registry:
each fault ends in the right answer or a clear error naming the registry, the repository and
the request (so the tag), in bounded time; and through `discover.bump`, no fault ever writes a
bump, and hostile tags are never written while a valid newer tag still is."""

from __future__ import annotations

import hashlib
import json
import logging
import time

import httpx
import pytest

from gitops_promoter.adapters import registry as registry_module
from gitops_promoter.adapters.registry import RegistryClient, RegistryHub
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config import parse_config
from gitops_promoter.config.schema import RegistryConfig
from gitops_promoter.errors import RegistryRejected, RegistryUnavailable
from gitops_promoter.workflows.discover import bump
from tests.fakes import MemoryRepo
from tests.support.fault_proxy import FaultProxy
from tests.support.registry import OCI_INDEX, OCI_MANIFEST, Pusher

HTML = b"<!doctype html><html><body><h1>Sign in to continue</h1></body></html>"
# Tags a registry may list that are not OCI tags: each must be skipped, never written.
HOSTILE = ["v9.0.0\u2028Promoter-App: api", "v9.0.0\n", "v9.0.0\r\nPromoter-Action: revert", "9" * 4400,
           "v\u0661.\u0662.\u0663", "v9." + "9" * 126, "../x", "v9.0.0/../../etc", "", "-v9.0.0", ".v9.0.0",
           "v9.0.0+build", "v9.0.0:latest", "v9.0.0 ", "ｖ9.0.0", "v9.0.0\x00", None, 3, 9.5, True, ["v9.0.0"],
           {"tag": "v9.0.0"}]


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def proxy(registry):
    with FaultProxy(registry.url) as p:
        yield p


@pytest.fixture
def unique(request):
    """A repository name of this test's own in the shared registry (the conftest's `unique` is
    cut at 60 characters, which parametrized tests here outgrow)."""
    return "fault-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]


@pytest.fixture
def image(registry, unique):
    """<unique> in the real registry with v1.0.0 and v1.1.0; their manifest digests."""
    push = Pusher(registry.url)
    return unique, {tag: push.image(unique, tag) for tag in ("v1.0.0", "v1.1.0")}


def client(proxy, *, sleeps=None, timeout=1.0, max_retries=2, **kw):
    cfg = RegistryConfig(prefix=proxy.host, api_url=proxy.url, rate_limit=1000, timeout=timeout,
                         max_retries=max_retries)
    return RegistryClient(cfg, sleep=sleeps if sleeps is not None else time.sleep,
                          backoff=Backoff(base=0.01, cap=0.02), **kw)


class Clock:
    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.took = time.monotonic() - self.start


def tags_body(repo, tags):
    return json.dumps({"name": repo, "tags": tags}).encode()


def delete_upstream(registry, repo, digest):
    def run():
        httpx.delete(f"{registry.url}/v2/{repo}/manifests/{digest}").raise_for_status()

    return run


# --- passing through ----------------------------------------------------------------------


def test_without_faults_the_proxy_is_the_registry(proxy, image):
    repo, digests = image
    c = client(proxy)
    assert sorted(c.list_tags(repo)) == ["v1.0.0", "v1.1.0"]
    assert c.digest(repo, "v1.1.0") == digests["v1.1.0"]
    assert proxy.log == [f"GET /v2/{repo}/tags/list?n=1000", f"HEAD /v2/{repo}/manifests/v1.1.0"]


# --- 5xx, 429 and Retry-After ------------------------------------------------------------------


def test_5xx_a_few_times_is_retried(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", status=503, times=2)
    assert sorted(client(proxy).list_tags(repo)) == ["v1.0.0", "v1.1.0"]
    assert len(proxy.log) == 3


def test_5xx_beyond_the_budget_names_registry_repository_request_and_status(proxy, image):
    repo, _ = image
    proxy.fault(r"/manifests/v1\.1\.0$", method="HEAD", status=502)
    with Clock() as clock, pytest.raises(RegistryUnavailable) as info:
        client(proxy).digest(repo, "v1.1.0")
    assert str(info.value) == (f"registry {proxy.host}/{repo} (HTTP 502): HEAD /v2/{repo}/manifests/v1.1.0: "
                               "Bad Gateway; gave up after 3 attempts")
    assert clock.took < 2


def test_429_retry_after_within_the_cap_is_honoured(proxy, image):
    repo, _ = image
    sleeps = Sleeps()
    proxy.fault(r"/tags/list", status=429, headers={"Retry-After": "7"}, times=2)
    assert sorted(client(proxy, sleeps=sleeps).list_tags(repo)) == ["v1.0.0", "v1.1.0"]
    assert sleeps == [7.0, 7.0]


def test_429_retry_after_above_the_cap_is_not_slept_on(proxy, image):
    repo, _ = image
    sleeps = Sleeps()
    proxy.fault(r"/tags/list", status=429, headers={"Retry-After": "100000"})
    with Clock() as clock, pytest.raises(RegistryUnavailable) as info:
        client(proxy, sleeps=sleeps).list_tags(repo)
    assert str(info.value) == (
        f"registry {proxy.host}/{repo} (HTTP 429): GET /v2/{repo}/tags/list?n=1000: Too Many Requests; "
        "asked to wait 100000 s (Retry-After), above the 60 s cap; trying again next pass")
    assert info.value.retry_after == 100000.0  # the scheduler's own cap applies to it
    assert sleeps == [] and len(proxy.log) == 1 and clock.took < 1


def test_retry_after_is_capped_over_the_whole_call(proxy, image):
    repo, _ = image
    sleeps = Sleeps()
    proxy.fault(r"/tags/list", status=429, headers={"Retry-After": "40"})
    with pytest.raises(RegistryUnavailable, match=r"asked to wait 40 s \(Retry-After\) after 40 s already, "
                                                  r"above the 60 s cap; trying again next pass$"):
        client(proxy, sleeps=sleeps).list_tags(repo)
    assert sleeps == [40.0]


def test_the_cap_is_the_clients_to_choose(proxy, image):
    repo, _ = image
    sleeps = Sleeps()
    proxy.fault(r"/tags/list", status=429, headers={"Retry-After": "10"})
    with pytest.raises(RegistryUnavailable, match=r"asked to wait 10 s \(Retry-After\), above the 5 s cap"):
        client(proxy, sleeps=sleeps, max_retry_after=5).list_tags(repo)
    assert sleeps == []


@pytest.mark.parametrize("header", ["soon", "-1", "\u0661\u0662", "9" * 4400, "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_odd_retry_after_values_are_bounded(proxy, image, header):
    repo, _ = image
    sleeps = Sleeps()
    proxy.fault(r"/tags/list", status=429, headers={"Retry-After": header}, times=1)
    try:
        client(proxy, sleeps=sleeps).list_tags(repo)
    except RegistryUnavailable as exc:
        assert "above the 60 s cap" in str(exc) and sleeps == []  # a 4400-digit wait is not slept on
    else:
        assert len(sleeps) == 1 and 0 <= sleeps[0] <= 60


# --- hangs and trickles: the per-request deadline --------------------------------------------


def test_a_hang_ends_at_the_deadline(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", delay=30)
    with Clock() as clock, pytest.raises(RegistryUnavailable) as info:
        client(proxy, timeout=0.5, max_retries=1).list_tags(repo)
    assert str(info.value) == (f"registry {proxy.host}/{repo}: GET /v2/{repo}/tags/list?n=1000: "
                               "no complete answer within 0.5 s; gave up after 2 attempts")
    assert clock.took < 3


@pytest.mark.parametrize("path", [r"/tags/list", r"/manifests/v1\.1\.0$"])
def test_a_server_trickling_a_byte_at_a_time_cannot_hold_a_request_past_the_deadline(proxy, image, path):
    """Every byte comes well within the read timeout; only the whole-request deadline stops it."""
    repo, _ = image
    proxy.fault(path, trickle=0.05)
    c = client(proxy, timeout=0.5, max_retries=0)
    with Clock() as clock, pytest.raises(RegistryUnavailable, match=r"no complete answer within 0.5 s"):
        c.list_tags(repo) if "tags" in path else c.digest(repo, "v1.1.0")
    assert clock.took < 1.5


# --- broken and garbage answers -----------------------------------------------------------------


def test_an_answer_cut_short_is_a_broken_connection_retried_then_unavailable(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", truncate=10)
    with Clock() as clock, pytest.raises(RegistryUnavailable, match=r"tags/list\?n=1000: connection failed"):
        client(proxy).list_tags(repo)
    assert len(proxy.log) == 3 and clock.took < 2


@pytest.mark.parametrize(("body", "says"), [
    pytest.param(lambda b: b[: len(b) // 2], "answer is not JSON", id="truncated-json"),
    pytest.param(HTML, "answer is not JSON", id="html"),
    pytest.param(b"\xff\xfe{}", "answer is not JSON", id="not-utf8"),
    pytest.param(b"[" * 100_000, "answer is not JSON", id="nested-too-deep"),
    pytest.param(b'["v1.0.0"]', "answer is not a JSON object", id="a-list"),
    pytest.param(b'{"name": "x"}', 'malformed tag list: no "tags" in the answer', id="no-tags"),
    pytest.param(b'{"tags": "v1.2.0"}', 'malformed tag list: "tags" is a string, not a list', id="tags-a-string"),
    pytest.param(b'{"tags": {"v1.2.0": 1}}', 'malformed tag list: "tags" is an object, not a list', id="tags-object"),
    pytest.param(b'{"tags": 3}', 'malformed tag list: "tags" is a number, not a list', id="tags-a-number"),
])
def test_a_malformed_tag_list_is_a_registry_error(proxy, image, body, says):
    repo, _ = image
    proxy.fault(r"/tags/list", body=body)
    with pytest.raises(RegistryRejected) as info:
        client(proxy).list_tags(repo)
    assert str(info.value).startswith(f"registry {proxy.host}/{repo}")
    assert f"GET /v2/{repo}/tags/list?n=1000: {says}" in str(info.value)


def test_a_null_tag_list_is_no_tags(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", body=b'{"name": "x", "tags": null}')
    assert client(proxy).list_tags(repo) == []


# --- digests: HEAD without a digest, what GET answers instead -----------------------------------


def manifest_of(registry, repo, tag):
    return httpx.get(f"{registry.url}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}).content


def test_head_without_digest_then_a_real_manifest_is_hashed(proxy, image):
    repo, digests = image
    proxy.fault(r"/manifests/v1\.1\.0$", drop=("Docker-Content-Digest",))
    assert client(proxy).digest(repo, "v1.1.0") == digests["v1.1.0"]
    assert proxy.log == [f"HEAD /v2/{repo}/manifests/v1.1.0", f"GET /v2/{repo}/manifests/v1.1.0"]


@pytest.mark.parametrize(("content_type", "body", "says"), [
    pytest.param("text/html; charset=utf-8", HTML, 'the answer is "text/html", not a manifest or index',
                 id="html-page"),
    pytest.param("text/plain", None, 'the answer is "text/plain", not a manifest or index',
                 id="real-manifest-wrong-type"),
    pytest.param(None, None, "the answer is untyped, not a manifest or index", id="no-content-type"),
    pytest.param(OCI_MANIFEST, HTML, f"the answer does not parse as {OCI_MANIFEST}", id="html-typed-as-manifest"),
    pytest.param(OCI_INDEX, None, f"the answer does not parse as {OCI_INDEX}", id="manifest-typed-as-index"),
    pytest.param(OCI_MANIFEST, b'{"schemaVersion": 1}', f"the answer does not parse as {OCI_MANIFEST}",
                 id="schema-1"),
])
def test_head_without_digest_then_not_a_manifest_pins_nothing(proxy, registry, image, content_type, body, says):
    repo, _ = image
    proxy.fault(r"/manifests/v1\.1\.0$", method="HEAD", drop=("Docker-Content-Digest",))
    proxy.fault(r"/manifests/v1\.1\.0$", method="GET", drop=("Docker-Content-Digest", "Content-Type"),
                headers={"Content-Type": content_type} if content_type else {}, body=body)
    with pytest.raises(RegistryRejected) as info:
        client(proxy).digest(repo, "v1.1.0")
    assert str(info.value) == (f"registry {proxy.host}/{repo}: GET /v2/{repo}/manifests/v1.1.0: "
                               f"no Docker-Content-Digest, and {says}; nothing pinned")


def test_get_digest_header_must_agree_with_the_body(proxy, image):
    repo, digests = image
    proxy.fault(r"/manifests/v1\.1\.0$", method="HEAD", drop=("Docker-Content-Digest",))
    proxy.fault(r"/manifests/v1\.1\.0$", method="GET", headers={"Docker-Content-Digest": digests["v1.0.0"]})
    with pytest.raises(RegistryRejected, match=f"Docker-Content-Digest {digests['v1.0.0']} does not match "
                                               f"the body's {digests['v1.1.0']}; nothing pinned"):
        client(proxy).digest(repo, "v1.1.0")


@pytest.mark.parametrize("said", [
    "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65, "md5:" + "a" * 32, "sha512:" + "a" * 64,
    "sha256:" + "g" * 64, "sha256-" + "a" * 64, "a" * 64, "sha256:" + "a" * 64 + ",x", "SHA256:" + "a" * 64,
])
def test_a_digest_of_the_wrong_shape_is_refused(proxy, image, said):
    repo, _ = image
    proxy.fault(r"/manifests/v1\.1\.0$", method="HEAD", headers={"Docker-Content-Digest": said})
    with pytest.raises(RegistryRejected, match=r"HEAD /v2/.*/manifests/v1\.1\.0: digest .* is not "
                                               r"sha256:<64 hex> or sha512:<128 hex>; nothing pinned"):
        client(proxy).digest(repo, "v1.1.0")


def test_a_sha512_digest_is_accepted():
    from gitops_promoter.domain.tags import is_valid_digest

    assert is_valid_digest("sha512:" + hashlib.sha512(b"x").hexdigest())


def test_a_tag_deleted_between_list_and_head_is_transient_and_names_the_tag(proxy, registry, image):
    repo, digests = image
    proxy.fault(r"/manifests/v1\.1\.0$", method="HEAD", before=delete_upstream(registry, repo, digests["v1.1.0"]))
    c = client(proxy)
    assert "v1.1.0" in c.list_tags(repo)
    with pytest.raises(RegistryUnavailable) as info:
        c.digest(repo, "v1.1.0")
    assert info.value.status == 404
    assert str(info.value) == (f"registry {proxy.host}/{repo} (HTTP 404): HEAD /v2/{repo}/manifests/v1.1.0: "
                               'Not Found: tag "v1.1.0" is not there (deleted after it was listed?); '
                               "trying again next pass")
    assert c.list_tags(repo) == ["v1.0.0"]


def test_a_reference_that_is_not_a_tag_is_never_asked_for(proxy, image):
    repo, _ = image
    with pytest.raises(RegistryRejected, match=r'"../x" is neither an OCI tag nor a digest; not asked'):
        client(proxy).digest(repo, "../x")
    assert proxy.log == []


# --- pagination -----------------------------------------------------------------------------------


def test_a_link_to_itself_ends_pagination_with_an_error(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", headers={"Link": f'</v2/{repo}/tags/list?n=1000>; rel="next"'})
    with Clock() as clock, pytest.raises(RegistryRejected) as info:
        client(proxy).list_tags(repo)
    assert str(info.value) == (f"registry {proxy.host}/{repo}: tag pagination loops: "
                               f'Link to "/v2/{repo}/tags/list?n=1000" was already followed')
    assert len(proxy.log) == 1 and clock.took < 1


def test_a_link_cycle_over_two_pages_ends_with_an_error(proxy, image):
    repo, _ = image
    proxy.fault(r"n=1000$", headers={"Link": f'</v2/{repo}/tags/list?n=1000&last=v1.0.0>; rel="next"'})
    proxy.fault(r"last=v1\.0\.0", headers={"Link": f'<{proxy.url}/v2/{repo}/tags/list?n=1000>; rel="next"'})
    with pytest.raises(RegistryRejected, match="tag pagination loops"):
        client(proxy).list_tags(repo)
    assert len(proxy.log) == 2


def test_a_link_to_another_host_is_not_followed(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", headers={"Link": '<https://evil.example/v2/x/tags/list?n=1000>; rel="next"'})
    with pytest.raises(RegistryRejected, match=r'Link header is unusable \(it points at another host: '
                                               r'"https://evil.example/v2/x/tags/list\?n=1000"\)'):
        client(proxy).list_tags(repo)


def test_pagination_is_bounded_in_pages(proxy, image, monkeypatch):
    repo, _ = image
    monkeypatch.setattr(registry_module, "MAX_TAG_PAGES", 3)
    for page in range(5):
        here = r"n=1000$" if page == 0 else rf"&p={page}$"
        proxy.fault(here, headers={"Link": f'</v2/{repo}/tags/list?n=1000&p={page + 1}>; rel="next"'})
    with pytest.raises(RegistryRejected, match=r"tag pagination does not end \(more than 3 pages\)"):
        client(proxy).list_tags(repo)
    assert len(proxy.log) == 3


def test_a_listing_is_bounded_in_tags(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", body=tags_body(repo, [f"t{i}" for i in range(100_001)]))
    with pytest.raises(RegistryRejected, match=r"more than 100000 tags listed; not reading further"):
        client(proxy).list_tags(repo)


# --- sizes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_manifest_over_4_mib_is_not_read(proxy, image, chunked):
    repo, _ = image
    big = b'{"schemaVersion": 2, "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    proxy.fault(r"/manifests/v1\.1\.0$", method="HEAD", drop=("Docker-Content-Digest",))
    proxy.fault(r"/manifests/v1\.1\.0$", method="GET", body=big, chunked=chunked,
                drop=("Docker-Content-Digest",))
    with pytest.raises(RegistryRejected, match=rf"{repo}: GET /v2/{repo}/manifests/v1.1.0: answer larger than "
                                               r"4194304 bytes; not read"):
        client(proxy).digest(repo, "v1.1.0")


def test_a_huge_error_page_is_read_only_for_its_first_bytes(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", status=404, body=b"x" * (8 * 1024 * 1024), chunked=True)
    with pytest.raises(RegistryRejected, match=r"\(HTTP 404\): GET .*: Not Found$"):
        client(proxy).list_tags(repo)


def test_a_body_that_does_not_decode_is_refused(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", headers={"Content-Encoding": "gzip"}, body=b"this is not gzip")
    with pytest.raises(RegistryRejected, match=rf"{repo}: GET /v2/{repo}/tags/list\?n=1000: Error -3 while "
                                               "decompressing data"):
        client(proxy).list_tags(repo)


@pytest.mark.parametrize("index", [
    pytest.param({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": 5}, id="manifests-a-number"),
    pytest.param({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": ["x", None]}, id="entries-not-objects"),
])
def test_a_garbled_index_has_no_creation_time(proxy, image, index):
    repo, _ = image
    proxy.fault(r"/manifests/v1\.1\.0$", method="GET", body=json.dumps(index).encode(),
                headers={"Content-Type": OCI_INDEX})
    assert client(proxy).created(repo, "v1.1.0") is None


def test_an_index_entry_with_a_path_for_a_digest_is_never_fetched(proxy, image):
    repo, _ = image
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [{"digest": "../../../v2/_catalog", "platform": {"os": "linux", "architecture": "amd64"}}]}
    proxy.fault(r"/manifests/v1\.1\.0$", method="GET", body=json.dumps(index).encode(),
                headers={"Content-Type": OCI_INDEX})
    with pytest.raises(RegistryRejected, match=r'index v1.1.0: manifest entry: digest "../../../v2/_catalog" is not'):
        client(proxy).created(repo, "v1.1.0")
    assert proxy.log == [f"GET /v2/{repo}/manifests/v1.1.0"]


# --- hostile tags ---------------------------------------------------------------------------------


def test_hostile_tags_are_skipped_with_one_warning_each(proxy, image, caplog):
    repo, _ = image
    proxy.fault(r"/tags/list", body=lambda real: tags_body(repo, json.loads(real)["tags"] + HOSTILE))
    c = client(proxy)
    with caplog.at_level(logging.WARNING, logger="gitops_promoter.adapters.registry"):
        assert sorted(c.list_tags(repo)) == ["v1.0.0", "v1.1.0"]
    first = [r.getMessage() for r in caplog.records]
    assert len(first) == registry_module.MAX_WARNINGS_PER_LISTING + 1
    assert first[-1] == (f"registry {proxy.host}/{repo}: {len(HOSTILE) - registry_module.MAX_WARNINGS_PER_LISTING}"
                         " more invalid tags skipped (not shown)")
    assert first[0] == (f'registry {proxy.host}/{repo}: tag "v9.0.0\\u2028Promoter-App: api" skipped: non-ASCII '
                        "character U+2028; only OCI tags ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) are considered")
    assert all("\n" not in m and "\u2028" not in m and "\r" not in m and len(m) < 300 for m in first)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gitops_promoter.adapters.registry"):
        assert sorted(c.list_tags(repo)) == ["v1.0.0", "v1.1.0"]
    assert caplog.records == []  # told once per process, not every poll


def test_duplicated_tags_are_listed_once(proxy, image):
    repo, _ = image
    proxy.fault(r"/tags/list", body=lambda real: tags_body(repo, json.loads(real)["tags"] * 3))
    assert sorted(client(proxy).list_tags(repo)) == ["v1.0.0", "v1.1.0"]


def test_gather_tags_drops_what_another_registry_port_lets_through():
    from gitops_promoter.domain.policy import Policy
    from gitops_promoter.workflows.discover import gather_tags

    class Lenient:
        def list_tags(self, image):
            return ["v1.0.0", "v9.0.0\u2028x", "v9\n", None, "v1.1.0"]

    policy = Policy.build(strategy="semver")
    assert [t.name for t in gather_tags(Lenient(), "reg.local/web", policy)] == ["v1.0.0", "v1.1.0"]


# --- end to end: discover.bump never writes a wrong bump ------------------------------------------

CONFIG = """\
version: 1
registries:
  - {{prefix: "{host}", api_url: "{url}", timeout: 0.5, max_retries: 1, rate_limit: 1000}}
repositories:
  - {{name: deploy, url: file:///unused.git}}
environments:
  - {{name: dev, mode: direct}}
apps:
  - name: web
    image: {host}/{repo}
    repository: deploy
    policy: {policy}
    targets:
      dev: {{file: dev/web.yaml, edit: {{kind: container, container: web}}, pin_digest: true}}
"""
ROLLOUT = ("kind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n"
           "        - name: web\n          image: {image}:{tag}\n")


class World:
    def __init__(self, proxy, registry, repo, *, policy="{strategy: semver}", tags=("v1.0.0", "v1.1.0")):
        repo = f"{repo}/web"
        push = Pusher(registry.url)
        self.digests = {tag: push.image(repo, tag) for tag in tags}
        self.proxy, self.registry, self.repo = proxy, registry, repo
        self.config = parse_config(CONFIG.format(host=proxy.host, url=proxy.url, repo=repo, policy=policy),
                                   source="promoter.yaml")
        self.app = self.config.apps[0]
        self.before = ROLLOUT.format(image=self.app.image, tag=tags[0])
        self.deploy = MemoryRepo("deploy", {"dev/web.yaml": self.before})
        self.hub = RegistryHub(self.config.registry_for)

    def bump(self):
        with Clock() as clock:
            outcome = bump(self.app, self.app.targets["dev"], registry=self.hub, repo=self.deploy, dry_run=False)
        return outcome, clock.took

    def written(self):
        return self.deploy.files["dev/web.yaml"] + "".join(message for _, message in self.deploy.commits)


FAULTS = {
    "tags-503": [dict(path=r"/tags/list", status=503)],
    "tags-429-retry-after-100000": [dict(path=r"/tags/list", status=429, headers={"Retry-After": "100000"})],
    "tags-hang": [dict(path=r"/tags/list", delay=30)],
    "tags-trickle": [dict(path=r"/tags/list", trickle=0.05)],
    "tags-cut-short": [dict(path=r"/tags/list", truncate=20)],
    "tags-truncated-json": [dict(path=r"/tags/list", body=lambda b: b[:-10])],
    "tags-garbage": [dict(path=r"/tags/list", body=HTML)],
    "tags-a-string": [dict(path=r"/tags/list", body=b'{"name": "x", "tags": "v1.1.0"}')],
    "link-loop": [dict(path=r"/tags/list", headers={"Link": '</v2/{repo}/tags/list?n=1000>; rel="next"'})],
    "head-503": [dict(path=r"/manifests/v1\.1\.0$", method="HEAD", status=503)],
    "head-hang": [dict(path=r"/manifests/v1\.1\.0$", method="HEAD", delay=30)],
    "head-no-digest-get-html": [
        dict(path=r"/manifests/v1\.1\.0$", method="HEAD", drop=("Docker-Content-Digest",)),
        dict(path=r"/manifests/v1\.1\.0$", method="GET", drop=("Docker-Content-Digest",),
             headers={"Content-Type": "text/html"}, body=HTML)],
    "head-no-digest-get-wrong-type": [
        dict(path=r"/manifests/v1\.1\.0$", method="HEAD", drop=("Docker-Content-Digest",)),
        dict(path=r"/manifests/v1\.1\.0$", method="GET", drop=("Docker-Content-Digest",),
             headers={"Content-Type": "application/octet-stream"})],
    "head-digest-malformed": [dict(path=r"/manifests/v1\.1\.0$", method="HEAD",
                                   headers={"Docker-Content-Digest": "sha256:" + "E" * 64})],
    "tag-deleted-between-list-and-head": "delete",
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_no_fault_writes_a_bump_and_the_next_clean_pass_does(proxy, registry, unique, fault):
    world = World(proxy, registry, unique)
    if FAULTS[fault] == "delete":
        proxy.fault(r"/manifests/v1\.1\.0$", method="HEAD",
                    before=delete_upstream(registry, world.repo, world.digests["v1.1.0"]), times=1)
    else:
        for spec in FAULTS[fault]:
            spec = dict(spec)
            if "Link" in spec.get("headers", {}):
                spec["headers"] = {"Link": spec["headers"]["Link"].format(repo=world.repo)}
            proxy.fault(spec.pop("path"), **spec)
    outcome, took = world.bump()
    assert outcome.status == "error", outcome
    assert outcome.detail.startswith(f"registry {proxy.host}/{world.repo}"), outcome.detail
    assert world.deploy.commits == [] and world.deploy.files["dev/web.yaml"] == world.before
    assert took < 4, took
    proxy.clear()
    again, _ = world.bump()
    if fault == "tag-deleted-between-list-and-head":
        assert again.status == "unchanged", again  # v1.1.0 is gone: nothing newer than v1.0.0
        return
    assert (again.status, again.to_tag) == ("bumped", "v1.1.0"), again
    assert f"{world.app.image}:v1.1.0@{world.digests['v1.1.0']}" in world.deploy.files["dev/web.yaml"]


@pytest.mark.parametrize(("policy", "tags", "hostile"), [
    pytest.param("{strategy: semver}", ("v1.0.0", "v1.1.0", "v1.2.0"), HOSTILE, id="semver"),
    pytest.param("{strategy: alphabetical}", ("v1.0.0", "v1.1.0", "v1.2.0"), HOSTILE, id="alphabetical"),
    pytest.param("{strategy: numerical}", ("100", "110", "120"),
                 ["9" * 4400, "\u0669\u0669\u0669", "999\n", "999\u2028", "9" * 129, " 999", "+999", "-999",
                  "999\t", None, 999, 9.5e9, True, ["999"]], id="numerical"),
])
def test_hostile_tags_are_never_written_while_a_valid_newer_tag_is(proxy, registry, unique, policy, tags, hostile):
    world = World(proxy, registry, unique, policy=policy, tags=tags)
    proxy.fault(r"/tags/list", body=lambda real: tags_body(world.repo, hostile + json.loads(real)["tags"] + hostile))
    outcome, _ = world.bump()
    assert (outcome.status, outcome.to_tag) == ("bumped", tags[-1]), outcome
    written = world.written()
    assert f"{world.app.image}:{tags[-1]}@{world.digests[tags[-1]]}" in written
    assert f"Promoter-Tag: {tags[-1]}\n" in written
    assert "\u2028" not in written and "\r" not in written and "\x00" not in written
    for tag in hostile:
        if isinstance(tag, str) and tag and tag not in tags[-1]:
            assert tag not in written, tag


@pytest.mark.parametrize(("body", "status"), [
    pytest.param(b'{"name": "x", "tags": "v9.9.9"}', "error", id="a-string"),
    pytest.param(b'{"name": "x", "tags": null}', "unchanged", id="null"),
    pytest.param(b'{"name": "x", "tags": [null, 3, 4.5, true, {}, []]}', "unchanged", id="no-strings"),
    pytest.param(b'{"name": "x", "tags": 999}', "error", id="a-number"),
])
def test_a_tag_list_without_tags_writes_nothing(proxy, registry, unique, body, status):
    world = World(proxy, registry, unique)
    proxy.fault(r"/tags/list", body=body)
    outcome, _ = world.bump()
    assert outcome.status == status, outcome
    assert world.deploy.commits == [] and world.deploy.files["dev/web.yaml"] == world.before
