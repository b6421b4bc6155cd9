"""OCI distribution API client (httpx): tags, digests, image creation times.

Maps every failure into RegistryUnavailable (retried here with backoff, then raised)
or RegistryRejected (an answer that retrying will not fix). Errors name the registry, the
repository and the HTTP status.

What a registry says is checked before anything else sees it:

* tags must match the OCI tag grammar (`domain.tags.is_valid_tag`); others are skipped with one
  warning per tag, never an error; a tag list that is not a list of strings at all is an error;
* a digest comes from `Docker-Content-Digest`, or from hashing a GET body that is a manifest or
  index by its Content-Type and its shape (agreeing with the GET's own header when it has one),
  and must be `sha256:` + 64 or `sha512:` + 128 lower-case hex; otherwise nothing is pinned;
* waiting is bounded: each HTTP exchange (connect, send, headers, body, redirects) must end within
  the registry's `timeout`, even when the server trickles bytes; Retry-After is honoured up to
  `retry.WAIT_CAP`; tag pagination stops with an error on a Link seen before, on more than
  `MAX_TAG_PAGES` pages or `MAX_TAGS` tags;
* sizes are bounded: manifests, config blobs and token answers at `MAX_MANIFEST_BYTES`, each tag
  list page at `MAX_TAG_PAGE_BYTES`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx

from gitops_promoter.adapters.registry_auth import (
    Challenge,
    PullSecretError,
    TokenCache,
    basic,
    parse_challenge,
    pull_secret_credentials,
)
from gitops_promoter.adapters.retry import WAIT_CAP, Backoff, RateLimiter, Retry, parse_retry_after, retrying, seconds
from gitops_promoter.config.schema import RegistryConfig
from gitops_promoter.domain.imageref import ImageRef
from gitops_promoter.domain.platforms import choose_platform, matches
from gitops_promoter.domain.tags import is_valid_digest, is_valid_tag, tag_problem
from gitops_promoter.errors import ConfigError, RegistryRejected, RegistryUnavailable

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_V2))
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_V2)
PAGE_SIZE = 1000

#: Limits on what one registry answer may make the promoter read and keep.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit on a manifest body (4 MiB)
MAX_TAG_PAGE_BYTES = 16 * 1024 * 1024  # one tags/list page (some registries ignore `n` and send all)
MAX_TAG_PAGES = 1000  # Link pages followed for one listing
MAX_TAGS = 100_000  # entries in one listing, valid or not
MAX_ERROR_BYTES = 64 * 1024  # of an error answer's body, read for its message; the rest is dropped
#: Invalid tags are warned about once per process: this many (repository, tag) pairs are
#: remembered (oldest forgotten first), and at most this many are shown per listing.
MAX_WARNED = 4096
MAX_WARNINGS_PER_LISTING = 20


class _Deadline(threading.local):
    """The end (time.monotonic) of the HTTP exchange this thread is making, if any."""

    end: float | None = None

    @contextmanager
    def within(self, seconds_: float) -> Iterator[float]:
        self.end = time.monotonic() + seconds_
        try:
            yield self.end
        finally:
            self.end = None

    def left(self, timeout: float | None, expired: type[Exception]) -> float | None:
        """The socket timeout to use: the phase's own `timeout`, shortened to what is left of the
        exchange's deadline; `expired` is raised when nothing is left."""
        if self.end is None:
            return timeout
        left = self.end - time.monotonic()
        if left <= 0:
            raise expired("the request's deadline passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the current exchange's
    deadline: a server sending one byte a second cannot hold a request past it."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname, left)
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend, deadline: _Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                         local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                                 socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds_: float) -> None:
        self._inner.sleep(seconds_)


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    """One TLS context per trust setting, shared by every registry using it: building one loads
    the CA bundle (~40 ms), and an SSLContext is safe to share between threads. A CA file is read
    again when it changes (a rotated certificate)."""
    stamp = os.stat(verify).st_mtime_ns if isinstance(verify, str) else None
    return _tls_context_at(verify, stamp)


@functools.lru_cache(maxsize=16)
def _tls_context_at(verify: bool | str, stamp: int | None) -> ssl.SSLContext:
    if verify is False:
        return httpx.create_ssl_context(verify=False)
    if isinstance(verify, str):  # `registries[].ca_file`: a CA bundle, or a hashed CA directory as httpx took
        return ssl.create_default_context(capath=verify) if os.path.isdir(verify) else \
            ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=True)


