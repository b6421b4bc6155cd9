"""Webhook payloads: who may send them, and what they name. Pure: no I/O, no clock, stdlib only.

The HTTP server authenticates a request (`verify_bearer`, `verify_signature`), then asks which
configured images a registry push names (`registry_pushes` → `images_to_check`) or which branches,
commits and pull requests a GitHub event touches (`github_signal`, `promoter_branch`). A webhook is
only a hint to look again sooner: callers re-read the registry and GitHub and never act on a
payload's tag, digest or state.

Every payload this module cannot read raises `WebhookError` naming the place, e.g.
``events[2].target.repository: expected a string, got a number``; no KeyError, TypeError or
AttributeError escapes, whatever the sender posts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass


class WebhookError(ValueError):
    """A payload that cannot be read; the message says what was wrong and where."""


# --- authentication -------------------------------------------------------------------------------

_HEX = frozenset("0123456789abcdefABCDEF")


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # never raises, whatever the header decoded to


def verify_bearer(authorization: str | None, secret: str) -> bool:
    """Whether an ``Authorization`` header is ``Bearer <secret>`` (the scheme is case-insensitive,
    RFC 7235). Constant-time; False when the header is missing, uses another scheme or the secret is
    empty. This is how the distribution registry authenticates: its endpoint ``headers`` option
    (distribution docs/notifications.md, "Configuration")."""
    if not secret or not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(_utf8(token), _utf8(secret))


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is the HMAC-SHA256 of the raw `body` under `secret`: GitHub's
    ``X-Hub-Signature-256: sha256=<hex>`` form, or a bare hex digest as some registry proxies send.
    Constant-time; False for a missing header, an empty secret, another algorithm or malformed hex."""
    if not secret or header is None:
        return False
    value = header.strip()
    if value[:7].lower() == "sha256=":
        value = value[7:]
    if len(value) != 64 or not _HEX.issuperset(value):
        return False
    expected = hmac.new(_utf8(secret), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, value.lower())


# --- reading JSON with a path in every error ------------------------------------------------------

_MISSING = object()


