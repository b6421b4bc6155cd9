"""The service's HTTP server on a real socket: webhook authentication, limits, what a payload may
cause (only a check of configured images), GitHub events waking the apps they concern."""

import hashlib
import hmac
import json
import time

import httpx
import pytest

from gitops_promoter.runtime.http import MAX_BODY, Hooks, WebServer

IMAGE = "127.0.0.1:5000/acme/web"
SECRET = "registry-hook-secret"
GH_SECRET = "github-hook-secret"


def envelope(repository="acme/web", host="127.0.0.1:5000", tag="v1.2.0"):
    """A distribution notification envelope, as docker-registry 2.8 sends it (notifications/event.go)."""
    return json.dumps({"events": [{
        "id": "b2a7c1", "timestamp": "2026-11-24T10:00:00Z", "action": "push",
        "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 400,
                   "digest": "sha256:" + "a" * 64, "length": 400, "repository": repository,
                   "url": f"http://{host}/v2/{repository}/manifests/sha256:{'a' * 64}", "tag": tag},
        "request": {"id": "r1", "addr": "127.0.0.1:40000", "host": host, "method": "PUT",
                    "useragent": "test"},
        "actor": {}, "source": {"addr": "host:5000", "instanceID": "i1"}}]}).encode()


@pytest.fixture
def server():
    calls = {"check": [], "wake": []}
    hooks = Hooks(known_images=[IMAGE], check_image=lambda image, why: calls["check"].append(image),
                  wake=lambda app, why: calls["wake"].append(app),
                  apps_for_github=lambda repo: ["web", "api"] if repo in (None, "acme/deploy") else [],
                  registry_secret=lambda: SECRET, github_secret=lambda: GH_SECRET,
                  metrics=lambda: b"gitops_promoter_up 1\n", ready=lambda: (True, "ready"))
    web = WebServer("127.0.0.1:0", hooks)
    web.start()
    yield f"http://127.0.0.1:{web.port}", calls
    web.stop()


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


CT = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}


def test_a_bearer_authenticated_push_checks_the_configured_image(server):
    url, calls = server
    r = httpx.post(f"{url}/hooks/registry", content=envelope(), headers={**CT, "Authorization": f"Bearer {SECRET}"})
    assert (r.status_code, r.json()) == (202, {"checking": [IMAGE]})
    assert calls["check"] == [IMAGE]


def test_an_hmac_signed_push_is_accepted_too(server):
    url, calls = server
    body = envelope()
    r = httpx.post(f"{url}/hooks/registry", content=body, headers={**CT, "X-Hub-Signature-256": sign(body, SECRET)})
    assert r.status_code == 202 and calls["check"] == [IMAGE]


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-credentials"),
    pytest.param({"Authorization": "Bearer wrong"}, id="wrong-token"),
    pytest.param({"Authorization": f"Basic {SECRET}"}, id="other-scheme"),
    pytest.param({"X-Hub-Signature-256": "sha256=" + "0" * 64}, id="wrong-signature"),
])
def test_anything_else_is_401_and_nothing_happens(server, headers):
    url, calls = server
    r = httpx.post(f"{url}/hooks/registry", content=envelope(), headers={**CT, **headers})
    assert r.status_code == 401
    assert calls == {"check": [], "wake": []}


def test_a_push_to_an_unknown_host_or_repository_contacts_nothing(server):
    url, calls = server
    for body in (envelope(host="evil.example:443"), envelope(repository="acme/other")):
        r = httpx.post(f"{url}/hooks/registry", content=body, headers={**CT, "Authorization": f"Bearer {SECRET}"})
        assert (r.status_code, r.json()) == (202, {"checking": []})
    assert calls["check"] == []


def test_duplicates_are_harmless(server):
    url, calls = server
    for _ in range(3):
        httpx.post(f"{url}/hooks/registry", content=envelope(), headers={**CT, "Authorization": f"Bearer {SECRET}"})
    assert calls["check"] == [IMAGE] * 3  # each only asks for a check; the service coalesces them


def test_a_body_over_1_mib_is_413_before_it_is_read(server):
    url, calls = server
    r = httpx.post(f"{url}/hooks/registry", content=b"x" * (MAX_BODY + 1),
                   headers={**CT, "Authorization": f"Bearer {SECRET}"})
    assert r.status_code == 413 and calls["check"] == []


def test_a_malformed_payload_is_400_with_the_place(server):
    url, _ = server
    body = json.dumps({"events": [{"action": "push", "target": {"repository": 5}}]}).encode()
    r = httpx.post(f"{url}/hooks/registry", content=body, headers={**CT, "Authorization": f"Bearer {SECRET}"})
    assert r.status_code == 400 and "events[0]" in r.json()["error"]


def github(url, event, payload, secret=GH_SECRET):
    body = json.dumps(payload).encode()
    return httpx.post(f"{url}/hooks/github", content=body, headers={
        "X-GitHub-Event": event, "X-Hub-Signature-256": sign(body, secret), "Content-Type": "application/json"})


def pr_payload(ref):
    return {"action": "submitted", "repository": {"full_name": "acme/deploy"},
            "pull_request": {"number": 7, "head": {"ref": ref, "sha": "b" * 40}},
            "review": {"state": "approved"}}


def test_a_review_on_a_promoter_branch_wakes_that_app(server):
    url, calls = server
    r = github(url, "pull_request_review", pr_payload("promoter/staging/web"))
    assert (r.status_code, r.json()["reconciling"]) == (202, ["web"])
    assert calls["wake"] == ["web"]


def test_a_push_to_the_deployment_branch_wakes_every_app_of_that_repository(server):
    url, calls = server
    r = github(url, "push", {"ref": "refs/heads/main", "after": "c" * 40, "repository": {"full_name": "acme/deploy"}})
    assert r.status_code == 202 and sorted(calls["wake"]) == ["api", "web"]


