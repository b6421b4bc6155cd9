"""Image edits of deployment files: read what runs, write the next version, touch nothing else.

Four kinds, as in the O&M config (`targets.<env>.edit.kind`):

* ``container`` — the ``image`` of a named container (or initContainer) of a Rollout,
  Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod; every document of the file.
* ``kustomize`` — ``images[]`` entry with the given ``name``: ``newTag`` and ``digest``.
* ``helm`` — a values key path such as ``image.tag`` (optionally ``digest_key``).
* ``marker`` — a scalar followed by ``# {"$promoter": "<app>"}`` (the whole reference),
  ``"<app>:tag"`` or ``"<app>:name"``, anywhere in the file; and, when the edit names a Flux
  ImagePolicy (``flux_policy: NS:NAME``), Flux's own setter markers ``# {"$imagepolicy": "NS:NAME"}``,
  ``"NS:NAME:tag"``, ``"NS:NAME:name"`` and ``"NS:NAME:digest"``, so a Flux repository needs no edit.

A reference that is pinned by digest stays pinned: a bump rewrites tag and digest.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gitops_promoter.domain.imageref import ImageRef, same_image
from gitops_promoter.domain.yamltext import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    Spot,
    compose_documents,
    get,
    get_path,
    insert_key_after,
    items,
    splice,
)
from gitops_promoter.errors import EditError


@dataclass(frozen=True)
class ContainerEdit:
    container: str
    kind: str = "container"


@dataclass(frozen=True)
class KustomizeEdit:
    name: str
    kind: str = "kustomize"


@dataclass(frozen=True)
class HelmEdit:
    key: str
    digest_key: str | None = None
    kind: str = "helm"


@dataclass(frozen=True)
class MarkerEdit:
    """`marker`: the name in ``# {"$promoter": "<marker>"}``. `flux_policy`: a Flux ImagePolicy as
    ``NAMESPACE:NAME``, whose ``# {"$imagepolicy": "NAMESPACE:NAME"}`` markers are this app's too."""

    marker: str
    kind: str = "marker"
    flux_policy: str | None = None


Edit = ContainerEdit | KustomizeEdit | HelmEdit | MarkerEdit


@dataclass(frozen=True)
class Running:
    """What a file says runs: the image name (when the file says it), tag and digest."""

    name: str | None
    tag: str | None
    digest: str | None


_POD_SPECS: tuple[tuple[str, ...], ...] = (
    ("spec", "template", "spec"),
    ("spec", "jobTemplate", "spec", "template", "spec"),
    ("spec",),
)


def _container_spots(docs: Sequence[Node], container: str) -> tuple[list[Spot], list[str]]:
    found: list[Spot] = []
    seen: list[str] = []
    for doc in docs:
        for path in _POD_SPECS:
            pod = get_path(doc, path)
            if not isinstance(pod, MappingNode):
                continue
            for key in ("containers", "initContainers"):
                for c in items(get(pod, key)):
                    name, image = get(c, "name"), get(c, "image")
                    if isinstance(name, ScalarNode):
                        seen.append(str(name.value))
                        if name.value == container and isinstance(image, ScalarNode):
                            found.append(Spot.of(image))
            break
    return found, seen


def _parse_ref(spot: Spot, *, source: str) -> ImageRef:
    try:
        return ImageRef.parse(spot.value)
    except ValueError as exc:
        raise EditError(f"{source}:{spot.line}:{spot.column}: {exc}") from None


def _containers(text: str, edit: ContainerEdit, *, source: str) -> list[Spot]:
    spots, seen = _container_spots(compose_documents(text, source=source), edit.container)
    if not spots:
        known = ", ".join(sorted(set(seen))) or "none"
        raise EditError(f"{source}: container {edit.container!r} not found (containers in the file: {known})")
    return spots


def set_container_image(text: str, *, container: str, image: str, source: str = "<input>") -> str:
    """Set the image of every container called `container` (like `kustomize edit set image`)."""
    ImageRef.parse(image)
    spots = _containers(text, ContainerEdit(container), source=source)
    return splice(text, [(s, image) for s in spots], source=source)


# --- kustomize ---------------------------------------------------------------------


@dataclass(frozen=True)
class _KustomizeEntry:
    node: MappingNode
    name: Spot
    new_name: Spot | None
    new_tag: Spot | None
    digest: Spot | None


