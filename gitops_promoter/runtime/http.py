"""The service's one HTTP server (`server.listen`): webhooks, the status page, /metrics, /healthz, /readyz.

* `POST /hooks/registry`: a registry's push notification (CNCF distribution envelopes as
  docker-registry sends them, Docker Hub, GHCR, Harbor, Quay). Authenticated by
  `Authorization: Bearer <server.registry_webhook_secret>` or an HMAC-SHA256 signature of the
  body (`X-Hub-Signature-256`, `X-Signature-256` or `X-Signature`); anything else is 401 and
  nothing happens. A payload only asks for an immediate poll of the configured image
  repositories it names: the tags are re-read from the registry, a payload's tag is never
  trusted and an unknown host is never contacted.
* `POST /hooks/github` (`X-Hub-Signature-256` with `server.github_webhook_secret`): pull
  requests, reviews, checks, statuses and pushes wake the apps they concern.
* Bodies over 1 MiB are refused with 413 before they are read.
* `GET /` (and `/status`): the status page (runtime/statuspage.py), read-only, from the service's
  cache. With a token, only for `Authorization: Bearer <token>` or `?token=<token>`; without one,
  only on a loopback address — on any other address it is refused (403) and a log line says why.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gitops_promoter.domain.webhooks import (
    WebhookError,
    github_signal,
    images_to_check,
    promoter_branch,
    registry_pushes,
    verify_bearer,
    verify_signature,
)

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
SIGNATURE_HEADERS = ("X-Hub-Signature-256", "X-Signature-256", "X-Signature")
MAX_CONNECTIONS = 64  # at once; more are closed at accept, so a flood cannot exhaust threads or files
READ_TIMEOUT = 10.0  # seconds a client may take to send its request (slowloris)
STATUS_PATHS = ("/", "/status")
# The page has no script, inline CSS and inline SVG only; it is never framed, cached or sent as a referrer.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s]*")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's default of 5 drops health probes under a burst

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("http: %d connections open; closing one from %s", MAX_CONNECTIONS, client_address[0])
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or sends garbage is one log line, never a traceback on stderr."""
        exc = sys.exc_info()[1]
        log.info("http: %s: %s: %s", client_address[0], type(exc).__name__, exc)


@dataclass
class Hooks:
    """What the server calls; the service provides it."""

    known_images: list[str]
    check_image: Callable[[str, str], None]  # (image, reason)
    wake: Callable[[str, str], None]  # (app, reason)
    apps_for_github: Callable[[str | None], list[str]]  # "owner/name" → apps whose PRs live there
    registry_secret: Callable[[], str | None]
    github_secret: Callable[[], str | None]
    metrics: Callable[[], bytes]
    ready: Callable[[], tuple[bool, str]]
    on_webhook: Callable[[str, int], None] = lambda source, code: None
    status_page: Callable[[], bytes] | None = None  # the status page's HTML, from a cache (None: no page)


