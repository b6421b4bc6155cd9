"""The registry client over https against Debian's real docker-registry serving TLS with a
self-signed certificate: trusted only through `ca_file`, never silently; and a registry reached
over http:// never builds a TLS context (a one-bump `run --once` saved ~50 ms by it)."""

import subprocess

import pytest

from gitops_promoter.adapters import registry as registry_module
from gitops_promoter.adapters.registry import RegistryClient
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config.schema import RegistryConfig
from gitops_promoter.errors import RegistryError, RegistryRejected
from tests.support.registry import Pusher, RegistryServer


@pytest.fixture(scope="module")
def tls_registry():
    server = RegistryServer(tls=True).start()
    try:
        yield server
    finally:
        server.stop()


def client(url, **kw):
    cfg = RegistryConfig(prefix=url.split("//")[1], api_url=url, rate_limit=1000, max_retries=1, **kw)
    return RegistryClient(cfg, sleep=lambda s: None, backoff=Backoff(base=0.001))


def test_https_registry_is_trusted_through_its_ca_file(tls_registry, unique):
    Pusher(tls_registry.url, ca_file=tls_registry.ca_file).image(unique, "v1.0.0")
    c = client(tls_registry.url, ca_file=str(tls_registry.ca_file))
    assert c.list_tags(unique) == ["v1.0.0"]
    c.close()


def test_https_registry_with_an_unknown_certificate_is_an_error_not_tags(tls_registry, unique):
    Pusher(tls_registry.url, ca_file=tls_registry.ca_file).image(unique, "v1.0.0")
    c = client(tls_registry.url)  # the system's CAs: the self-signed certificate is not among them
    with pytest.raises(RegistryError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        c.list_tags(unique)
    c.close()


def test_a_ca_directory_is_taken_as_httpx_took_it(tls_registry, tmp_path, unique):
    """`ca_file` naming a directory of hashed certificates (OpenSSL's capath, c_rehash layout)."""
    Pusher(tls_registry.url, ca_file=tls_registry.ca_file).image(unique, "v1.0.0")
    folder = tmp_path / "cas"
    folder.mkdir()
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(tls_registry.ca_file)],
                            capture_output=True, text=True, check=True).stdout.strip()
    (folder / f"{digest}.0").write_bytes(tls_registry.ca_file.read_bytes())
    assert client(tls_registry.url, ca_file=str(folder)).list_tags(unique) == ["v1.0.0"]


def test_a_missing_ca_file_is_named(tls_registry, tmp_path, unique):
    missing = tmp_path / "nowhere.pem"
    c = client(tls_registry.url, ca_file=str(missing))
    with pytest.raises(RegistryRejected, match=f"ca_file {missing}: cannot be used"):
        c.list_tags(unique)
    c.close()


def test_a_rotated_ca_file_is_read_again(tls_registry, tmp_path, unique):
    Pusher(tls_registry.url, ca_file=tls_registry.ca_file).image(unique, "v1.0.0")
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    with pytest.raises(RegistryRejected, match="ca_file"):
        client(tls_registry.url, ca_file=str(ca)).list_tags(unique)
    ca.write_bytes(tls_registry.ca_file.read_bytes())
    assert client(tls_registry.url, ca_file=str(ca)).list_tags(unique) == ["v1.0.0"]


def test_plain_http_registry_builds_no_tls_context(registry, unique, monkeypatch):
    built = []
    real = registry_module._tls_context_at

    def counting(verify, stamp):
        built.append(verify)
        return real(verify, stamp)

    monkeypatch.setattr(registry_module, "_tls_context_at", counting)
    Pusher(registry.url).image(unique, "v1.0.0")
    c = client(registry.url)
    assert c.list_tags(unique) == ["v1.0.0"]
    assert built == []
    c.close()
