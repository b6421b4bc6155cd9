"""Registry authentication by challenge: anonymous, Basic, and Bearer tokens cached per scope."""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" | "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """Parse one WWW-Authenticate challenge: ``Bearer realm="...",service="...",scope="..."``."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


@dataclass
class _Token:
    value: str
    expires: float


class TokenCache:
    """Bearer tokens per (realm, service, scope), refreshed a little before they expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tokens: dict[tuple[str, str, str], _Token] = {}

    def get(self, key: tuple[str, str, str]) -> str | None:
        tok = self._tokens.get(key)
        if tok is None or tok.expires <= self.clock():
            return None
        return tok.value

    def for_scope(self, scope: str) -> str | None:
        """A live token obtained for this scope on any realm (sent up front, saving a 401 round trip)."""
        for key in list(self._tokens):
            if key[2] == scope:
                token = self.get(key)
                if token:
                    return token
        return None

    def put(self, key: tuple[str, str, str], value: str, expires_in: float) -> None:
        # Keep a safety margin; the distribution spec's default lifetime is 60 s.
        self._tokens[key] = _Token(value, self.clock() + max(1.0, expires_in - 10.0))


def basic(username: str, password: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


# --- Kubernetes image pull secrets ------------------------------------------------------------

_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


class PullSecretError(ValueError):
    """A pull-secret file that cannot give credentials; the message names the file and the key."""


def pull_secret_credentials(text: str, *, host: str, repository: str, source: str) -> tuple[str, str] | None:
    """Username and password for `host`/`repository` from a Kubernetes ``kubernetes.io/dockerconfigjson``
    pull secret (``{"auths": {"<registry>": {"auth": base64(user:pass)} | {"username", "password"}}}``),
    or None when no entry is for this registry. Read as the kubelet reads it (kubernetes
    pkg/credentialprovider/config.go, DockerConfigEntry.UnmarshalJSON and decodeDockerConfigFieldAuth):
    a non-empty ``auth`` wins over ``username``/``password``; it is padded or unpadded standard base64 of
    ``user:password`` split at the first colon. Keys match as the kubelet's keyring matches them
    (keyring.go, URLsMatch): the scheme is dropped, the host matches part by part with ``*`` globs and the
    same port, and the key's path is a prefix of the repository's; Docker Hub's names are one registry.
    The most specific (longest) matching key wins. Argo CD Image Updater's ``pullsecret:`` reads the same
    field (pkg/image/credentials.go, parseDockerConfigJson). Every problem names `source` and the key."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PullSecretError(f"{source}: not JSON ({exc})") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        raise PullSecretError(f'{source}: no "auths" map; expected a kubernetes.io/dockerconfigjson file '
                              '({"auths": {"<registry>": {"auth": "<base64 of user:password>"}}})')
    matching = [key for key in auths if isinstance(key, str) and _key_matches(key, host, repository)]
    if not matching:
        return None
    key = max(matching, key=len)
    return _entry(auths[key], where=f'{source}: auths["{key}"]')


def _entry(entry: object, *, where: str) -> tuple[str, str]:
    if not isinstance(entry, dict):
        raise PullSecretError(f"{where}: must be a map with auth, or username and password")
    auth = entry.get("auth")
    if auth is not None and not isinstance(auth, str):
        raise PullSecretError(f"{where}.auth: must be a string (base64 of user:password)")
    if auth:
        padded = auth.strip().endswith("=")
        try:
            raw = base64.b64decode(auth if padded else auth + "=" * (-len(auth) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise PullSecretError(f"{where}.auth: not base64 of user:password") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise PullSecretError(f"{where}.auth: decodes to no user:password (no ':')")
        return user, password
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and (name or secret):
        return name, secret
    if entry.get("identitytoken") or entry.get("registrytoken"):
        raise PullSecretError(f"{where}: identitytoken / registrytoken are not supported; give auth, or username "
                              "and password")
    raise PullSecretError(f"{where}: has neither auth nor username and password")


def _split(name: str) -> tuple[str, str, str]:
    """host, port, path of a registry key or an image's registry/repository (scheme dropped)."""
    for scheme in ("https://", "http://"):
        if name.lower().startswith(scheme):
            name = name[len(scheme):]
    hostport, _, path = name.partition("/")
    host, _, port = hostport.partition(":")
    host = host.lower()
    if host in _DOCKER_HUB:
        host, path = "docker.io", "" if path.strip("/") == "v1" else path
    return host, port, path.strip("/")


def _key_matches(key: str, host: str, repository: str) -> bool:
    k_host, k_port, k_path = _split(key)
    t_host, t_port, _ = _split(host)
    k_parts, t_parts = k_host.split("."), t_host.split(".")
    if len(k_parts) != len(t_parts) or k_port != t_port:
        return False
    if not all(fnmatch.fnmatchcase(t, k) for k, t in zip(k_parts, t_parts, strict=True)):
        return False
    return repository.strip("/").startswith(k_path)
