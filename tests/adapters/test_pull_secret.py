"""Registry credentials from a Kubernetes image pull secret (kubernetes.io/dockerconfigjson), read as the
kubelet reads it (kubernetes pkg/credentialprovider/config.go and keyring.go); against Debian's real
docker-registry with htpasswd basic auth."""

import base64
import json

import pytest

from gitops_promoter.adapters.registry import RegistryClient
from gitops_promoter.adapters.registry_auth import PullSecretError, pull_secret_credentials
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config.schema import RegistryConfig, SecretRef
from gitops_promoter.errors import RegistryRejected
from tests.support.registry import Pusher


def b64(text: str, *, pad: bool = True) -> str:
    out = base64.b64encode(text.encode()).decode()
    return out if pad else out.rstrip("=")


def creds(auths, *, host="ghcr.io", repository="acme/web"):
    return pull_secret_credentials(json.dumps({"auths": auths}), host=host, repository=repository, source="f")


@pytest.mark.parametrize(("auths", "host", "repository", "expected"), [
    pytest.param({"ghcr.io": {"auth": b64("alice:s3cret")}}, "ghcr.io", "acme/web", ("alice", "s3cret"),
                 id="auth-base64"),
    pytest.param({"ghcr.io": {"auth": b64("al:ce", pad=False)}}, "ghcr.io", "acme/web", ("al", "ce"),
                 id="auth-unpadded"),
    pytest.param({"ghcr.io": {"auth": b64("bot:pass:with:colons")}}, "ghcr.io", "a/b", ("bot", "pass:with:colons"),
                 id="split-at-the-first-colon"),
    pytest.param({"ghcr.io": {"username": "u", "password": "p", "email": "u@x"}}, "ghcr.io", "a/b", ("u", "p"),
                 id="username-password"),
    pytest.param({"ghcr.io": {"username": "u", "password": "p", "auth": b64("a:b")}}, "ghcr.io", "a/b", ("a", "b"),
                 id="auth-wins"),
    pytest.param({"https://ghcr.io/": {"auth": b64("a:b")}}, "ghcr.io", "a/b", ("a", "b"), id="scheme-and-slash"),
    pytest.param({"https://index.docker.io/v1/": {"auth": b64("hub:pw")}}, "docker.io", "library/nginx",
                 ("hub", "pw"), id="docker-hub-legacy-key"),
    pytest.param({"registry-1.docker.io": {"auth": b64("hub:pw")}}, "docker.io", "x/y", ("hub", "pw"),
                 id="docker-hub-names"),
    pytest.param({"*.azurecr.io": {"auth": b64("az:pw")}}, "acme.azurecr.io", "web", ("az", "pw"), id="glob"),
    pytest.param({"127.0.0.1:5000": {"auth": b64("l:p")}}, "127.0.0.1:5000", "web", ("l", "p"), id="with-port"),
    pytest.param({"ghcr.io": {"auth": b64("any:1")}, "ghcr.io/acme": {"auth": b64("acme:2")}}, "ghcr.io",
                 "acme/web", ("acme", "2"), id="the-most-specific-key"),
    pytest.param({"ghcr.io/other": {"auth": b64("o:1")}}, "ghcr.io", "acme/web", None, id="another-path"),
    pytest.param({"quay.io": {"auth": b64("q:1")}}, "ghcr.io", "acme/web", None, id="another-registry"),
    pytest.param({"127.0.0.1:5001": {"auth": b64("l:p")}}, "127.0.0.1:5000", "web", None, id="another-port"),
    pytest.param({"*.azurecr.io": {"auth": b64("az:pw")}}, "azurecr.io", "web", None, id="glob-is-one-label"),
    pytest.param({}, "ghcr.io", "acme/web", None, id="empty-auths"),
])
def test_credentials_for_a_registry(auths, host, repository, expected):
    assert creds(auths, host=host, repository=repository) == expected


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("{not json", r"^f: not JSON \(", id="not-json"),
    pytest.param('{"ghcr.io": {"auth": "x"}}', r'^f: no "auths" map; expected a kubernetes.io/dockerconfigjson',
                 id="legacy-dockercfg-or-other"),
    pytest.param('{"auths": ["ghcr.io"]}', r'^f: no "auths" map', id="auths-not-a-map"),
    pytest.param('{"auths": {"ghcr.io": "token"}}', r'^f: auths\["ghcr.io"\]: must be a map', id="entry-not-a-map"),
    pytest.param('{"auths": {"ghcr.io": {"auth": "***"}}}', r'^f: auths\["ghcr.io"\]\.auth: not base64',
                 id="auth-not-base64"),
    pytest.param('{"auths": {"ghcr.io": {"auth": "' + b64("nocolon") + '"}}}',
                 r'^f: auths\["ghcr.io"\]\.auth: decodes to no user:password', id="auth-without-colon"),
    pytest.param('{"auths": {"ghcr.io": {"auth": 5}}}', r'^f: auths\["ghcr.io"\]\.auth: must be a string',
                 id="auth-not-a-string"),
    pytest.param('{"auths": {"ghcr.io": {"email": "a@b"}}}',
                 r'^f: auths\["ghcr.io"\]: has neither auth nor username and password', id="nothing"),
    pytest.param('{"auths": {"ghcr.io": {"identitytoken": "t"}}}',
                 r'^f: auths\["ghcr.io"\]: identitytoken / registrytoken are not supported', id="identitytoken"),
])
def test_a_bad_file_names_the_file_and_the_key(text, message):
    with pytest.raises(PullSecretError, match=message):
        pull_secret_credentials(text, host="ghcr.io", repository="acme/web", source="f")