def _kustomize_entry(text: str, edit: KustomizeEdit, *, source: str) -> _KustomizeEntry:
    docs = compose_documents(text, source=source)
    seen: list[str] = []
    for doc in docs:
        for entry in items(get(doc, "images")):
            name = get(entry, "name")
            if not isinstance(entry, MappingNode) or not isinstance(name, ScalarNode):
                continue
            seen.append(str(name.value))
            if name.value != edit.name:
                continue

            def spot(key: str, entry: MappingNode = entry) -> Spot | None:
                node = get(entry, key)
                return Spot.of(node) if isinstance(node, ScalarNode) else None

            return _KustomizeEntry(entry, Spot.of(name), spot("newName"), spot("newTag"), spot("digest"))
    known = ", ".join(seen) or "none"
    raise EditError(f"{source}: no images[] entry named {edit.name!r} (entries: {known})")


def _kustomize_write(text: str, edit: KustomizeEdit, *, tag: str, digest: str | None, source: str) -> str:
    entry = _kustomize_entry(text, edit, source=source)
    if entry.node.flow_style:
        raise EditError(f"{source}:{entry.name.line}:{entry.name.column}: images[] entry {edit.name!r} is a "
                        "flow mapping; write it in block style so keys can be added")
    indent = _key_column(text, entry.name) - 1
    changes: list[tuple[Spot, str]] = []
    inserts: list[tuple[str, str]] = []
    if entry.new_tag is not None:
        changes.append((entry.new_tag, tag))
    else:
        inserts.append(("newTag", tag))
    if digest is not None and entry.digest is not None:
        changes.append((entry.digest, digest))
    elif digest is not None:
        inserts.append(("digest", digest))
    out = splice(text, changes, source=source)
    if inserts:
        anchor = _kustomize_entry(out, edit, source=source)
        last = max((s for s in (anchor.name, anchor.new_name, anchor.new_tag, anchor.digest) if s),
                   key=lambda s: s.start)
        for key, value in reversed(inserts):
            out = insert_key_after(out, last, key=key, value=value, indent=indent)
    return out


def _key_column(text: str, value: Spot) -> int:
    """1-based column where the key of the value `value` starts, on its line."""
    line_start = text.rfind("\n", 0, value.start) + 1
    line = text[line_start : value.start]
    m = re.search(r"([\w\"'-]+)\s*:\s*$", line)
    return (m.start(1) if m else 0) + 1


# --- helm ----------------------------------------------------------------------------


def _helm_spot(text: str, key: str, *, source: str) -> Spot:
    docs = compose_documents(text, source=source)
    node = get_path(docs[0] if docs else None, key.split("."))
    if node is None:
        raise EditError(f"{source}: key {key!r} not found")
    if not isinstance(node, ScalarNode):
        raise EditError(f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: key {key!r} "
                        "holds a mapping or list, not a value")
    return Spot.of(node)


# --- marker ---------------------------------------------------------------------------

_MARKER = re.compile(r'#\s*\{\s*"\$promoter"\s*:\s*"(?P<ref>[^"]+)"\s*\}')
_COMMENT = re.compile(r"(?:^|[ \t])(#.*)$")
FLUX_PARTS = ("tag", "name", "digest")


def flux_setter(comment: str) -> str | None:
    """The setter a line comment names, read as Flux reads it; None when it is no Flux marker.

    Flux's image-automation-controller registers ``$imagepolicy`` as kyaml's setter short-hand
    (fluxcd/image-automation-controller pkg/update/setters.go: ``fieldmeta.SetShortHandRef``), and
    kyaml reads a comment so (kustomize kyaml/fieldmeta/fieldmeta.go, ``FieldMeta.Read`` and
    ``processShortHand``): every ``#`` at the start is trimmed, the rest must be one JSON object whose
    values are strings (a ``map[string]string``), and a non-empty ``"$imagepolicy"`` names the setter.
    Anything else — a commented-out line, text after the object — is an ordinary comment."""
    try:
        data = json.loads(comment.lstrip("#"))
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) or v is None for v in data.values()):
        return None
    name = data.get("$imagepolicy")
    return name or None


def _flux_role(setter: str, policy: str, *, where: str) -> str | None:
    """What a Flux setter of `policy` sets: the whole reference (``NS:NAME``), or the part after
    ``NS:NAME:`` — tag, name or digest (the setters pkg/update/setters.go defines per policy)."""
    if setter == policy:
        return "ref"
    if not setter.startswith(policy + ":"):
        return None
    part = setter[len(policy) + 1:]
    if part not in FLUX_PARTS:
        raise EditError(f"{where}: Flux marker {setter!r}: the part after {policy} must be tag, name or digest, "
                        f"not {part!r}")
    return part


