"""Byte-preserving YAML edits: find scalars with libyaml's parser, splice the text.

The file is never re-serialised. We compose it to learn where each scalar starts and
ends, and replace exactly those characters, so comments, key order, quoting,
indentation, multi-document separators and line endings all stay as they were.

The parser is libyaml (through PyYAML's C binding; PyYAML's pure-Python parser, a port of it, when
the binding is missing): what Kubernetes reads a manifest with is go-yaml, itself a port of
libyaml, so the promoter accepts and positions what Argo CD and kubectl do, at ~40 times the speed
of a pure-Python parser. Nodes are built here from its events, with no recursion.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from gitops_promoter.errors import EditError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(slots=True, eq=False)
class Node:
    """A composed YAML value and where it is: marks with a 0-based character `index`, `line`, `column`."""

    start_mark: Any
    end_mark: Any


@dataclass(slots=True, eq=False)
class ScalarNode(Node):
    value: str
    style: str | None  # None (plain), "'", '"', "|" or ">"
    props: bool = False  # an anchor (&name) or a tag (!tag) comes first: the marks include them


@dataclass(slots=True, eq=False)
class MappingNode(Node):
    value: list[tuple[Node, Node]]
    flow_style: bool


@dataclass(slots=True, eq=False)
class SequenceNode(Node):
    value: list[Node]
    flow_style: bool


@dataclass(frozen=True)
class Spot:
    """One scalar in the text: where it is, what it says, how it is quoted."""

    start: int
    end: int
    value: str
    style: str | None
    line: int  # 1-based
    column: int  # 1-based
    props: bool = False  # an anchor or a tag is part of [start, end)

    @classmethod
    def of(cls, node: ScalarNode) -> Spot:
        return cls(node.start_mark.index, node.end_mark.index, str(node.value), node.style,
                   node.start_mark.line + 1, node.start_mark.column + 1, node.props)


MAX_BYTES = 5 * 1024 * 1024  # a deployment file larger than this is refused, never edited
MAX_DEPTH = 100  # nesting of mappings and lists: a manifest needs ~20, a CRD's schema ~60; ruamel.yaml (analysis
#                  templates are loaded with it after this check) recurses out of stack past ~240
_TOO_DEEP = f"nested too deep to be a deployment file (more than {MAX_DEPTH} levels)"
# C0/C1 control characters other than tab, newline and carriage return, and the Unicode line and
# paragraph separators: YAML 1.2 forbids the former; the latter make lines a person cannot see.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _where(text: str, index: int, source: str) -> str:
    line = text.count("\n", 0, index) + 1
    return f"{source}:{line}:{index - (text.rfind(chr(10), 0, index) + 1) + 1}"


def compose_documents(text: str, *, source: str, aliases: bool = True) -> list[Node]:
    """All documents of a YAML text as nodes; an EditError naming file:line:col when it does not
    parse, holds a control character, is larger than MAX_BYTES, nests too deep or repeats a key in
    a mapping (YAML forbids it; which of the two a tool reads differs, so the promoter edits none).
    `aliases=False` also refuses YAML aliases (`*name`)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise EditError(f"{source}: {size} bytes, larger than the {MAX_BYTES}-byte limit for a deployment file")
    bad = _CONTROL.search(text[1:] if text.startswith("\ufeff") else text)
    if bad is not None:
        at = bad.start() + (1 if text.startswith("\ufeff") else 0)
        raise EditError(f"{_where(text, at, source)}: control character U+{ord(bad.group()):04X} in the file")
    try:
        docs = _compose(text, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        if "nesting depth" in str(exc.problem):  # libyaml's own limit (1,000), met first in flow collections
            raise EditError(f"{where}: {_TOO_DEEP}") from None
        raise EditError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, UnicodeError) as exc:
        raise EditError(f"{source}: not valid YAML: {exc}") from None
    seen: set[int] = set()
    for doc in docs:
        _no_duplicate_keys(doc, source, seen, aliases=aliases)
    return docs


class _Shifted:
    """A mark moved past a leading byte-order mark: libyaml's index counts from the character after
    it, the text's from the mark itself (the column stays: a person does not see the mark)."""

    __slots__ = ("index", "line", "column")

    def __init__(self, mark: Any) -> None:
        self.index, self.line, self.column = mark.index + 1, mark.line, mark.column


