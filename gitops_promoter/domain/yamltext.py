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
from ruamel.yaml.error import MarkedYAMLError, YAMLError
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


MAX_BYTES = 5 * 1024 * 1024  # a deployment file larger than this is refused, never edited
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
    yaml = YAML(typ="rt")
    try:
        docs = [d for d in yaml.compose_all(io.StringIO(text)) if d is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise EditError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:  # e.g. the reader's non-printable characters
        raise EditError(f"{source}: not valid YAML: {exc}") from None
    except RecursionError:
        raise EditError(f"{source}: nested too deep to be a deployment file") from None
    seen: set[int] = set()
    for doc in docs:
        _no_duplicate_keys(doc, source, seen, aliases=aliases)
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