class _ByScheme(httpx.BaseTransport):
    """The registry's transport, made at its first request of each scheme: a registry reached over
    http:// never builds a TLS context, and one reached over https:// builds it once, when it is
    first asked (a one-bump `run --once` spent ~50 ms of its ~400 on a context nothing used). A
    redirect to https:// (blobs on a CDN) goes through the verified transport, as before."""

    def __init__(self, make: Callable[[bool | ssl.SSLContext], httpx.BaseTransport], verify: bool | str,
                 registry: str) -> None:
        self._make, self._verify, self._registry = make, verify, registry
        self._made: dict[str, httpx.BaseTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._for(request.url.scheme).handle_request(request)

    def _for(self, scheme: str) -> httpx.BaseTransport:
        made = self._made.get(scheme)
        if made is None:
            with self._lock:
                made = self._made.get(scheme)
                if made is None:  # plain http carries no TLS: the context there is never used
                    made = self._make(self._tls() if scheme == "https" else False)
                    self._made[scheme] = made
        return made

    def _tls(self) -> ssl.SSLContext:
        try:
            return _tls_context(self._verify)
        except (OSError, ssl.SSLError) as exc:  # ca_file missing, unreadable or not PEM
            raise RegistryRejected(registry=self._registry,
                                   detail=f"ca_file {self._verify}: cannot be used: {exc}") from None

    def close(self) -> None:
        with self._lock:
            for transport in self._made.values():
                transport.close()
            self._made.clear()


def _deadline_transport(*, verify: bool | ssl.SSLContext, deadline: _Deadline) -> httpx.HTTPTransport:
    """httpx's own transport, its connections' socket waits bounded by `deadline`. httpx has no
    overall per-request timeout (its timeouts are per phase and per read), so the seam is httpcore's
    public NetworkBackend, set on the pool httpx builds (httpx 0.28 keeps it as `_pool`). Should a
    later httpx move it, the body is still read against the deadline between chunks."""
    transport = httpx.HTTPTransport(verify=verify)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool) and isinstance(getattr(pool, "_network_backend", None),
                                                                 httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(pool._network_backend, deadline)
    return transport


class RegistryClient:
    """One registry endpoint, shared by threads: its rate limit (a token bucket) and its bound on
    requests in flight (`max_concurrency`) hold across all of them."""

    def __init__(self, config: RegistryConfig, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 backoff: Backoff | None = None, max_retry_after: float | None = None) -> None:
        self.config = config
        self.name = config.prefix
        verify: bool | str = not config.insecure
        if config.ca_file and not config.insecure:
            verify = config.ca_file
        #: Each HTTP exchange, start to end, and each of its phases (connect, write, read, pool).
        self.deadline = float(config.timeout)
        #: The longest Retry-After one call honours (summed over its tries); `registries[].max_retry_after`
        #: once the config has it.
        configured = getattr(config, "max_retry_after", None)
        self.max_retry_after = float(next(v for v in (max_retry_after, configured, WAIT_CAP) if v is not None))
        self._deadline = _Deadline()
        self._http = httpx.Client(base_url=config.api_url, timeout=httpx.Timeout(self.deadline),
                                  transport=transport or _ByScheme(
                                      lambda tls: _deadline_transport(verify=tls, deadline=self._deadline), verify,
                                      config.prefix),
                                  verify=verify, follow_redirects=True, headers={"User-Agent": "gitops-promoter"})
        self._sleep = sleep
        self._limiter = RateLimiter(config.rate_limit, clock=clock, sleep=sleep)
        #: At most `max_concurrency` HTTP exchanges with this registry at once, across threads.
        self._in_flight = threading.BoundedSemaphore(config.max_concurrency)
        self._count_lock = threading.Lock()
        self._tokens = TokenCache(clock)
        self._backoff = backoff or Backoff()
        self.requests = 0
        self._created: dict[tuple[str, str, str], datetime | None] = {}
        self._warned: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._warned_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # --- public ---------------------------------------------------------------------
    def ping(self) -> None:
        """GET /v2/ — proves the endpoint speaks the distribution API and our credentials work."""
        self._request("GET", "/v2/", repository="", scope=None)

    def list_tags(self, repository: str) -> list[str]:
        """Every valid tag, following `Link: <...>; rel="next"` pagination. Entries that are not
        OCI tags are skipped (warned about once); a listing that is not a list of tags, loops,
        or is too long is a RegistryRejected."""
        tags: dict[str, None] = {}  # in the registry's order, each once
        invalid: list[object] = []
        url: str | None = f"/v2/{repository}/tags/list?n={PAGE_SIZE}"
        followed: set[str] = set()
        while url is not None:
            if url in followed:
                raise RegistryRejected(registry=self.name, repository=repository,
                                       detail=f"tag pagination loops: Link to {_shown(url)} was already followed")
            if len(followed) >= MAX_TAG_PAGES:
                raise RegistryRejected(registry=self.name, repository=repository,
                                       detail=f"tag pagination does not end (more than {MAX_TAG_PAGES} pages)")
            followed.add(url)
            resp = self._request("GET", url, repository=repository, limit=MAX_TAG_PAGE_BYTES)
            for entry in self._tag_page(resp, repository):
                if is_valid_tag(entry):
                    tags[entry] = None
                else:
                    invalid.append(entry)
            if len(tags) + len(invalid) > MAX_TAGS:
                raise RegistryRejected(registry=self.name, repository=repository,
                                       detail=f"more than {MAX_TAGS} tags listed; not reading further")
            url = self._next_link(resp, repository)
        self._warn_invalid(repository, invalid)
        return list(tags)

    def digest(self, repository: str, reference: str) -> str:
        """The manifest digest of a tag: HEAD's `Docker-Content-Digest`; without it, the hash of a
        GET body that is a manifest or index (by Content-Type and by shape), which must agree with
        the GET's own header when there is one. Anything else raises: nothing is pinned."""
        self._check_reference(repository, reference)
        path = f"/v2/{repository}/manifests/{reference}"
        head = self._manifest_request("HEAD", path, repository=repository, reference=reference)
        said = head.headers.get("Docker-Content-Digest")
        if said:
            return self._checked_digest(said, repository=repository, what=f"HEAD {path}")
        resp = self._manifest_request("GET", path, repository=repository, reference=reference)
        return self._body_digest(resp, repository=repository, what=f"GET {path}")

    def created(self, repository: str, reference: str, platform: str | None = None) -> datetime | None:
        """The image's creation time from its config blob. For an index: the `platform` image
        (os/arch[/variant], as domain.platforms matches it), none when the index has none; without
        `platform`, the linux/amd64 image, else the first (the index's platforms decide). A single image
        of another platform than `platform` (its config says) has no time for it."""
        self._check_reference(repository, reference)
        manifest = self._manifest(repository, reference)
        indexed = manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest
        if indexed:
            listed = manifest.get("manifests")
            entries = [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
            chosen = choose_platform([m.get("platform") for m in entries], platform)
            if chosen is None:
                return None
            manifest = self._manifest(repository, self._checked_digest(
                entries[chosen].get("digest"), repository=repository, what=f"index {reference}: manifest entry"))
        config = manifest.get("config")
        if not isinstance(config, dict) or not config.get("digest"):
            return None
        blob = self._checked_digest(config["digest"], repository=repository, what=f"manifest {reference}: config")
        resp = self._request("GET", f"/v2/{repository}/blobs/{blob}", repository=repository)
        image = self._json(resp, repository)
        if platform is not None and not indexed and not matches(image, platform):
            return None
        return _parse_time(image.get("created"))

    def created_cached(self, repository: str, tag: str, platform: str | None = None) -> datetime | None:
        """`created`, remembered per tag and platform: like the peers, only the digest strategy treats
        tags as mutable, and it never asks for creation times."""
        key = (repository, tag, platform or "")
        if key not in self._created:
            self._created[key] = self.created(repository, tag, platform)
        return self._created[key]

    # --- what the registry says, checked ---------------------------------------------
    def _tag_page(self, resp: httpx.Response, repository: str) -> list[object]:
        body = self._json(resp, repository)
        what = f"{resp.request.method} {resp.request.url.raw_path.decode('ascii', 'replace')}"
        if "tags" not in body:
            raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                   detail=f"{what}: malformed tag list: no \"tags\" in the answer")
        entries = body["tags"]
        if entries is None:  # distribution answers null once every tag of a repository is deleted
            return []
        if not isinstance(entries, list):
            raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                   detail=f"{what}: malformed tag list: \"tags\" is {_kind(entries)}, not a list")
        return entries

    def _warn_invalid(self, repository: str, invalid: list[object]) -> None:
        """One warning per invalid tag per process (a bounded memory of those already told)."""
        new: list[object] = []
        with self._warned_lock:
            for entry in invalid:
                key = (repository, hashlib.blake2b(_ascii(entry).encode(), digest_size=16).digest())
                if key in self._warned:
                    self._warned.move_to_end(key)
                    continue
                self._warned[key] = None
                new.append(entry)
                while len(self._warned) > MAX_WARNED:
                    self._warned.popitem(last=False)
        for entry in new[:MAX_WARNINGS_PER_LISTING]:
            log.warning("registry %s/%s: tag %s skipped: %s; only OCI tags ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) "
                        "are considered", self.name, repository, _shown(entry), tag_problem(entry))
        if len(new) > MAX_WARNINGS_PER_LISTING:
            log.warning("registry %s/%s: %d more invalid tags skipped (not shown)", self.name, repository,
                        len(new) - MAX_WARNINGS_PER_LISTING)

    def _check_reference(self, repository: str, reference: str) -> None:
        if not (is_valid_tag(reference) or is_valid_digest(reference)):
            raise RegistryRejected(registry=self.name, repository=repository,
                                   detail=f"{_shown(reference)} is neither an OCI tag nor a digest; not asked")

    def _checked_digest(self, digest: object, *, repository: str, what: str) -> str:
        if not is_valid_digest(digest):
            raise RegistryRejected(registry=self.name, repository=repository,
                                   detail=f"{what}: digest {_shown(digest)} is not sha256:<64 hex> or "
                                          "sha512:<128 hex>; nothing pinned")
        return str(digest)

    def _body_digest(self, resp: httpx.Response, *, repository: str, what: str) -> str:
        """The digest of a manifest GET without a trustworthy header: only a manifest or index,
        by its Content-Type and its content, is hashed."""
        media = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()

        def refuse(why: str) -> RegistryRejected:
            return RegistryRejected(registry=self.name, repository=repository,
                                    detail=f"{what}: no Docker-Content-Digest, and {why}; nothing pinned")

        if media not in INDEX_TYPES + IMAGE_TYPES:
            raise refuse(f"the answer is {_shown(media) if media else 'untyped'}, not a manifest or index")
        body = _loads(resp.content)
        if not _is_manifest(body, media):
            raise refuse(f"the answer does not parse as {media}")
        said = resp.headers.get("Docker-Content-Digest")
        algorithm = "sha256"
        if said:
            algorithm = self._checked_digest(said, repository=repository, what=what).partition(":")[0]
        computed = f"{algorithm}:{hashlib.new(algorithm, resp.content).hexdigest()}"
        if said and said != computed:
            raise RegistryRejected(registry=self.name, repository=repository,
                                   detail=f"{what}: Docker-Content-Digest {said} does not match the body's "
                                          f"{computed}; nothing pinned")
        return computed

    def _next_link(self, resp: httpx.Response, repository: str) -> str | None:
        """The `rel="next"` target of a Link header, as a path on this registry."""
        try:
            return _next_link(resp)
        except (httpx.InvalidURL, ValueError) as exc:
            raise RegistryRejected(registry=self.name, repository=repository,
                                   detail=f"tag pagination: Link header is unusable ({exc})") from None

    # --- internals -------------------------------------------------------------------
    def _manifest(self, repository: str, reference: str) -> dict[str, Any]:
        resp = self._manifest_request("GET", f"/v2/{repository}/manifests/{reference}", repository=repository,
                                      reference=reference)
        return self._json(resp, repository)

    def _manifest_request(self, method: str, path: str, *, repository: str, reference: str) -> httpx.Response:
        """A manifest by tag. Not found is transient: a listed tag deleted since is gone from the
        next listing, so the next pass decides again."""
        try:
            return self._request(method, path, repository=repository, headers={"Accept": MANIFEST_ACCEPT})
        except RegistryRejected as exc:
            if exc.status != 404:
                raise
            raise RegistryUnavailable(registry=self.name, repository=repository, status=404,
                                      detail=f"{exc.detail}: tag {_shown(reference)} is not there (deleted after "
                                             "it was listed?); trying again next pass") from None

    def _json(self, resp: httpx.Response, repository: str) -> dict[str, Any]:
        what = f"{resp.request.method} {resp.request.url.raw_path.decode('ascii', 'replace')}"
        body = _loads(resp.content)
        if body is _NOT_JSON:
            raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                   detail=f"{what}: answer is not JSON")
        if not isinstance(body, dict):
            raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                   detail=f"{what}: answer is not a JSON object")
        return body

    def _request(self, method: str, url: str, *, repository: str, scope: str | None = "",
                 headers: dict[str, str] | None = None, limit: int = MAX_MANIFEST_BYTES) -> httpx.Response:
        if scope == "":
            scope = f"repository:{repository}:pull"
        auth = {"header": self._cached_auth(scope), "tried": False}

        def attempt() -> httpx.Response:
            while True:  # at most twice: once more with credentials after a 401 challenge
                self._limiter.acquire()
                hdrs = dict(headers or {})
                if auth["header"]:
                    hdrs["Authorization"] = str(auth["header"])
                resp = self._send(method, url, headers=hdrs, repository=repository, limit=limit)
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
                        what=f"registry {self.name}", give_up=self._give_up(repository),
                        wait_cap=self.max_retry_after)

    def _send(self, method: str, url: str, *, headers: dict[str, str], repository: str, limit: int,
              params: dict[str, str] | None = None) -> httpx.Response:
        """One HTTP exchange, whole within the deadline, its body read up to `limit` bytes (an
        error answer's up to MAX_ERROR_BYTES, the rest dropped). Transport failures and the
        deadline raise Retry; a body over the limit raises RegistryRejected."""
        where = f"{method} {url}"
        with self._count_lock:
            self.requests += 1
        try:
            with self._in_flight, self._deadline.within(self.deadline) as end, \
                    self._http.stream(method, url, headers=headers, params=params) as resp:
                failed = resp.status_code >= 400
                declared = resp.headers.get("Content-Length", "").strip()
                if not failed and declared.isascii() and declared.isdigit() and (
                        len(declared) > 15 or int(declared) > limit):
                    raise self._too_large(where, repository=repository, limit=limit)
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > (MAX_ERROR_BYTES if failed else limit):
                        if not failed:
                            raise self._too_large(where, repository=repository, limit=limit)
                        del body[MAX_ERROR_BYTES:]
                        break
                    if time.monotonic() > end:
                        raise httpx.ReadTimeout("the request's deadline passed", request=resp.request)
                return _complete(resp, bytes(body))
        except httpx.TimeoutException:
            raise Retry(f"{where}: no complete answer within {seconds(self.deadline)} s") from None
        except httpx.ConnectError as exc:
            raise Retry(f"{where}: cannot connect ({_text(str(exc))})") from None
        except httpx.TransportError as exc:
            raise Retry(f"{where}: connection failed ({_text(str(exc)) or type(exc).__name__})") from None
        except (httpx.DecodingError, httpx.TooManyRedirects) as exc:
            raise RegistryRejected(registry=self.name, repository=repository,
                                   detail=f"{where}: {_text(str(exc)) or type(exc).__name__}") from None
        except httpx.RequestError as exc:
            raise Retry(f"{where}: request failed ({_text(str(exc)) or type(exc).__name__})") from None

    def _too_large(self, where: str, *, repository: str, limit: int) -> RegistryRejected:
        return RegistryRejected(registry=self.name, repository=repository,
                                detail=f"{where}: answer larger than {limit} bytes; not read")

    def _give_up(self, repository: str) -> Callable[[Retry, int], RegistryUnavailable]:
        def unavailable(failure: Retry, tries: int) -> RegistryUnavailable:
            detail = failure.detail if failure.over_cap else f"{failure.detail}; gave up after {tries} attempts"
            return RegistryUnavailable(registry=self.name, repository=repository, status=failure.status,
                                       detail=detail)

        return unavailable

    def _credentials(self, repository: str = "") -> tuple[str, str] | None:
        c = self.config
        try:
            if c.username and c.password:
                return c.username.resolve(), c.password.resolve()
            if c.pull_secret:  # read at each use: a rotated Secret is picked up
                return pull_secret_credentials(c.pull_secret.resolve(), host=c.prefix.split("/")[0],
                                               repository=repository, source=c.pull_secret.where)
        except (ConfigError, PullSecretError) as exc:
            raise RegistryRejected(registry=self.name, repository=repository, detail=str(exc)) from None
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
        creds = self._credentials(repository)
        if challenge.scheme == "basic":
            if creds is None:
                raise RegistryRejected(registry=self.name, repository=repository, status=401,
                                       detail="registry asks for basic auth; configure auth.username/password"
                                       + (" (auth.pull_secret has no entry for it)" if self.config.pull_secret else ""))
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
            resp = self._send("GET", urljoin(self.config.api_url + "/", realm), headers=headers, params=params,
                              repository=repository, limit=MAX_MANIFEST_BYTES)
            if resp.status_code < 400:
                return resp
            err = f"token service {realm}: {_reason(resp)}"
            if resp.status_code < 500 and resp.status_code != 429:
                raise RegistryRejected(registry=self.name, repository=repository, status=resp.status_code,
                                       detail=err)
            wait = parse_retry_after(resp.headers.get("Retry-After")) if resp.status_code == 429 else None
            raise Retry(err, wait=wait, status=resp.status_code)

        resp = retrying(attempt, attempts=self.config.max_retries + 1, backoff=self._backoff, sleep=self._sleep,
                        what=f"registry {self.name}", give_up=self._give_up(repository),
                        wait_cap=self.max_retry_after)
        body = self._json(resp, repository)
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryRejected(registry=self.name, repository=repository, detail=f"token service {realm}: no token")
        if not (isinstance(token, str) and token.isascii() and token.isprintable() and " " not in token):
            raise RegistryRejected(registry=self.name, repository=repository,
                                   detail=f"token service {realm}: the token is not printable ASCII")
        lifetime = _lifetime(body.get("expires_in"))
        self._tokens.put(key, token, lifetime)
        # Remember under the scope we asked with too, so the next request sends it up front.
        self._tokens.put((realm, service, scope or ""), token, lifetime)
        return token


