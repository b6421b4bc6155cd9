"""OCI distribution API client (httpx): tags, digests, image creation times.

Maps every failure into RegistryUnavailable (retried here with backoff, then raised)
or RegistryRejected (4xx that retrying will not fix). Errors name the registry, the
repository and the HTTP status.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from gitops_promoter.adapters.registry_auth import Challenge, TokenCache, basic, parse_challenge
from gitops_promoter.adapters.retry import Backoff, RateLimiter, Retry, parse_retry_after, retrying
from gitops_promoter.config.schema import RegistryConfig
from gitops_promoter.domain.imageref import ImageRef
from gitops_promoter.errors import ConfigError, RegistryRejected, RegistryUnavailable

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_V2))
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
PAGE_SIZE = 1000


class RegistryClient:
    """One registry endpoint. Thread-safe enough for one caller per repository."""

    def __init__(self, config: RegistryConfig, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 backoff: Backoff | None = None) -> None:
        self.config = config
        self.name = config.prefix
        verify: bool | str = not config.insecure
        if config.ca_file and not config.insecure:
            verify = config.ca_file
        self._http = httpx.Client(base_url=config.api_url, timeout=config.timeout, transport=transport,
                                  verify=verify, follow_redirects=True,
                                  headers={"User-Agent": "gitops-promoter"})
        self._sleep = sleep
        self._limiter = RateLimiter(config.rate_limit, clock=clock, sleep=sleep)
        self._tokens = TokenCache(clock)
        self._backoff = backoff or Backoff()
        self.requests = 0
        self._created: dict[tuple[str, str], datetime | None] = {}

    def close(self) -> None:
        self._http.close()

    # --- public ---------------------------------------------------------------------
    def ping(self) -> None:
        """GET /v2/ — proves the endpoint speaks the distribution API and our credentials work."""
        self._request("GET", "/v2/", repository="", scope=None)

    def list_tags(self, repository: str) -> list[str]:
        """Every tag, following `Link: <...>; rel="next"` pagination."""
        tags: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n={PAGE_SIZE}"
        pages = 0
        while url:
            resp = self._request("GET", url, repository=repository)
            body = self._json(resp, repository)
            tags.extend(body.get("tags") or [])
            url = _next_link(resp)
            pages += 1
            if pages > 10_000:
                raise RegistryRejected(registry=self.name, repository=repository,
                                       detail="tag pagination does not end (more than 10000 pages)")
        return tags

    def digest(self, repository: str, reference: str) -> str:
        """The manifest digest of a tag (HEAD with the full Accept list; GET when no header)."""
        resp = self._request("HEAD", f"/v2/{repository}/manifests/{reference}", repository=repository,
                             headers={"Accept": MANIFEST_ACCEPT})
        digest = resp.headers.get("Docker-Content-Digest")
        if digest:
            return str(digest)
        resp = self._request("GET", f"/v2/{repository}/manifests/{reference}", repository=repository,
                             headers={"Accept": MANIFEST_ACCEPT})
        return resp.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(resp.content).hexdigest()

    def created(self, repository: str, reference: str) -> datetime | None:
        """The image's creation time from its config blob; for an index, the linux/amd64 image (or the first)."""
        manifest = self._manifest(repository, reference)
        if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            entries = manifest.get("manifests") or []
            if not entries:
                return None
            chosen = next((m for m in entries if (m.get("platform") or {}).get("os") == "linux"
                           and (m.get("platform") or {}).get("architecture") == "amd64"), entries[0])
            manifest = self._manifest(repository, chosen["digest"])
        config = (manifest.get("config") or {}).get("digest")
        if not config:
            return None
        resp = self._request("GET", f"/v2/{repository}/blobs/{config}", repository=repository)
        created = self._json(resp, repository).get("created")
        return _parse_time(created)

    def created_cached(self, repository: str, tag: str) -> datetime | None:
        """`created`, remembered per tag: like the peers, only the digest strategy treats tags as
        mutable, and it never asks for creation times."""
        key = (repository, tag)
        if key not in self._created:
            self._created[key] = self.created(repository, tag)
        return self._created[key]

    # --- internals -------------------------------------------------------------------
    def _manifest(self, repository: str, reference: str) -> dict[str, Any]:
        resp = self._request("GET", f"/v2/{repository}/manifests/{reference}", repository=repository,
                             headers={"Accept": MANIFEST_ACCEPT})
        return self._json(resp, repository)

    def _json(self, resp: httpx.Response, repository: str) -> dict[str, Any]:
        try:
            body = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                   detail=f"{resp.request.method} {resp.request.url.path}: answer is not JSON",
                                   ) from None
        if not isinstance(body, dict):
            raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                   detail="answer is not a JSON object")
        return body

    def _request(self, method: str, url: str, *, repository: str, scope: str | None = "",
                 headers: dict[str, str] | None = None) -> httpx.Response:
        if scope == "":
            scope = f"repository:{repository}:pull"
        auth = {"header": self._cached_auth(scope), "tried": False}

        def attempt() -> httpx.Response:
            while True:  # at most twice: once more with credentials after a 401 challenge
                self._limiter.acquire()
                hdrs = dict(headers or {})
                if auth["header"]:
                    hdrs["Authorization"] = str(auth["header"])
                self.requests += 1
                try:
                    resp = self._http.request(method, url, headers=hdrs)
                except httpx.TimeoutException as exc:
                    raise Retry(f"{method} {url}: timed out ({exc})") from None
                except httpx.TransportError as exc:
                    raise Retry(f"{method} {url}: cannot connect ({exc})") from None
                if resp.status_code == 401 and not auth["tried"]:
                    auth["tried"] = True
                    auth["header"] = self._authorize(resp, repository=repository, scope=scope)
                    continue
                if resp.status_code < 400:
                    return resp
                if resp.status_code == 429 or resp.status_code >= 500:
                    wait = parse_retry_after(resp.headers.get("Retry-After")) if resp.status_code == 429 else None
                    raise Retry(f"{method} {url}: {_reason(resp)}", wait=wait, status=resp.status_code)
                raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                       detail=f"{method} {url}: {_reason(resp)}")

        return retrying(attempt, attempts=self.config.max_retries + 1, backoff=self._backoff, sleep=self._sleep,
                        what=f"registry {self.name}", give_up=self._give_up(repository))

    def _give_up(self, repository: str) -> Callable[[Retry, int], RegistryUnavailable]:
        def unavailable(failure: Retry, tries: int) -> RegistryUnavailable:
            return RegistryUnavailable(registry=self.name, repository=repository, status=failure.status,
                                       detail=f"{failure.detail}; gave up after {tries} attempts")

        return unavailable

    def _credentials(self) -> tuple[str, str] | None:
        c = self.config
        try:
            if c.username and c.password:
                return c.username.resolve(), c.password.resolve()
        except ConfigError as exc:
            raise RegistryRejected(registry=self.name, detail=str(exc)) from None
        return None

    def _cached_auth(self, scope: str | None) -> str | None:
        token = self._tokens.for_scope(scope or "")
        if token:
            return f"Bearer {token}"
        if self.config.token is not None:
            return f"Bearer {self.config.token.resolve()}"
        return None

    def _authorize(self, resp: httpx.Response, *, repository: str, scope: str | None) -> str:
        header = resp.headers.get("WWW-Authenticate", "")
        challenge = parse_challenge(header)
        if challenge is None:
            raise RegistryRejected(registry=self.name, repository=repository, status=401,
                                   detail="unauthorized and no WWW-Authenticate challenge")
        creds = self._credentials()
        if challenge.scheme == "basic":
            if creds is None:
                raise RegistryRejected(registry=self.name, repository=repository, status=401,
                                       detail="registry asks for basic auth; configure auth.username/password")
            return basic(*creds)
        if challenge.scheme == "bearer":
            return f"Bearer {self._fetch_token(challenge, repository=repository, scope=scope, creds=creds)}"
        raise RegistryRejected(registry=self.name, repository=repository, status=401,
                               detail=f"unsupported auth scheme {challenge.scheme!r}")

    def _fetch_token(self, challenge: Challenge, *, repository: str, scope: str | None,
                     creds: tuple[str, str] | None) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryRejected(registry=self.name, repository=repository, status=401,
                                   detail="bearer challenge without realm")
        service = challenge.params.get("service", "")
        wanted = challenge.params.get("scope") or scope or ""
        key = (realm, service, wanted)
        cached = self._tokens.get(key)
        if cached:
            return cached
        params = {k: v for k, v in (("service", service), ("scope", wanted)) if v}
        headers = {"Authorization": basic(*creds)} if creds else {}

        def attempt() -> httpx.Response:
            self._limiter.acquire()
            self.requests += 1
            try:
                resp = self._http.get(urljoin(self.config.api_url + "/", realm), params=params, headers=headers)
            except httpx.TransportError as exc:
                raise Retry(f"token service {realm}: {exc}") from None
            if resp.status_code < 400:
                return resp
            err = f"token service {realm}: {_reason(resp)}"
            if resp.status_code < 500 and resp.status_code != 429:
                raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                       detail=err)
            wait = parse_retry_after(resp.headers.get("Retry-After")) if resp.status_code == 429 else None
            raise Retry(err, wait=wait, status=resp.status_code)

        resp = retrying(attempt, attempts=self.config.max_retries + 1, backoff=self._backoff, sleep=self._sleep,
                        what=f"registry {self.name}", give_up=self._give_up(repository))
        body = self._json(resp, repository)
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryRejected(registry=self.name, repository=repository, detail=f"token service {realm}: no token")
        self._tokens.put(key, token, float(body.get("expires_in") or 60))
        # Remember under the scope we asked with too, so the next request sends it up front.
        self._tokens.put((realm, service, scope or ""), token, float(body.get("expires_in") or 60))
        return str(token)


