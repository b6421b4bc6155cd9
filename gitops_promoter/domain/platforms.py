"""Which image of a multi-platform index a `newest-build` policy reads its creation time from.

A platform is written ``os/architecture[/variant]`` (``linux/arm64``, ``linux/arm/v7``), as OCI image
indexes describe their entries (image-spec image-index.md: ``platform.os``, ``.architecture``,
``.variant``) and as Argo CD Image Updater names them (registry-scanner pkg/options: ``PlatformKey`` and
``WantsPlatform``): an entry matches when os, architecture and variant are equal, or when the entry has a
variant and the wanted platform names none (``linux/arm64`` takes ``linux/arm64/v8``).
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT = "linux/amd64"


def key(platform: object) -> str | None:
    """``os/architecture[/variant]`` of a platform object (an index entry's ``platform``, or an image
    config, which carries the same keys), or None when it names no os and architecture."""
    if not isinstance(platform, dict):
        return None
    os_, arch, variant = platform.get("os"), platform.get("architecture"), platform.get("variant")
    if not (isinstance(os_, str) and os_ and isinstance(arch, str) and arch):
        return None
    return f"{os_}/{arch}" + (f"/{variant}" if isinstance(variant, str) and variant else "")


def matches(platform: object, wanted: str) -> bool:
    """Whether `platform` is the `wanted` one (Image Updater's WantsPlatform for one platform)."""
    found = key(platform)
    if found is None:
        return False
    os_, arch, *variant = found.split("/", 2)
    return found == wanted or (bool(variant) and f"{os_}/{arch}" == wanted)


def choose_platform(platforms: Sequence[object], wanted: str | None) -> int | None:
    """The index of the entry whose image is read: the first that matches `wanted`, None when none
    does; without `wanted`, the first linux/amd64 entry, else the first entry (None when empty)."""
    if wanted is not None:
        return next((i for i, p in enumerate(platforms) if matches(p, wanted)), None)
    found = next((i for i, p in enumerate(platforms) if matches(p, DEFAULT)), None)
    return found if found is not None else (0 if platforms else None)