def is_loopback(host: str) -> bool:
    """Whether a listen host only takes connections from this machine ("" and 0.0.0.0 do not)."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to any interface


class WebServer:
    def __init__(self, listen: str, hooks: Hooks, *, status_token: str | None = None) -> None:
        """`status_token`: the status page answers only requests that carry it; None serves the page
        without authentication on a loopback `listen` and refuses it on any other."""
        host, _, port = listen.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        page_off = None
        if hooks.status_page is not None and not status_token and not is_loopback(host):
            page_off = (f"the status page is not served: {listen} is not a loopback address and no status token "
                        "is set (server.status_token)")
            log.warning("%s", page_off)
        handler = type("Handler", (_Handler,), {"hooks": hooks, "status_token": status_token or None,
                                                "page_off": page_off})
        self.httpd = _Server((host, int(port)), handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def prometheus_text(registry: Any) -> bytes:
    return bytes(generate_latest(registry))


class _Handler(BaseHTTPRequestHandler):
    hooks: Hooks
    status_token: str | None
    page_off: str | None  # why the status page is refused, when it is
    server_version = "gitops-promoter"
    sys_version = ""
    timeout = READ_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("http %s %s", self.address_string(), _TOKEN_IN_URL.sub(r"\1<redacted>", format % args))

    # --- answers ---------------------------------------------------------------------------
    def _send(self, code: int, body: bytes | str, content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, code: int, payload: dict[str, Any]) -> None:
        self._send(code, json.dumps(payload) + "\n", "application/json")

    # --- routes ------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, "ok\n")
        elif path == "/readyz":
            ok, why = self.hooks.ready()
            self._send(200 if ok else 503, why + "\n")
        elif path == "/metrics":
            self._send(200, self.hooks.metrics(), CONTENT_TYPE_LATEST)
        elif path in STATUS_PATHS and self.hooks.status_page is not None:
            self._status_page()
        else:
            self._send(404, "not found\n")

    do_HEAD = do_GET

    def _status_page(self) -> None:
        assert self.hooks.status_page is not None
        if self.page_off is not None:
            self._send(403, self.page_off + "\n")
            return
        if self.status_token is not None and not self._token_given(self.status_token):
            self._send(401, "unauthenticated: send Authorization: Bearer <token> or ?token=<token>\n",
                       headers={"WWW-Authenticate": 'Bearer realm="gitops-promoter status"'})
            return
        self._send(200, self.hooks.status_page(), "text/html; charset=utf-8", headers=PAGE_HEADERS)

    def _token_given(self, token: str) -> bool:
        if verify_bearer(self.headers.get("Authorization"), token):
            return True
        given = parse_qs(urlsplit(self.path).query).get("token", [])
        return any(hmac.compare_digest(g.encode(), token.encode()) for g in given)

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path not in ("/hooks/registry", "/hooks/github"):
            self._send(404, "not found\n")
            return
        source = path.rsplit("/", 1)[-1]
        code = self._hook(source)
        self.hooks.on_webhook(source, code)

    def _body(self) -> bytes | int:
        """The body, or the status to answer instead (411 without a length, 413 when too large)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return 411
        raw = self.headers.get("Content-Length")
        if raw is None or not (raw.isascii() and raw.isdigit()):
            return 411
        length = int(raw)
        if length > MAX_BODY:
            return 413
        return self.rfile.read(length)

    def _hook(self, source: str) -> int:
        secret = self.hooks.registry_secret() if source == "registry" else self.hooks.github_secret()
        if not secret or not self._may_be_authentic(secret, github=source == "github"):
            self.close_connection = True  # the body is never read
            self._json(401, {"error": "unauthenticated" if secret else
                             f"server.{source}_webhook_secret is not configured: webhooks are refused"})
            return 401
        body = self._body()
        if isinstance(body, int):
            self.close_connection = True
            self._json(body, {"error": "a Content-Length is required" if body == 411
                              else f"body over {MAX_BODY} bytes"})
            return body
        if not self._authenticated(body, secret, github=source == "github"):
            self._json(401, {"error": "unauthenticated"})
            return 401
        try:
            if source == "registry":
                answer = self._registry(body)
            else:
                answer = self._github(body)
        except WebhookError as exc:
            self._json(400, {"error": str(exc)})
            return 400
        self._json(202, answer)
        return 202

    def _may_be_authentic(self, secret: str, *, github: bool) -> bool:
        """Before reading the body: a valid bearer token, or a signature header to check on it."""
        if github:
            return bool(self.headers.get("X-Hub-Signature-256"))
        return verify_bearer(self.headers.get("Authorization"), secret) or \
            any(self.headers.get(h) for h in SIGNATURE_HEADERS)

    def _authenticated(self, body: bytes, secret: str, *, github: bool) -> bool:
        if github:
            return verify_signature(body, self.headers.get("X-Hub-Signature-256"), secret)
        if verify_bearer(self.headers.get("Authorization"), secret):
            return True
        return any(verify_signature(body, self.headers.get(h), secret) for h in SIGNATURE_HEADERS
                   if self.headers.get(h))

    def _registry(self, body: bytes) -> dict[str, Any]:
        pushes = registry_pushes(body, self.headers.get("Content-Type"))
        images = sorted(images_to_check(pushes, self.hooks.known_images))
        for image in images:
            self.hooks.check_image(image, "registry webhook")
        return {"checking": images}

    def _github(self, body: bytes) -> dict[str, Any]:
        event = self.headers.get("X-GitHub-Event", "")
        signal = github_signal(event, body)
        apps: set[str] = set()
        candidates = self.hooks.apps_for_github(signal.repo)
        for branch in signal.branches:
            found = promoter_branch(branch)
            if found is not None:
                env, app = found
                if app in candidates:
                    apps.add(app)
        if event == "push" and not apps or (signal.shas and not signal.branches) or \
                (signal.pulls and not apps):
            apps.update(candidates)  # a push to the deployment branch, or a check on an unknown head
        for app in sorted(apps):
            self.hooks.wake(app, f"github {event}")
        return {"event": event, "reconciling": sorted(apps)}