def _reason(resp: httpx.Response) -> str:
    """The registry's own words for a failed answer (its `errors` list), printable and short."""
    body = _loads(resp.content)
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list):
        said = "; ".join(f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors[:5]
                         if isinstance(e, dict))
        if said.strip():
            return _text(said)
    return _text(resp.reason_phrase) or f"HTTP {resp.status_code}"


def _next_link(resp: httpx.Response) -> str | None:
    """The `rel="next"` target of a Link header, as a path on the registry that sent it. A Link to
    another host is refused: the next request would carry this registry's credentials there."""
    link = resp.links.get("next")
    if not link or not link.get("url"):
        return None
    url = httpx.URL(link["url"])
    if url.is_absolute_url:
        if (url.scheme, url.host, url.port) != (resp.url.scheme, resp.url.host, resp.url.port):
            raise ValueError(f"it points at another host: {_shown(str(url))}")
        url = url.copy_with(scheme=None, host=None, port=None)
    if not url.path.startswith("/v2/"):
        raise ValueError(f"it points outside the registry API: {_shown(str(url))}")
    return str(url)


class _NotJson:
    pass


_NOT_JSON = _NotJson()


def _loads(content: bytes) -> Any:
    """A JSON document, or _NOT_JSON (not UTF-8, not JSON, nested too deep to read)."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _NOT_JSON


def _is_manifest(body: Any, media: str) -> bool:
    """Whether `body` has the shape of an image manifest or an index of media type `media`
    (schemaVersion 2, its own mediaType when given agreeing with the Content-Type)."""
    if not isinstance(body, dict) or body.get("schemaVersion") != 2:
        return False
    if "mediaType" in body and body["mediaType"] != media:
        return False
    if media in INDEX_TYPES:
        return isinstance(body.get("manifests"), list)
    return isinstance(body.get("config"), dict) and isinstance(body.get("layers"), list)




def _complete(resp: httpx.Response, body: bytes) -> httpx.Response:
    """A finished response holding `body` (already decoded, already bounded)."""
    headers = [(k, v) for k, v in resp.headers.raw
               if k.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")]
    extensions = {k: v for k, v in resp.extensions.items() if k in ("http_version", "reason_phrase")}
    return httpx.Response(resp.status_code, headers=headers, content=body, request=resp.request,
                          extensions=extensions)


def _lifetime(value: Any) -> float:
    """A token's `expires_in`: seconds between 1 and a day; the spec's 60 when absent or odd."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 86400:
        return 60.0
    return float(value)


def _kind(value: object) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _ascii(value: object) -> str:
    """`value` as JSON in ASCII: escapes every control and non-ASCII character."""
    try:
        return json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        return ascii(value)


def _shown(value: object, limit: int = 80) -> str:
    """`value` for a message or a log line: JSON, ASCII, at most `limit` characters."""
    text = _ascii(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _text(value: str, limit: int = 300) -> str:
    """A far side's words for a message: control characters escaped, at most `limit` characters."""
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in value[:limit])
    return out + "…" if len(value) > limit else out


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

    def created(self, image: str, tag: str, *, platform: str | None = None) -> datetime | None:
        return self.client(image).created_cached(self.repository(image), tag, platform)

    def digest(self, image: str, tag: str) -> str:
        return self.client(image).digest(self.repository(image), tag)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