def _compose(text: str, source: str) -> list[Node]:
    """The documents of `text` as nodes, built from libyaml's events with an explicit stack (an
    alias is the node its anchor names, never a copy). Raises yaml.YAMLError where it does not parse."""
    bom = text.startswith("\ufeff")
    events: Any = yaml.parse(text[1:] if bom else text, Loader=_Loader)
    docs: list[Node] = []
    anchors: dict[str, Node] = {}
    stack: list[list[Any]] = []  # [collection, its pending key (mappings)]
    root: Node | None = None
    for event in events:
        kind = type(event)
        start, end = (_Shifted(event.start_mark), _Shifted(event.end_mark)) if bom else (event.start_mark,
                                                                                          event.end_mark)
        node: Node
        if kind is yaml.ScalarEvent:
            node = ScalarNode(start, end, event.value, event.style or None, event.anchor is not None or
                              event.tag is not None)
        elif kind is yaml.MappingStartEvent:
            node = MappingNode(start, end, [], bool(event.flow_style))
        elif kind is yaml.SequenceStartEvent:
            node = SequenceNode(start, end, [], bool(event.flow_style))
        elif kind is yaml.AliasEvent:
            if event.anchor not in anchors:
                raise yaml.MarkedYAMLError("while composing", None, f"found undefined alias {event.anchor!r}",
                                           event.start_mark)
            node = anchors[event.anchor]
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            stack.pop()[0].end_mark = end
            continue
        elif kind is yaml.DocumentStartEvent:
            root, anchors = None, {}
            continue
        elif kind is yaml.DocumentEndEvent:
            if root is not None:
                docs.append(root)
            continue
        else:  # stream start and end
            continue
        if kind is not yaml.AliasEvent and event.anchor is not None:
            anchors[event.anchor] = node
        if not stack:
            root = node
        else:
            frame = stack[-1]
            parent = frame[0]
            if isinstance(parent, SequenceNode):
                parent.value.append(node)
            elif frame[1] is None:
                frame[1] = node
            else:
                parent.value.append((frame[1], node))
                frame[1] = None
        if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            stack.append([node, None])
            if len(stack) > MAX_DEPTH:
                raise EditError(f"{source}:{start.line + 1}:{start.column + 1}: {_TOO_DEEP}")
    return docs


def _no_duplicate_keys(root: Node, source: str, seen: set[int], *, aliases: bool) -> None:
    """Each mapping's scalar keys are unique; an alias (a node met again) is visited once, so an
    alias bomb is never expanded — or refused when `aliases` is False."""
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            if not aliases:
                raise EditError(f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: this value is "
                                "used again through a YAML alias (*name), which is not allowed here; write it out")
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value != "<<":  # merge keys may repeat
                    if key.value in keys:
                        raise EditError(f"{source}:{key.start_mark.line + 1}:{key.start_mark.column + 1}: "
                                        f"key {key.value!r} appears twice in one mapping")
                    keys.add(key.value)
                stack += [key, value]
        elif isinstance(node, SequenceNode):
            stack += node.value


def get(node: Node | None, key: str) -> Node | None:
    """The value under `key` in a mapping node, or None."""
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            value: Node = v
            return value
    return None


def get_path(node: Node | None, path: Sequence[str]) -> Node | None:
    for key in path:
        node = get(node, key)
    return node


def items(node: Node | None) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        yield from node.value


def scalars(node: Node) -> Iterator[ScalarNode]:
    """Every scalar below a node, keys included, in document order."""
    if isinstance(node, ScalarNode):
        yield node
    elif isinstance(node, MappingNode):
        for k, v in node.value:
            yield from scalars(k)
            yield from scalars(v)
    elif isinstance(node, SequenceNode):
        for v in node.value:
            yield from scalars(v)


_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9_./@:+-]*$")
_NOT_STRING = re.compile(
    r"^(?:[-+]?(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|[-+]?\.(?:inf|Inf|INF)"
    r"|\.(?:nan|NaN|NAN)|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~|[-+]?\d[\d_]*(?::[0-5]?\d)+(?:\.\d*)?|\d{4}-\d\d?-\d\d?.*)$"
)


def render(value: str, style: str | None) -> str:
    """A scalar as YAML text in the given quoting style, keeping it a string."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style in ("|", ">"):
        raise EditError("block scalars (| or >) are not edited; write the value on one line")
    if _PLAIN_SAFE.match(value) and not _NOT_STRING.match(value):
        return value
    # A plain scalar that YAML would read as a number, bool or null, or that needs quoting.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def splice(text: str, changes: Sequence[tuple[Spot, str]], *, source: str = "<input>") -> str:
    """Replace each spot's characters with its new value, rendered in the spot's style. A value
    that carries an anchor or a tag (`&v`, `!!str`: an alias elsewhere may name it), or a key with
    no value at all (`? tag`), is refused: rewriting it would change more than the value."""
    out = text
    for spot, value in sorted(changes, key=lambda c: c[0].start, reverse=True):
        if spot.value == value:
            continue
        where = f"{source}:{spot.line}:{spot.column}"
        if spot.props:
            raise EditError(f"{where}: the value carries a YAML anchor or tag (&name, !tag), which the promoter "
                            "does not rewrite; write the value plainly")
        rendered = render(value, spot.style)
        if spot.start == spot.end and out[spot.start - 1 : spot.start] == ":":
            rendered = " " + rendered  # an empty value (`tag:`) sits right after its key's colon
        elif spot.start == spot.end and not out[: spot.start].rstrip(" \t").endswith(":"):
            raise EditError(f"{where}: the key has no value to replace (write `key: value`)")
        out = out[: spot.start] + rendered + out[spot.end :]
    return out


def line_ending(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def insert_key_after(text: str, anchor: Spot, *, key: str, value: str, indent: int) -> str:
    """Add `key: value` as a new line after the line that holds `anchor`, at `indent` columns."""
    nl = line_ending(text)
    eol = text.find("\n", anchor.end)
    eol = len(text) if eol == -1 else eol + 1
    prefix = "" if eol <= len(text) and text[eol - 1 : eol] == "\n" else nl
    return text[:eol] + prefix + " " * indent + f"{key}: {render(value, None)}{nl}" + text[eol:]