def _reject_constant(name: str) -> object:
    raise WebhookError(f"payload: {name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise WebhookError(f"payload: number {text[:40]} is out of range")
    return value


def _parse(body: bytes, content_type: str | None = None) -> dict[str, object]:
    try:
        doc = json.loads(body, parse_constant=_reject_constant, parse_float=_finite)
    except WebhookError:
        raise
    except RecursionError:
        raise WebhookError("payload: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
        sent = f" (sent as {content_type})" if content_type else ""
        raise WebhookError(f"payload: not valid JSON{sent}: {str(exc)[:200]}") from None
    return _obj(doc, "")


def _kind(value: object) -> str:
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _wrong(value: object, path: str, expected: str) -> WebhookError:
    return WebhookError(f"{path or 'payload'}: expected {expected}, got {_kind(value)}")


def _obj(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _wrong(value, path, "an object")
    return value


def _req_obj(obj: dict[str, object], key: str, path: str) -> dict[str, object]:
    return _obj(obj.get(key, _MISSING), _at(path, key))


def _opt_obj(obj: dict[str, object], key: str, path: str) -> dict[str, object] | None:
    value = obj.get(key)
    return None if value is None else _obj(value, _at(path, key))


def _req_str(obj: dict[str, object], key: str, path: str) -> str:
    value = obj.get(key, _MISSING)
    if not isinstance(value, str):
        raise _wrong(value, _at(path, key), "a string")
    return value


def _opt_str(obj: dict[str, object] | None, key: str, path: str) -> str | None:
    """The string at `key`, None when absent or null; "" stays "" (callers decide what empty means)."""
    value = None if obj is None else obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong(value, _at(path, key), "a string")
    return value


def _items(obj: dict[str, object], key: str, path: str, *, required: bool = False) -> Iterator[tuple[str, object]]:
    """(path, item) for each item of the list at `key`; absent or null is empty unless `required`."""
    value = obj.get(key, _MISSING)
    where = _at(path, key)
    if not required and (value is _MISSING or value is None):
        return
    if not isinstance(value, list):
        raise _wrong(value, where, "a list")
    for i, item in enumerate(value):
        yield f"{where}[{i}]", item


def _req_number(obj: dict[str, object], key: str, path: str) -> int:
    value = obj.get(key, _MISSING)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**53:
        raise _wrong(value, _at(path, key), "a positive integer")
    return value


# --- registry pushes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Push:
    """One image push a registry reported. `host` None means the payload did not say (the push then
    matches any configured image with that repository path)."""

    host: str | None
    repository: str
    tag: str | None
    digest: str | None


DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
GHCR = "ghcr.io"

# The distribution registry's envelope media type: v1 in distribution 2.x (Debian's docker-registry
# 2.8 sends it, see docs/notifications.md), v2 in distribution 3 (notifications/event.go EventsMediaType).
_EVENTS_MEDIA_TYPES = frozenset({"application/vnd.docker.distribution.events.v1+json",
                                 "application/vnd.docker.distribution.events.v2+json"})
# Manifests and indexes; a blob push (layer or config) carries the blob's descriptor instead, which
# docker-registry 2.8 sends as application/octet-stream with a /blobs/ URL (notifications/bridge.go:
# createBlobEvent copies the upload's descriptor; createManifestEvent sets the manifest's media type).
_MANIFEST_MEDIA_TYPES = frozenset({
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
})
_HARBOR_PUSH_TYPES = frozenset({"PUSH_ARTIFACT", "pushImage"})  # Harbor 2.x; Harbor 1.9/1.10


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _host(value: str | None) -> str | None:
    host = (value or "").strip().lower().rstrip(".")
    return host or None


def _url_host(url: str | None) -> str | None:
    """``http://127.0.0.1:5000/v2/acme/web/manifests/sha256:…`` → ``127.0.0.1:5000``."""
    _, sep, rest = (url or "").partition("://")
    if not sep:
        return None
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return _host(authority.rpartition("@")[2])


def _repository(value: str, path: str) -> str:
    repository = value.strip().strip("/")
    if not repository:
        raise WebhookError(f"{path}: expected a repository name, got an empty string")
    return repository


def _strip_version(reference: str) -> str:
    """``host/ns/name:tag@sha256:…`` → ``host/ns/name``."""
    name = reference.split("@", 1)[0]
    colon, slash = name.rfind(":"), name.rfind("/")
    return name[:colon] if colon > slash else name


def _distribution(doc: dict[str, object]) -> list[Push]:
    """The CNCF distribution registry's notification envelope, as docker-registry 2.8 sends it
    (distribution notifications/event.go Envelope/Event, notifications/bridge.go, notifications/http.go;
    docs/notifications.md and docs/content/about/notifications.md). One event per envelope from its
    http sink, but an envelope may hold many. Only `push` events of a manifest or an index count; the
    host is the Host header the pusher used (request.host, bridge.go NewRequestRecord), else the
    host of target.url."""
    pushes: list[Push] = []
    for where, item in _items(doc, "events", "", required=True):
        event = _obj(item, where)
        action = _req_str(event, "action", where)
        t_at = _at(where, "target")
        target = _req_obj(event, "target", where)
        repository = _req_str(target, "repository", t_at)
        media_type = _opt_str(target, "mediaType", t_at)
        tag = _opt_str(target, "tag", t_at)
        digest = _opt_str(target, "digest", t_at)
        url = _opt_str(target, "url", t_at)
        request = _opt_obj(event, "request", where)
        host = _opt_str(request, "host", _at(where, "request"))
        if action != "push":
            continue  # pull, delete, mount
        if media_type:
            if _media_type(media_type) not in _MANIFEST_MEDIA_TYPES:
                continue
        elif "/manifests/" not in (url or ""):
            continue  # no media type: only a manifest URL says it is one
        pushes.append(Push(_host(host) or _url_host(url), _repository(repository, _at(t_at, "repository")),
                           tag or None, digest or None))
    return pushes


def _docker_hub(doc: dict[str, object]) -> list[Push]:
    """Docker Hub's repository webhook (docs.docker.com/docker-hub/repos/manage/webhooks): one push,
    ``push_data.tag`` into ``repository.repo_name``; official images are ``library/<name>``."""
    push_data = _req_obj(doc, "push_data", "")
    tag = _opt_str(push_data, "tag", "push_data")
    repo = _req_obj(doc, "repository", "")
    repo_name = _opt_str(repo, "repo_name", "repository")
    if repo_name:
        repository = _repository(repo_name, "repository.repo_name")
    else:
        namespace = _opt_str(repo, "namespace", "repository") or "library"
        name = _repository(_req_str(repo, "name", "repository"), "repository.name")
        repository = f"{namespace.strip().strip('/') or 'library'}/{name}"
    if "/" not in repository:
        repository = f"library/{repository}"
    return [Push(DOCKER_HUB, repository, tag or None, None)]


def _github_package(doc: dict[str, object], key: str) -> list[Push]:
    """GitHub's `package` and older `registry_package` events (octokit/webhooks payload-schemas
    api.github.com/package/published.schema.json and registry_package/published.schema.json; GitHub
    docs "Webhook events and payloads"). Container packages live on ghcr.io as ``<owner>/<name>``;
    package_type is ``CONTAINER`` in one schema and ``container`` in the other. ``docker`` is the
    retired docker.pkg.github.com registry and, like npm or maven, names no ghcr.io push."""
    action = _req_str(doc, "action", "")
    package = _req_obj(doc, key, "")
    package_type = _req_str(package, "package_type", key)
    name = _req_str(package, "name", key)
    owner = _opt_obj(package, "owner", key)
    login = _opt_str(owner, "login", _at(key, "owner"))
    namespace = _opt_str(package, "namespace", key)
    v_at = _at(key, "package_version")
    version = _opt_obj(package, "package_version", key)
    metadata = None if version is None else _opt_obj(version, "container_metadata", v_at)
    m_at = _at(v_at, "container_metadata")
    tag = None if metadata is None else _opt_obj(metadata, "tag", m_at)
    tag_name = _opt_str(tag, "name", _at(m_at, "tag"))
    digest = _opt_str(tag, "digest", _at(m_at, "tag"))
    if action not in ("published", "updated") or package_type.lower() != "container":
        return []
    account = login or namespace
    if not account:
        raise WebhookError(f"{key}.owner.login: expected a string, got nothing (and no {key}.namespace)")
    package_name = _repository(name, _at(key, "name"))
    return [Push(GHCR, f"{account.strip().strip('/')}/{package_name}".lower(), tag_name or None, digest or None)]


def _harbor(doc: dict[str, object]) -> list[Push]:
    """Harbor's default webhook format (goharbor/harbor src/pkg/notifier/model/event.go Payload;
    goharbor/website docs/working-with-projects/project-configuration/configure-webhooks.md): each
    resource's resource_url is ``<harbor host>/<repo_full_name>:<tag>`` or ``…@<digest>``."""
    kind = _req_str(doc, "type", "")
    data = _req_obj(doc, "event_data", "")
    repo = _opt_obj(data, "repository", "event_data")
    full_name = _opt_str(repo, "repo_full_name", "event_data.repository")
    if kind not in _HARBOR_PUSH_TYPES:
        return []
    pushes: list[Push] = []
    for where, item in _items(data, "resources", "event_data", required=True):
        resource = _obj(item, where)
        url = _opt_str(resource, "resource_url", where)
        tag = _opt_str(resource, "tag", where)
        digest = _opt_str(resource, "digest", where)
        host, path = _harbor_reference(url or "", full_name)
        repository = (full_name or "").strip().strip("/") or path
        if not repository:
            raise WebhookError(f"{_at(where, 'resource_url')}: names no repository, and "
                               "event_data.repository.repo_full_name is missing")
        if tag and (":" in tag or "@" in tag):
            tag = None  # a by-digest push: Harbor reports the digest as its tag
        pushes.append(Push(host, repository, tag or None, digest or None))
    return pushes


def _harbor_reference(url: str, full_name: str | None) -> tuple[str | None, str]:
    """(host, repository path) of a Harbor resource_url."""
    name = _strip_version(url.strip())
    full = (full_name or "").strip().strip("/")
    if full and name.endswith("/" + full) and len(name) > len(full) + 1:
        return _host(name[: -len(full) - 1]), full
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return _host(first), rest.strip("/")
    return None, name.strip("/")


def _quay(doc: dict[str, object]) -> list[Push]:
    """Quay's "Repository Push" notification (Red Hat Quay docs "Repository notifications"):
    ``repository`` is ``ns/name`` on the host of ``docker_url``; ``updated_tags`` is a list of tags
    (an object of tag → image id in Quay's 2013 form, still accepted). Other Quay notifications (a
    build queued or done, a vulnerability found) carry no updated_tags and name no push."""
    repository = _repository(_req_str(doc, "repository", ""), "repository")
    docker_url = _req_str(doc, "docker_url", "")
    value = doc.get("updated_tags", _MISSING)
    if value is _MISSING:
        return []
    if isinstance(value, dict):
        tags = list(value)
    elif isinstance(value, list):
        tags = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _wrong(item, f"updated_tags[{i}]", "a string")
            tags.append(item)
    else:
        raise _wrong(value, "updated_tags", "a list")
    host = _url_host(docker_url) or _host(docker_url.split("/", 1)[0])
    pushes = [Push(host, repository, tag, None) for tag in dict.fromkeys(tags) if tag]
    return pushes or [Push(host, repository, None, None)]


def registry_pushes(body: bytes, content_type: str | None) -> list[Push]:
    """The image pushes a registry webhook reports, recognised by the payload's shape: the CNCF
    distribution registry's notification envelope (Content-Type
    ``application/vnd.docker.distribution.events.v1+json``), Docker Hub, GitHub's `package` /
    `registry_package` events for ghcr.io, Harbor and Quay. A valid payload naming no push (a pull,
    a delete, a blob upload, a non-container package, GitHub's ping) gives []. Anything else raises
    WebhookError naming the place. `content_type` is only a hint: the distribution media type demands
    the envelope; other types are read by shape (curl's default form type included)."""
    doc = _parse(body, content_type)
    if _media_type(content_type) in _EVENTS_MEDIA_TYPES or "events" in doc:
        return _distribution(doc)
    if "push_data" in doc:
        return _docker_hub(doc)
    if "registry_package" in doc:
        return _github_package(doc, "registry_package")
    if "package" in doc:
        return _github_package(doc, "package")
    if "event_data" in doc:
        return _harbor(doc)
    if "docker_url" in doc:
        return _quay(doc)
    if "zen" in doc and "hook_id" in doc:
        return []  # GitHub's ping when a webhook for package events is created
    keys = ", ".join(repr(k[:40]) for k in sorted(doc)[:8]) or "none"
    raise WebhookError("payload: not a registry notification this promoter reads (distribution events, Docker Hub, "
                       f"GitHub package, Harbor, Quay); top-level keys: {keys}")


# --- which configured images a push names ---------------------------------------------------------

def _split_image(image: str) -> tuple[str, str]:
    """(host, repository path) of a configured image, with Docker Hub's defaults and aliases:
    ``nginx`` → (docker.io, library/nginx), ``index.docker.io/acme/web`` → (docker.io, acme/web)."""
    name = _strip_version(image.strip()).strip("/")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first.lower() == "localhost"):
        host, path = first.lower(), rest
    else:
        host, path = DOCKER_HUB, name
    if host in _HUB_ALIASES:
        host = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return host, path.strip("/").lower()


def _push_key(push: Push) -> tuple[str | None, str]:
    host = _host(push.host)
    path = push.repository.strip().strip("/").lower()
    if host in _HUB_ALIASES:
        host = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return host, path


def images_to_check(pushes: Iterable[Push], known_images: Iterable[str]) -> set[str]:
    """The configured images (returned exactly as written in `known_images`) that these pushes
    name: same registry host and repository path, with Docker Hub's normalisation (``nginx`` ==
    ``docker.io/library/nginx``; index.docker.io and registry-1.docker.io are docker.io). A push
    without a host matches any configured image with that repository path. Nothing outside
    `known_images` is ever returned, so a payload cannot make the caller contact an unknown host.

    The payload's tag and digest are not trusted: the caller re-reads the registry for the image's
    tags, and a forged or stale webhook only causes an early, harmless re-check."""
    wanted = [_push_key(p) for p in pushes]
    found: set[str] = set()
    for image in known_images:
        host, path = _split_image(image)
        if any(path == w_path and w_host in (None, host) for w_host, w_path in wanted):
            found.add(image)
    return found


# --- GitHub events --------------------------------------------------------------------------------

@dataclass(frozen=True)
class GitHubSignal:
    """What a GitHub event touches: the repository (``owner/name``), branch names, commit shas and
    pull request numbers. Empty for events the promoter does not read."""

    repo: str | None
    branches: frozenset[str]
    shas: frozenset[str]
    pulls: frozenset[int]


EMPTY_SIGNAL = GitHubSignal(None, frozenset(), frozenset(), frozenset())
_ZERO_SHA = frozenset({"0" * 40, "0" * 64})


@dataclass
class _Found:
    branches: set[str]
    shas: set[str]
    pulls: set[int]

    def branch(self, name: str | None) -> None:
        if name:
            self.branches.add(name)

    def sha(self, sha: str | None) -> None:
        if sha and sha not in _ZERO_SHA:
            self.shas.add(sha)


def _pull(pr: dict[str, object], path: str, found: _Found) -> None:
    """A pull request object (or the short form in check_*.pull_requests[]): number, head.ref, head.sha."""
    found.pulls.add(_req_number(pr, "number", path))
    head = _req_obj(pr, "head", path)
    found.branch(_req_str(head, "ref", _at(path, "head")))
    found.sha(_req_str(head, "sha", _at(path, "head")))


def _pulls(obj: dict[str, object], path: str, found: _Found) -> None:
    for where, item in _items(obj, "pull_requests", path):
        _pull(_obj(item, where), where, found)


def _on_pull_request(doc: dict[str, object], found: _Found) -> None:
    _pull(_req_obj(doc, "pull_request", ""), "pull_request", found)


def _on_check_run(doc: dict[str, object], found: _Found) -> None:
    run = _req_obj(doc, "check_run", "")
    found.sha(_req_str(run, "head_sha", "check_run"))
    suite = _opt_obj(run, "check_suite", "check_run")
    if suite is not None:
        found.branch(_opt_str(suite, "head_branch", "check_run.check_suite"))  # null for some forks
        found.sha(_opt_str(suite, "head_sha", "check_run.check_suite"))
    _pulls(run, "check_run", found)


def _on_check_suite(doc: dict[str, object], found: _Found) -> None:
    suite = _req_obj(doc, "check_suite", "")
    found.branch(_opt_str(suite, "head_branch", "check_suite"))
    found.sha(_req_str(suite, "head_sha", "check_suite"))
    _pulls(suite, "check_suite", found)


def _on_status(doc: dict[str, object], found: _Found) -> None:
    found.sha(_req_str(doc, "sha", ""))
    for where, item in _items(doc, "branches", ""):  # the branches whose history holds `sha`
        found.branch(_req_str(_obj(item, where), "name", where))


def _on_push(doc: dict[str, object], found: _Found) -> None:
    ref = _req_str(doc, "ref", "")
    found.sha(_opt_str(doc, "after", ""))  # all zeros when the branch was deleted
    if ref.startswith("refs/heads/"):
        found.branch(ref.removeprefix("refs/heads/"))


# Field names per GitHub's webhook payload docs and octokit/webhooks payload-examples
# (check_run/completed.payload.json, status/payload.json, …).
_GITHUB_EVENTS: dict[str, Callable[[dict[str, object], _Found], None]] = {
    "pull_request": _on_pull_request,
    "pull_request_review": _on_pull_request,
    "check_run": _on_check_run,
    "check_suite": _on_check_suite,
    "status": _on_status,
    "push": _on_push,
}


def github_signal(event: str, payload: bytes) -> GitHubSignal:
    """What a GitHub webhook (``X-GitHub-Event: <event>``) touches. `ping` and events the promoter
    does not read give EMPTY_SIGNAL without reading the payload; a malformed payload of a read event
    raises WebhookError naming the place. Like a registry push, a signal only says where to look:
    callers re-read the pull request, its reviews and checks from GitHub."""
    reader = _GITHUB_EVENTS.get(event.strip().lower())
    if reader is None:
        return EMPTY_SIGNAL
    if payload[:8] == b"payload=":
        raise WebhookError("payload: form-encoded; set the GitHub webhook's content type to application/json")
    doc = _parse(payload)
    repository = _opt_obj(doc, "repository", "")
    repo = _opt_str(repository, "full_name", "repository")
    found = _Found(set(), set(), set())
    reader(doc, found)
    return GitHubSignal(repo or None, frozenset(found.branches), frozenset(found.shas), frozenset(found.pulls))


def promoter_branch(branch: str) -> tuple[str, str] | None:
    """``promoter/<env>/<app>`` (also as ``refs/heads/…``) → (env, app): the inverse of
    proposal.branch_name. None for any other branch."""
    parts = branch.removeprefix("refs/heads/").split("/")
    if len(parts) != 3 or parts[0] != "promoter":
        return None
    env, app = parts[1], parts[2]
    if not env or not app or any(c.isspace() for c in env + app):
        return None
    return env, app