def test_a_broken_entry_of_another_registry_does_not_matter():
    text = json.dumps({"auths": {"quay.io": {"auth": "***"}, "ghcr.io": {"auth": b64("a:b")}}})
    assert pull_secret_credentials(text, host="ghcr.io", repository="acme/web", source="f") == ("a", "b")


def client(url, path, *, prefix=None):
    ref = SecretRef("file", str(path), "promoter.yaml:7:20: registries[0].auth.pull_secret")
    cfg = RegistryConfig(prefix=prefix or url.split("//")[1], api_url=url, rate_limit=1000, pull_secret=ref)
    return RegistryClient(cfg, sleep=lambda s: None, backoff=Backoff(base=0.01))


def test_real_registry_with_a_pull_secret_file(auth_registry, unique, tmp_path):
    Pusher(auth_registry.url, auth=("alice", "wonderland")).image(unique, "1.0.0")
    host = auth_registry.url.split("//")[1]
    secret = tmp_path / ".dockerconfigjson"
    secret.write_text(json.dumps({"auths": {f"https://{host}": {"auth": b64("alice:wonderland")}}}))
    assert client(auth_registry.url, secret).list_tags(unique) == ["1.0.0"]

    secret.write_text(json.dumps({"auths": {host: {"username": "alice", "password": "wrong"}}}))  # rotated, badly
    with pytest.raises(RegistryRejected, match=r"\(HTTP 401\)"):
        client(auth_registry.url, secret).list_tags(unique)

    secret.write_text(json.dumps({"auths": {host: {"auth": "%%%"}}}))
    with pytest.raises(RegistryRejected) as bad:
        client(auth_registry.url, secret).list_tags(unique)
    assert str(bad.value).endswith(f'promoter.yaml:7:20: registries[0].auth.pull_secret: auths["{host}"].auth: not '
                                   "base64 of user:password")

    secret.write_text(json.dumps({"auths": {"quay.io": {"auth": b64("alice:wonderland")}}}))
    with pytest.raises(RegistryRejected, match=r"asks for basic auth.*\(auth.pull_secret has no entry for it\)"):
        client(auth_registry.url, secret).list_tags(unique)

    secret.unlink()
    with pytest.raises(RegistryRejected, match=r"registries\[0\]\.auth\.pull_secret: cannot read secret file "):
        client(auth_registry.url, secret).list_tags(unique)


def test_a_pull_secret_logs_in_to_a_bearer_token_service(tmp_path):
    """ghcr.io and Docker Hub answer 401 with a Bearer challenge: the pull secret's user and password go
    to the token service (distribution's token auth), as username/password do."""
    from tests.support.fake_registry import Behaviour, FakeRegistry

    b = Behaviour(tags={"acme/web": ["v1"]}, bearer=True, token_user=("bot", "pw"))
    with FakeRegistry(b) as fake:
        secret = tmp_path / ".dockerconfigjson"
        secret.write_text(json.dumps({"auths": {fake.url.split("//")[1]: {"auth": b64("bot:pw")}}}))
        assert client(fake.url, secret).list_tags("acme/web") == ["v1"]
        assert b.tokens_issued == 1
        secret.write_text(json.dumps({"auths": {fake.url.split("//")[1]: {"auth": b64("bot:nope")}}}))
        with pytest.raises(RegistryRejected, match="token service"):
            client(fake.url, secret).list_tags("acme/web")