def test_a_github_event_with_a_bad_signature_is_401(server):
    url, calls = server
    r = github(url, "pull_request_review", pr_payload("promoter/staging/web"), secret="nope")
    assert r.status_code == 401 and calls["wake"] == []


def test_ping_is_accepted_and_wakes_nothing(server):
    url, calls = server
    r = github(url, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert r.status_code == 202 and calls["wake"] == []


def test_health_readiness_and_metrics(server):
    url, _ = server
    assert httpx.get(f"{url}/healthz").text == "ok\n"
    assert httpx.get(f"{url}/readyz").status_code == 200
    assert httpx.get(f"{url}/metrics").text == "gitops_promoter_up 1\n"
    assert httpx.get(f"{url}/nothing").status_code == 404


def test_an_unconfigured_secret_refuses_every_webhook():
    hooks = Hooks(known_images=[IMAGE], check_image=lambda *a: None, wake=lambda *a: None,
                  apps_for_github=lambda repo: [], registry_secret=lambda: None, github_secret=lambda: None,
                  metrics=lambda: b"", ready=lambda: (True, "ready"))
    web = WebServer("127.0.0.1:0", hooks)
    web.start()
    try:
        r = httpx.post(f"http://127.0.0.1:{web.port}/hooks/registry", content=envelope(),
                       headers={"Authorization": "Bearer anything"})
        assert r.status_code == 401 and "not configured" in r.json()["error"]
    finally:
        web.stop()


def raw_request(url, data: bytes, *, timeout=3.0) -> bytes:
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_unauthenticated_request_is_refused_before_its_body_is_read(server):
    url, calls = server
    # Declares 1 MiB and sends none of it: without credentials the answer comes at once.
    answer = raw_request(url, b"POST /hooks/registry HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 401") and calls["check"] == []


def test_a_non_ascii_length_is_411_not_a_traceback(server):
    url, _ = server
    answer = raw_request(url, f"POST /hooks/registry HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\n"
                              "Content-Length: \u00b2\r\n\r\n".encode("latin-1"))
    assert answer.startswith(b"HTTP/1.0 411")


def test_a_client_too_slow_to_send_its_request_is_dropped(server, monkeypatch):
    from gitops_promoter.runtime import http

    monkeypatch.setattr(http._Handler, "timeout", 0.3)
    url, _ = server
    started = time.monotonic()
    answer = raw_request(url, b"POST /hooks/registry HTTP/1.1\r\nHost: x\r\n", timeout=5)  # never ends its headers
    assert answer == b"" and time.monotonic() - started < 2
    assert httpx.get(f"{url}/healthz").status_code == 200


# --- the status page ---------------------------------------------------------------------------

PAGE = b"<!doctype html><title>gitops-promoter status</title>"
TOKEN = "st4tus-t0ken"


def page_server(listen="127.0.0.1:0", token=None, page=lambda: PAGE):
    hooks = Hooks(known_images=[], check_image=lambda *a: None, wake=lambda *a: None,
                  apps_for_github=lambda repo: [], registry_secret=lambda: None, github_secret=lambda: None,
                  metrics=lambda: b"", ready=lambda: (True, "ready"), status_page=page)
    web = WebServer(listen, hooks, status_token=token)
    web.start()
    return web, f"http://127.0.0.1:{web.port}"


def test_the_status_page_on_a_loopback_address_needs_no_token():
    web, url = page_server()
    try:
        for path in ("/", "/status", "/?refresh=1"):
            r = httpx.get(url + path)
            assert (r.status_code, r.content) == (200, PAGE)
            assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script runs
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        head = httpx.head(url + "/")
        assert head.status_code == 200 and head.content == b""
        assert httpx.post(url + "/", content=b"").status_code == 404  # read-only
    finally:
        web.stop()


def test_with_a_token_the_page_needs_it_in_a_header_or_the_query(caplog):
    caplog.set_level("DEBUG", logger="gitops_promoter.runtime.http")
    web, url = page_server(token=TOKEN)
    try:
        assert httpx.get(f"{url}/").status_code == 401
        assert httpx.get(f"{url}/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{url}/?token=wrong").status_code == 401
        assert httpx.get(f"{url}/", headers={"Authorization": f"Bearer {TOKEN}"}).content == PAGE
        assert httpx.get(f"{url}/status?token={TOKEN}").content == PAGE
        assert httpx.get(f"{url}/healthz").status_code == 200  # probes need no token
    finally:
        web.stop()
    assert "token=<redacted>" in caplog.text and TOKEN not in caplog.text


def test_on_an_open_address_without_a_token_the_page_is_refused_and_the_log_says_why(caplog):
    web, url = page_server(listen="0.0.0.0:0")
    try:
        r = httpx.get(f"{url}/")
        assert r.status_code == 403 and "no status token is set (server.status_token)" in r.text
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        web.stop()
    assert "the status page is not served: 0.0.0.0:0 is not a loopback address" in caplog.text
    web, url = page_server(listen="0.0.0.0:0", token=TOKEN)
    try:
        assert httpx.get(f"{url}/", headers={"Authorization": f"Bearer {TOKEN}"}).content == PAGE
    finally:
        web.stop()


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("", False), ("::", False), ("10.0.0.5", False), ("promoter.internal", False),
])
def test_which_listen_addresses_are_loopback(host, loopback):
    from gitops_promoter.runtime.http import is_loopback

    assert is_loopback(host) is loopback


def test_without_a_page_the_root_is_404(server):
    url, _ = server
    assert httpx.get(f"{url}/").status_code == 404
