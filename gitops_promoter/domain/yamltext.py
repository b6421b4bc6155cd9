"""Byte-preserving YAML edits: find scalars with ruamel.yaml's composer, splice the text.

The file is never re-serialised. We compose it to learn where each scalar starts and
ends, and replace exactly those characters, so comments, key order, quoting,
indentation, multi-document separators and line endings all stay as they were.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitops_promoter.errors import EditError


@dataclass(frozen=True)
class Spot:
    """One scalar in the text: where it is, what it says, how it is quoted."""

    start: int
    end: int
    value: str
    style: str | None
    line: int  # 1-based
    column: int  # 1-based

    @classmethod
    def of(cls, node: ScalarNode) -> Spot:
        return cls(node.start_mark.index, node.end_mark.index, str(node.value), node.style,
                   node.start_mark.line + 1, node.start_mark.column + 1)


def compose_documents(text: str, *, source: str) -> list[Node]:
    """All documents of a YAML text as nodes; an EditError naming file:line:col when it does not parse."""
    yaml = YAML(typ="rt")
    try:
        return [d for d in yaml.compose_all(io.StringIO(text)) if d is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise EditError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None


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


def splice(text: str, changes: Sequence[tuple[Spot, str]]) -> str:
    """Replace each spot's characters with its new value, rendered in the spot's style."""
    out = text
    for spot, value in sorted(changes, key=lambda c: c[0].start, reverse=True):
        if spot.value == value:
            continue
        out = out[: spot.start] + render(value, spot.style) + out[spot.end :]
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
