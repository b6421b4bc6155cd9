"""Container image references as written in manifests: ``[host[:port]/]path[:tag][@digest]``."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")  # the OCI tag grammar, ASCII only
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    name: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse a reference; raise ValueError with the reason when it is not one."""
        rest, digest = text.strip(), None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not _DIGEST.match(digest):
                raise ValueError(f"invalid digest {digest!r} in image {text!r}")
        tag = None
        colon, slash = rest.rfind(":"), rest.rfind("/")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise ValueError(f"invalid tag {tag!r} in image {text!r}")
        if not rest or rest.endswith("/") or " " in rest:
            raise ValueError(f"invalid image name in {text!r}")
        return cls(name=rest, tag=tag, digest=digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_version(self, *, tag: str, digest: str | None) -> ImageRef:
        return replace(self, tag=tag, digest=digest)

    @property
    def registry(self) -> str:
        """The registry host, as in the reference (``docker.io`` when none is written)."""
        first, _, rest = self.name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            return first
        return DOCKER_HUB

    @property
    def repository(self) -> str:
        """The repository path inside the registry (``library/x`` for official Hub images)."""
        first, _, rest = self.name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            return rest
        return self.name if "/" in self.name else f"library/{self.name}"


def same_image(a: str, b: str) -> bool:
    """Whether two image names denote the same repository (``nginx`` == ``docker.io/library/nginx``)."""
    ra, rb = ImageRef(a), ImageRef(b)
    return (ra.registry, ra.repository) == (rb.registry, rb.repository)
