"""Registry authentication by challenge: anonymous, Basic, and Bearer tokens cached per scope."""

from __future__ import annotations

import base64
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
