"""A small distribution-API server for what Debian's registry 2.8 cannot show: bearer-token
auth with a token service, `Link` pagination of tags/list, 429 with Retry-After, and 5xx.

It answers like a real registry (same paths, headers and error bodies) so the product's
real httpx client is exercised unchanged.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from tests.support.net import LocalServer


@dataclass
class Behaviour:
    tags: dict[str, list[str]] = field(default_factory=dict)  # repository -> tags
    # (repository, reference) -> (media type, body, digest)
    manifests: dict[tuple[str, str], tuple[str, bytes, str]] = field(default_factory=dict)
    page_size: int | None = None  # paginate tags/list with Link when set (ignores client's n above it)
    bearer: bool = False  # demand a bearer token from /token
    token_user: tuple[str, str] | None = None  # basic credentials the token service wants
    fail_5xx: int = 0  # answer 503 to the next N requests
    fail_429: int = 0  # answer 429 to the next N requests
    retry_after: str = "1"
    head_without_digest: bool = False
    token_lifetime: int = 300
    log: list[str] = field(default_factory=list)
    tokens_issued: int = 0


class FakeRegistry(LocalServer):
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.b = behaviour or Behaviour()
        self._serve()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        b, outer = self.b, self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def error(self, code: int, errcode: str, message: str, headers: dict[str, str] | None = None) -> None:
                body = json.dumps({"errors": [{"code": errcode, "message": message}]}).encode()
                self.send(code, body, {"Content-Type": "application/json", **(headers or {})})

            def do_HEAD(self) -> None:  # noqa: N802
                self.do_GET()

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                b.log.append(f"{self.command} {self.path}")
                if url.path == "/token":
                    return self.token(parse_qs(url.query))
                if b.fail_5xx > 0:
                    b.fail_5xx -= 1
                    return self.error(503, "UNAVAILABLE", "try later")
                if b.fail_429 > 0:
                    b.fail_429 -= 1
                    return self.error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": b.retry_after})
                parts = url.path.split("/")
                repo = "/".join(parts[2:-2])
                if b.bearer and not self.authorized(repo):
                    scope = f'repository:{repo}:pull' if repo else ""
                    challenge = f'Bearer realm="{outer.url}/token",service="fake-registry"'
                    if scope:
                        challenge += f',scope="{scope}"'
                    return self.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
                if url.path == "/v2/":
                    return self.send(200, b"{}", {"Content-Type": "application/json"})
                if url.path.endswith("/tags/list"):
                    return self.tags(repo, parse_qs(url.query))
                if parts[-2] == "manifests":
                    return self.manifest(repo, parts[-1])
                return self.error(404, "NAME_UNKNOWN", "unknown")

            def authorized(self, repo: str) -> bool:
                auth = self.headers.get("Authorization", "")
                return auth == f"Bearer token-for-{repo or 'catalog'}" or (
                    not repo and auth.startswith("Bearer token-for-"))

            def token(self, query: dict[str, list[str]]) -> None:
                if b.token_user is not None:
                    want = "Basic " + base64.b64encode(":".join(b.token_user).encode()).decode()
                    if self.headers.get("Authorization") != want:
                        return self.error(401, "UNAUTHORIZED", "bad credentials")
                scope = (query.get("scope") or [""])[0]
                repo = scope.split(":")[1] if scope.count(":") == 2 else "catalog"
                b.tokens_issued += 1
                body = json.dumps({"token": f"token-for-{repo}", "expires_in": b.token_lifetime}).encode()
                self.send(200, body, {"Content-Type": "application/json"})

            def tags(self, repo: str, query: dict[str, list[str]]) -> None:
                if repo not in b.tags:
                    return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
                all_tags = sorted(b.tags[repo])
                n = int((query.get("n") or [str(len(all_tags))])[0])
                if b.page_size:
                    n = min(n, b.page_size)
                last = (query.get("last") or [""])[0]
                rest = [t for t in all_tags if t > last] if last else all_tags
                page = rest[:n]
                headers = {"Content-Type": "application/json"}
                if len(rest) > n:
                    headers["Link"] = f'</v2/{repo}/tags/list?n={n}&last={page[-1]}>; rel="next"'
                self.send(200, json.dumps({"name": repo, "tags": page}).encode(), headers)

            def manifest(self, repo: str, ref: str) -> None:
                found = b.manifests.get((repo, ref))
                if found is None:
                    return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                media, body, digest = found
                headers = {"Content-Type": media}
                if not b.head_without_digest:
                    headers["Docker-Content-Digest"] = digest
                self.send(200, body, headers)

        return Handler