def _line_comment(line: str, spot: Spot | None) -> tuple[int, str] | None:
    """The comment at the end of a line — after its last value, or anywhere on a line without a value
    (a key whose value is on the next line, a comment line) — as (1-based column, text)."""
    after = 0
    if spot is not None:
        if spot.end - spot.start + spot.column - 1 > len(line):
            return None  # the value goes on over several lines
        after = spot.column - 1 + (spot.end - spot.start)
    m = _COMMENT.search(line.rstrip("\r"), after)
    return None if m is None else (m.start(1) + 1, m.group(1))


def _values(root: Node) -> Iterator[ScalarNode]:
    """Every scalar value below a node, each once (an alias is its anchor's node: never expanded), in
    document order; never a mapping's key, so a marker on a line that holds only a key (its value on
    the next line) is not taken for the key."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            yield node
        elif isinstance(node, MappingNode):
            stack.extend(value for _, value in reversed(node.value))
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))


def _marker_spots(text: str, edit: MarkerEdit, *, source: str) -> list[tuple[Spot, str]]:
    docs = compose_documents(text, source=source)
    by_line: dict[int, Spot] = {}
    for doc in docs:
        for node in _values(doc):
            spot = Spot.of(node)
            by_line[spot.line] = spot  # the last value on the line is the one before the comment
    out: list[tuple[Spot, str]] = []
    flux_seen: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        found = by_line.get(number)
        m = _MARKER.search(line)
        if m is not None:
            app, _, part = m["ref"].partition(":")
            if app != edit.marker:
                continue
            if part not in ("", "tag", "name"):
                raise EditError(f"{source}:{number}:{m.start() + 1}: marker part {part!r} must be tag or name")
            if found is None:
                raise EditError(f"{source}:{number}:{m.start() + 1}: marker {m['ref']!r} has no value on its line")
            out.append((found, part or "ref"))
            continue
        comment = _line_comment(line, found)
        setter = flux_setter(comment[1]) if comment else None
        if comment is None or setter is None:
            continue
        where = f"{source}:{number}:{comment[0]}"
        flux_seen.append(setter)
        role = _flux_role(setter, edit.flux_policy, where=where) if edit.flux_policy else None
        if role is None:
            continue
        if found is None:
            raise EditError(f"{where}: Flux marker {setter!r} has no value on its line (Flux reads the marker at the "
                            "end of the value's line)")
        out.append((found, role))
    if not out:
        wanted = f'# {{"$promoter": "{edit.marker}"}}'
        if edit.flux_policy:
            wanted += f' or # {{"$imagepolicy": "{edit.flux_policy}"}}'
        hint = ""
        if flux_seen and not edit.flux_policy:
            policies = sorted({s.rsplit(":", 1)[0] if s.count(":") > 1 else s for s in flux_seen})
            hint = (f"; the file has Flux markers of {', '.join(policies)}: set flux_policy (the app's, or the "
                    "edit's) to the ImagePolicy that stands for this app")
        raise EditError(f"{source}: no marker {wanted} found{hint}")
    return out


# --- reading and writing ----------------------------------------------------------------


def read_running(text: str, edit: Edit, *, source: str) -> Running:
    """What the file says runs now. Remembered for the last RUNNING_MEMORY distinct (text, edit)
    pairs: a file that did not change since the last pass is not parsed again (a pure function of
    its text, so the text — what git's blob id names — is the key)."""
    try:
        return _read_running(text, edit, source)
    except TypeError:  # an edit spec that cannot be a key (never with the config's frozen edits)
        return _read_running.__wrapped__(text, edit, source)


RUNNING_MEMORY = 4096


@functools.lru_cache(maxsize=RUNNING_MEMORY)
def _read_running(text: str, edit: Edit, source: str) -> Running:
    if isinstance(edit, ContainerEdit):
        ref = _parse_ref(_containers(text, edit, source=source)[0], source=source)
        return Running(ref.name, ref.tag, ref.digest)
    if isinstance(edit, KustomizeEdit):
        e = _kustomize_entry(text, edit, source=source)
        return Running(e.new_name.value if e.new_name else e.name.value,
                       e.new_tag.value if e.new_tag else None, e.digest.value if e.digest else None)
    if isinstance(edit, HelmEdit):
        value = _helm_spot(text, edit.key, source=source).value
        helm_tag, _, helm_digest = value.partition("@")
        if edit.digest_key:
            helm_digest = _helm_spot(text, edit.digest_key, source=source).value
        return Running(None, helm_tag or None, helm_digest or None)
    name: str | None = None
    tag: str | None = None
    digest: str | None = None
    for spot, role in _marker_spots(text, edit, source=source):
        if role == "ref":
            ref = _parse_ref(spot, source=source)
            name, tag, digest = ref.name, ref.tag, ref.digest
        elif role == "tag":
            tag, _, rest = spot.value.partition("@")
            digest = rest or digest
        elif role == "digest":
            digest = spot.value or digest
        else:
            name = spot.value
    return Running(name, tag, digest)


def write_version(text: str, edit: Edit, *, image: str, tag: str, digest: str | None, pin: bool,
                  source: str) -> str:
    """The file with `image` moved to `tag` (and `digest` when pinning, or when already pinned).

    `image` is the app's image name: an edit that finds another image there refuses,
    so a misconfigured target never rewrites somebody else's container. The result is read back
    before it is handed out: a file that would not parse, or would not say `tag`, is an EditError
    (nothing is written).
    """
    out = _write(text, edit, image=image, tag=tag, digest=digest, pin=pin, source=source)
    if out != text:
        try:
            after = read_running(out, edit, source=source)
        except EditError as exc:
            raise EditError(f"{source}: the edit would break the file ({exc}); nothing is written") from None
        if after.tag != tag and read_running(text, edit, source=source).tag is not None:
            raise EditError(f"{source}: after the edit the file would say {after.tag!r}, not {tag!r}; nothing is "
                            "written")
    return out


def _write(text: str, edit: Edit, *, image: str, tag: str, digest: str | None, pin: bool, source: str) -> str:
    def pinned(current_digest: str | None) -> str | None:
        if pin or current_digest:
            if digest is None:
                raise EditError(f"{source}: the reference is pinned by digest but no digest is known for {tag}")
            return digest
        return None

    if isinstance(edit, ContainerEdit):
        changes = []
        for spot in _containers(text, edit, source=source):
            ref = _parse_ref(spot, source=source)
            if not same_image(ref.name, image):
                raise EditError(f"{source}:{spot.line}:{spot.column}: container {edit.container!r} runs "
                                f"{ref.name}, not {image}")
            changes.append((spot, str(ref.with_version(tag=tag, digest=pinned(ref.digest)))))
        return splice(text, changes, source=source)
    if isinstance(edit, KustomizeEdit):
        entry = _kustomize_entry(text, edit, source=source)
        current = entry.new_name.value if entry.new_name else entry.name.value
        if not same_image(current, image):
            raise EditError(f"{source}: images[] entry {edit.name!r} points at {current}, not {image}")
        return _kustomize_write(text, edit, tag=tag, digest=pinned(entry.digest.value if entry.digest else None),
                                source=source)
    if isinstance(edit, HelmEdit):
        spot = _helm_spot(text, edit.key, source=source)
        if edit.digest_key:
            dspot = _helm_spot(text, edit.digest_key, source=source)
            d = pinned(dspot.value or None)
            return splice(text, [(spot, tag)] + ([(dspot, d)] if d else []), source=source)
        d = pinned(spot.value.partition("@")[2] or None)
        return splice(text, [(spot, f"{tag}@{d}" if d else tag)], source=source)
    changes = []
    for spot, role in _marker_spots(text, edit, source=source):
        if role == "ref":
            ref = _parse_ref(spot, source=source)
            if not same_image(ref.name, image):
                raise EditError(f"{source}:{spot.line}:{spot.column}: marker value runs {ref.name}, not {image}")
            changes.append((spot, str(ref.with_version(tag=tag, digest=pinned(ref.digest)))))
        elif role == "tag":
            d = pinned(spot.value.partition("@")[2] or None)
            changes.append((spot, f"{tag}@{d}" if d else tag))
        elif role == "digest":  # Flux's NS:NAME:digest: the digest alone, always written
            if digest is None:
                raise EditError(f"{source}:{spot.line}:{spot.column}: the marker sets a digest but no digest is "
                                f"known for {tag}")
            changes.append((spot, digest))
        elif not same_image(spot.value, image):  # the name is never rewritten; it must be the app's
            raise EditError(f"{source}:{spot.line}:{spot.column}: marker value names {spot.value}, not {image}")
    return splice(text, changes, source=source)
