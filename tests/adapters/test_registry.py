"""The registry client against Debian's real docker-registry, and against a small
distribution-API server for bearer tokens, pagination, 429 and 5xx."""

from datetime import UTC, datetime

import pytest

from gitops_promoter.adapters.registry import RegistryClient, RegistryHub
from gitops_promoter.adapters.retry import Backoff, RateLimiter, parse_retry_after
from gitops_promoter.config.schema import RegistryConfig, SecretRef
from gitops_promoter.errors import RegistryRejected, RegistryUnavailable
from tests.support.fake_registry import Behaviour, FakeRegistry
from tests.support.net import free_port
from tests.support.registry import Pusher


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def client(url, *, sleeps=None, **kw):
    cfg = RegistryConfig(prefix=url.split("//")[1], api_url=url, rate_limit=1000, **kw)
    return RegistryClient(cfg, sleep=sleeps if sleeps is not None else Sleeps(), backoff=Backoff(base=0.01))


def secret(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    return SecretRef("env", name, f"test: {name}")


# --- the real registry ------------------------------------------------------------


def test_real_registry_tags_digests_and_created(registry, unique):
    push = Pusher(registry.url)
    d1 = push.image(unique, "v1.0.0", created="2024-01-01T00:00:00Z")
    d2 = push.image(unique, "v1.1.0", created="2024-03-01T12:30:00.123456789Z", docker=True)
    c = client(registry.url)
    c.ping()
    assert sorted(c.list_tags(unique)) == ["v1.0.0", "v1.1.0"]
    assert c.digest(unique, "v1.0.0") == d1
    assert c.digest(unique, "v1.1.0") == d2
    assert c.created(unique, "v1.1.0") == datetime(2024, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)
    assert c.created_cached(unique, "v1.0.0") == datetime(2024, 1, 1, tzinfo=UTC)
    before = c.requests
    assert c.created_cached(unique, "v1.0.0") == datetime(2024, 1, 1, tzinfo=UTC)
    assert c.requests == before  # remembered per tag


def test_real_registry_index_uses_linux_amd64(registry, unique):
    push = Pusher(registry.url)
    digest = push.index(unique, "v2.0.0", created={"arm64": "2024-05-02T00:00:00Z", "amd64": "2024-05-01T00:00:00Z"})
    c = client(registry.url)
    assert c.digest(unique, "v2.0.0") == digest
    assert c.created(unique, "v2.0.0") == datetime(2024, 5, 1, tzinfo=UTC)
    assert c.list_tags(unique) == ["v2.0.0"]


def test_real_registry_unknown_repository_names_registry_and_status(registry):
    with pytest.raises(RegistryRejected) as info:
        client(registry.url).list_tags("nope/missing")
    assert str(info.value) == (f"registry {registry.host}/nope/missing (HTTP 404): "
                               "GET /v2/nope/missing/tags/list?n=1000: "
                               "NAME_UNKNOWN repository name not known to registry")


def test_real_registry_basic_auth(auth_registry, unique, monkeypatch):
    Pusher(auth_registry.url, auth=("alice", "wonderland")).image(unique, "1.0.0")
    with pytest.raises(RegistryRejected, match="asks for basic auth"):
        client(auth_registry.url).list_tags(unique)
    good = client(auth_registry.url, username=secret(monkeypatch, "RU", "alice"),
                  password=secret(monkeypatch, "RP", "wonderland"))
    assert good.list_tags(unique) == ["1.0.0"]
    bad = client(auth_registry.url, username=secret(monkeypatch, "RU2", "alice"),
                 password=secret(monkeypatch, "RP2", "wrong"))
    with pytest.raises(RegistryRejected, match=r"\(HTTP 401\)"):
        bad.list_tags(unique)


def test_unreachable_registry_is_retried_then_unavailable():
    sleeps = Sleeps()
    c = client(f"http://127.0.0.1:{free_port()}", sleeps=sleeps, max_retries=3)
    with pytest.raises(RegistryUnavailable, match="cannot connect.*gave up after 4 attempts"):
        c.list_tags("web")
    assert len(sleeps) == 3


# --- the stand-in for bearer tokens, pagination, 429, 5xx -----------------------------


def test_bearer_token_is_fetched_once_per_scope_and_sent_up_front(monkeypatch):
    b = Behaviour(tags={"acme/web": ["v1"]}, bearer=True, token_user=("bob", "pw"))
    with FakeRegistry(b) as fake:
        c = client(fake.url, username=secret(monkeypatch, "BU", "bob"), password=secret(monkeypatch, "BP", "pw"))
        assert c.list_tags("acme/web") == ["v1"]
        assert c.list_tags("acme/web") == ["v1"]
        assert b.tokens_issued == 1
        # First call: 401 challenge, then the token; the second goes straight through.
        assert [line for line in b.log if "tags/list" in line] == ["GET /v2/acme/web/tags/list?n=1000"] * 3


def test_bearer_token_service_rejects_bad_credentials(monkeypatch):
    b = Behaviour(tags={"acme/web": ["v1"]}, bearer=True, token_user=("bob", "pw"))
    with FakeRegistry(b) as fake:
        c = client(fake.url, username=secret(monkeypatch, "BU", "bob"), password=secret(monkeypatch, "BP", "no"))
        with pytest.raises(RegistryRejected, match=r"HTTP 401.*token service"):
            c.list_tags("acme/web")


def test_anonymous_bearer_token():
    b = Behaviour(tags={"library/nginx": ["1.25"]}, bearer=True)
    with FakeRegistry(b) as fake:
        assert client(fake.url).list_tags("library/nginx") == ["1.25"]


def test_pagination_follows_link_headers():
    tags = [f"v{i}" for i in range(2500)]
    b = Behaviour(tags={"web": tags}, page_size=100)
    with FakeRegistry(b) as fake:
        c = client(fake.url)
        assert sorted(c.list_tags("web")) == sorted(tags)
        assert len([line for line in b.log if "tags/list" in line]) == 25


def test_429_honours_retry_after():
    sleeps = Sleeps()
    b = Behaviour(tags={"web": ["v1"]}, fail_429=2, retry_after="3")
    with FakeRegistry(b) as fake:
        assert client(fake.url, sleeps=sleeps).list_tags("web") == ["v1"]
    assert sleeps == [3.0, 3.0]


def test_5xx_is_retried_with_backoff_then_succeeds():
    sleeps = Sleeps()
    b = Behaviour(tags={"web": ["v1"]}, fail_5xx=3)
    with FakeRegistry(b) as fake:
        assert client(fake.url, sleeps=sleeps).list_tags("web") == ["v1"]
    assert len(sleeps) == 3 and all(s > 0 for s in sleeps)


def test_5xx_beyond_the_budget_is_unavailable_and_names_the_status():
    b = Behaviour(tags={"web": ["v1"]}, fail_5xx=10)
    with FakeRegistry(b) as fake, pytest.raises(RegistryUnavailable) as info:
        client(fake.url, max_retries=2).list_tags("web")
    assert "(HTTP 503)" in str(info.value) and "/web" in str(info.value)
    assert info.value.status == 503


def test_head_without_digest_header_falls_back_to_hashing_the_manifest():
    body = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
            b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:' + b"a" * 64
            + b'","size":2},"layers":[]}')
    import hashlib

    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    b = Behaviour(manifests={("web", "v1"): ("application/vnd.oci.image.manifest.v1+json", body, "ignored")},
                  head_without_digest=True)
    with FakeRegistry(b) as fake:
        assert client(fake.url).digest("web", "v1") == digest


def test_hub_chooses_the_registry_by_prefix():
    b = Behaviour(tags={"acme/web": ["v1", "v2"]})
    with FakeRegistry(b) as fake:
        host = fake.url.split("//")[1]
        cfg = RegistryConfig(prefix=host, api_url=fake.url)
        hub = RegistryHub(lambda image: cfg)
        assert hub.list_tags(f"{host}/acme/web") == ["v1", "v2"]


# --- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    ("120", 120.0), ("100000", 100000.0), ("9" * 4400, 1e9), ("١٢٠", None), (None, None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
])
def test_parse_retry_after(header, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now=lambda: now) == expected


def test_rate_limiter_spaces_requests():
    t = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        t[0] += s

    limiter = RateLimiter(2, clock=lambda: t[0], sleep=sleep)
    for _ in range(6):
        limiter.acquire()
    # A burst of 2, then one request every half second.
    assert slept == [0.5, 0.5, 0.5, 0.5]