def _reason(resp: httpx.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
        if errors:
            return "; ".join(f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors)
    except (ValueError, AttributeError):
        pass
    return resp.reason_phrase or f"HTTP {resp.status_code}"


def _next_link(resp: httpx.Response) -> str | None:
    """The `rel="next"` target of a Link header, relative to the registry."""
    link = resp.links.get("next")
    if not link or not link.get("url"):
        return None
    url = httpx.URL(link["url"])
    if url.is_absolute_url:
        return str(url.copy_with(scheme=None, host=None, port=None)) if url.host == resp.url.host else str(url)
    return str(url)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    # Go writes nanoseconds; Python reads up to microseconds.
    m = re.match(r"^([^.]*)\.(\d+)(.*)$", text)
    if m:
        text = f"{m.group(1)}.{m.group(2)[:6]}{m.group(3)}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class RegistryHub:
    """The Registry port: one client per configured registry, chosen by the image's prefix."""

    def __init__(self, configs: Callable[[str], RegistryConfig], *,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._configs = configs
        self._clients: dict[str, RegistryClient] = {}
        self._transport = transport
        self._sleep = sleep
        self._lock = threading.Lock()

    def client(self, image: str) -> RegistryClient:
        cfg = self._configs(image)
        with self._lock:  # one client (one rate limit, one token cache) per registry, across threads
            if cfg.prefix not in self._clients:
                self._clients[cfg.prefix] = RegistryClient(cfg, transport=self._transport, sleep=self._sleep)
            return self._clients[cfg.prefix]

    def repository(self, image: str) -> str:
        cfg = self._configs(image)
        ref = ImageRef(image)
        # The prefix may include a path (e.g. a Hub mirror "mirror.local/dockerhub"); strip host only.
        host = cfg.prefix.split("/")[0]
        return image[len(host) + 1:] if image.startswith(host + "/") else ref.repository

    def list_tags(self, image: str) -> list[str]:
        return self.client(image).list_tags(self.repository(image))

    def created(self, image: str, tag: str) -> datetime | None:
        return self.client(image).created_cached(self.repository(image), tag)

    def digest(self, image: str, tag: str) -> str:
        return self.client(image).digest(self.repository(image), tag)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
