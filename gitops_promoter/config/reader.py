"""Reading the O&M file: bounded, then a cursor over ruamel.yaml round-trip data that remembers
where each value came from.

The file is read as bytes and refused before any parsing when it is too large, not UTF-8, or
carries control characters (`decode`, `check_text`); ruamel.yaml then composes it under limits
(depth, values with aliases expanded, scalar length, no tags or directives: `load_yaml`), so a
hostile file costs bounded time and memory and never reaches a traceback.

Every check on values records a problem as ``file:line:col: key.path: message`` and goes on,
so one run of `check-config` reports every problem in the file, not just the first.
"""

from __future__ import annotations

import builtins
import difflib
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.parser import Parser
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scanner import Scanner

from gitops_promoter.domain.analysis import parse_duration
from gitops_promoter.errors import ConfigError

# --- limits on the file as a whole (README, "Configuration reference": hostile input) --------------
MAX_FILE_BYTES = 1024 * 1024  # 1 MiB; a config with hundreds of apps is well under 200 KiB
MAX_DEPTH = 32  # nesting of mappings and lists; the deepest key the schema has is at depth 10
MAX_NODES = 20_000  # values (keys included), each alias counted as a copy of what it names: about 1 s to
#                    compose; a fully featured app (3 targets, a canary) is ~125 values, the example file 225
MAX_SCALAR_CHARS = 65_536  # one value or key
MAX_NUMBER_CHARS = 64  # an unquoted number: no 5,000-digit integers (Python refuses > 4,300 digits)
MAX_SHOWN = 10  # control characters listed one by one; the rest are counted
MAX_TEXT = 1024  # a one-line value (name, URL, path, ...) unless the key says otherwise
MAX_DURATION = 24 * 3600.0  # seconds: no duration in this file means more than a day unless a key says so

_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"),
         (b"\xff\xfe", "UTF-16"))
_UTF8_BOM = b"\xef\xbb\xbf"
# C0 controls except tab, line feed and carriage return; DEL; C1 controls (NEL included); the Unicode line
# and paragraph separators; bidirectional embeddings, overrides and isolates ("Trojan Source"); a byte-order
# mark past the start; surrogates and the non-characters U+FFFE / U+FFFF.
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff\ufffe\uffff"
_IN_FILE = re.compile(f"[{_CONTROLS}]|\r(?!\n)")  # and a carriage return only as part of CRLF
_IN_VALUE = re.compile(f"[{_CONTROLS}\r]")  # a value may hold tabs and line breaks (a query), never these
_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL",
          0x85: "NEL", 0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR", 0xFEFF: "BYTE ORDER MARK"}
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def describe_char(ch: str) -> str:
    """``U+0007 (BEL)``: how a refused character is named in a message."""
    code = ord(ch)
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        label = "a bidirectional override"
    else:
        label = _NAMES.get(code, "a control character")
    return f"U+{code:04X} ({label})"


def decode(data: bytes, *, source: str) -> str:
    """The file's text: at most MAX_FILE_BYTES of UTF-8 (a UTF-8 byte-order mark is dropped)."""
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([f"{source}: the file is larger than {MAX_FILE_BYTES:,} bytes (1 MiB), the limit for a "
                           "configuration; is this the right file?"])
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise ConfigError([f"{source}:1:1: the file starts with a {encoding} byte-order mark; save it as UTF-8"])
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", errors="replace")) + 1
        raise ConfigError([f"{source}:{line}:{col}: not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as "
                           "UTF-8"]) from None


def check_text(text: str, *, source: str) -> None:
    """Refuse a text that is too large or holds control characters, each with its line:col."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        raise ConfigError([f"{source}: the file is larger than {MAX_FILE_BYTES:,} bytes (1 MiB), the limit for a "
                           "configuration; is this the right file?"])
    problems: list[str] = []
    found = 0
    for match in _IN_FILE.finditer(text):
        found += 1
        if found > MAX_SHOWN:
            continue
        pos = match.start()
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        what = ("a carriage return without a line feed" if match.group() == "\r"
                else f"the character {describe_char(match.group())}")
        problems.append(f"{source}:{line}:{col}: {what} is not allowed in the file")
    if found > MAX_SHOWN:
        problems.append(f"{source}: {found - MAX_SHOWN} more such character(s)")
    if problems:
        raise ConfigError(problems)


class Refused(MarkedYAMLError):
    """The YAML is well-formed but over a limit, or uses a feature this file does not take."""


class _Resolver(VersionedResolver):
    """YAML 1.2's core schema: an unquoted date is text, not a timestamp (a wrong date would not even load)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        if str(tag) == "tag:yaml.org,2002:timestamp":
            return self.DEFAULT_SCALAR_TAG
        return tag


class _Composer(Composer):
    """ruamel.yaml's composer under limits: depth (checked before it recurses), values counted with every
    alias expanded (a 1 KB "billion laughs" is refused after MAX_NODES, not after 2.5 GB), no alias to an
    unfinished anchor (a cycle), keys that are text, no tags or directives, bounded scalars without
    control characters. Each refusal names the key path as far as it is known."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False
        self.spent = 0
        self.sizes: dict[int, int] = {}  # id(anchored node) -> its size with aliases expanded
        self.path: list[str | None] = []  # key path of the node being composed; None: a mapping's key

    def _refuse(self, message: str, mark: Any) -> Refused:
        """The problem, prefixed with the key path as far as it is known (`a.b[0].c: `)."""
        parts = self.path[1:]
        key = bool(parts) and parts[-1] is None
        where = "".join(part for part in parts if part is not None).lstrip(".")
        if key:
            where = f"{where or '<root>'} (a key)"
        return Refused(None, None, f"{where}: {message}" if where else message, mark)

    def _spend(self, n: int, mark: Any) -> None:
        self.spent += n
        if self.spent > MAX_NODES:
            raise self._refuse(f"more than {MAX_NODES:,} values (keys included, each alias counted as a copy of "
                               "what it names); a configuration is far smaller — split it, or use fewer aliases", mark)

    def compose_document(self) -> Any:
        event = self.parser.peek_event()
        if getattr(event, "version", None) or getattr(event, "tags", None):
            raise Refused(None, None, "YAML directives (%YAML, %TAG) are not used in this file", event.start_mark)
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        if isinstance(parent, SequenceNode):
            self.path.append(f"[{index}]")
        elif isinstance(parent, MappingNode):
            self.path.append(f".{index.value}" if isinstance(index, ScalarNode) else None if index is None else ".?")
        else:
            self.path.append("")
        try:
            if len(self.path) > MAX_DEPTH:  # before ruamel recurses: 20,000 '[' never reach the recursion limit
                raise self._refuse(f"nested deeper than {MAX_DEPTH} levels (a configuration needs about 10)",
                                   self.parser.peek_event().start_mark)
            return self._compose_node(parent, index)
        finally:
            self.path.pop()

    def _compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(parent, MappingNode) and index is None:  # a key
            target = self.anchors.get(event.anchor) if isinstance(event, AliasEvent) else None
            collections = (MappingStartEvent, SequenceStartEvent, MappingNode, SequenceNode)
            if isinstance(event, collections) or isinstance(target, collections):
                raise self._refuse("a key must be plain text, not a list or mapping", event.start_mark)
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self.sizes:
                raise self._refuse(f"alias *{event.anchor} is inside its own anchor (a cycle)", event.start_mark)
            node = super().compose_node(parent, index)
            self._spend(self.sizes.get(id(node), 1), event.start_mark)
            return node
        tag = getattr(event, "ctag", None)
        if tag is not None:  # !!python/object, !!binary, !!set, !vault; !!str too: ruamel keeps a tagged object
            raise self._refuse(f"YAML tags ({tag}) are not used in this file; write plain values (quote text that "
                               "would read as a number or boolean)", event.start_mark)
        start = self.spent
        self._spend(1, event.start_mark)
        node = super().compose_node(parent, index)
        if event.anchor is not None:
            self.sizes[id(node)] = self.spent - start
        return node

    def compose_scalar_node(self, anchor: Any) -> Any:
        node = super().compose_scalar_node(anchor)
        value: str = node.value
        if len(value) > MAX_SCALAR_CHARS:
            raise self._refuse(f"a value of {len(value):,} characters; the limit is {MAX_SCALAR_CHARS:,}",
                               node.start_mark)
        bad = _IN_VALUE.search(value)
        if bad:
            raise self._refuse(f"the character {describe_char(bad.group())} is not allowed in a key or value",
                               node.start_mark)
        if str(node.tag) in _NUMBER_TAGS and len(value) > MAX_NUMBER_CHARS:
            raise self._refuse(f"a number of {len(value):,} characters; the limit is {MAX_NUMBER_CHARS} (quote it "
                               "if it is text)", node.start_mark)
        return node


class _Constructor(RoundTripConstructor):
    """Whatever ruamel.yaml fails to build from a scalar (``0x_``, ``._``) is a problem at that scalar; the
    node being built is remembered, so that any other failure is reported at its place (`load_yaml`)."""

    current: Any = None

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        self.current = node
        return super().construct_object(node, deep)

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise Refused(None, None, f"cannot read {node.value!r} as {str(node.tag).rpartition(':')[2]} ({exc}); "
                          "quote it if it is text", node.start_mark) from None


def load_yaml(text: str, *, source: str) -> Any:
    """One YAML document as ruamel.yaml round-trip data, under the limits above; ConfigError otherwise."""
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, source=source)
    yaml = YAML(typ="rt")
    yaml.Scanner, yaml.Parser = Scanner, Parser  # comments are not needed here, and gathering them costs a third
    yaml.Resolver = _Resolver
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    try:
        return yaml.load(io.StringIO(text))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # Last resort: the limits above leave ruamel.yaml nothing known to fail on; were it to, the
        # problem is still one line at the place it was building, never a traceback.
        node = getattr(yaml.constructor, "current", None)
        mark = getattr(node, "start_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError([f"{where}: not valid YAML: {type(exc).__name__}: {exc}"]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        if isinstance(exc, Refused):
            raise ConfigError([f"{where}: {exc.problem}"]) from None
        message = f"{exc.context}: {exc.problem}" if exc.context and exc.problem else exc.problem or exc.context
        raise ConfigError([f"{where}: not valid YAML: {message}"]) from None
    except YAMLError as exc:
        raise ConfigError([f"{source}: not valid YAML: {exc}"]) from None


@dataclass
class Problems:
    file: str
    items: list[str] = field(default_factory=list)

    def add(self, line: int, col: int, path: str, message: str) -> None:
        self.items.append(f"{self.file}:{line}:{col}: {path or '<root>'}: {message}")


class Missing:
    """Sentinel: the key is absent."""


MISSING = Missing()


@dataclass
class Cursor:
    """A value in the file, with its key path and 1-based position."""

    value: Any
    path: str
    line: int
    col: int
    problems: Problems

    # --- reporting ---------------------------------------------------------------
    def error(self, message: str) -> None:
        self.problems.add(self.line, self.col, self.path, message)

    @property
    def where(self) -> str:
        return f"{self.problems.file}:{self.line}:{self.col}: {self.path}"

    # --- navigation --------------------------------------------------------------
    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: tuple[str, ...], *, required: tuple[str, ...] = ()) -> dict[str, Cursor]:
        """The keys of a mapping as cursors; unknown keys and missing required keys are problems."""
        if not isinstance(self.value, CommentedMap):
            self.error(f"must be a mapping, not {kind_of(self.value)}")
            return {}
        out: dict[str, Cursor] = {}
        for key in self.value:
            kline, kcol = _pos_key(self.value, key, self)
            if not isinstance(key, str) or key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f" (known keys: {', '.join(allowed)})"
                self.problems.add(kline, kcol, self._child_path(str(key)), f"unknown key{extra}")
                continue
            vline, vcol = _pos_value(self.value, key, self)
            out[key] = Cursor(self.value[key], self._child_path(key), vline, vcol, self.problems)
        for key in required:
            if key not in self.value:
                self.error(f"missing required key {key!r}")
        return out

    def sequence(self) -> Iterator[Cursor]:
        if not isinstance(self.value, CommentedSeq):
            self.error(f"must be a list, not {kind_of(self.value)}")
            return
        for i, item in enumerate(self.value):
            try:
                line, col = self.value.lc.item(i)
                line, col = line + 1, col + 1
            except (KeyError, TypeError, AttributeError):
                line, col = self.line, self.col
            yield Cursor(item, self._child_path(i), line, col, self.problems)

    def items(self) -> Iterator[tuple[str, Cursor]]:
        """A mapping with free-form keys (e.g. per-environment targets)."""
        if not isinstance(self.value, CommentedMap):
            self.error(f"must be a mapping, not {kind_of(self.value)}")
            return
        for key in self.value:
            line, col = _pos_key(self.value, key, self)
            yield str(key), Cursor(self.value[key], self._child_path(str(key)), line, col, self.problems)

    # --- scalars -----------------------------------------------------------------
    def str(self, *, allow_empty: bool = False, multiline: bool = False,
            max_len: builtins.int = MAX_TEXT) -> str | None:
        """A string (a number is taken as its text). One line unless `multiline`: no line break or
        tab (the other control characters never get this far: `check_text`, `_Composer`)."""
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            self.error(f"must be a string, not {kind_of(self.value)}")
            return None
        if isinstance(self.value, float) and not math.isfinite(self.value):
            self.error(f"must be a string, not {kind_of(self.value)}")
            return None
        text = str(self.value)
        if not text and not allow_empty:
            self.error("must not be empty")
            return None
        if len(text) > max_len:
            self.error(f"is {len(text):,} characters long; the limit is {max_len:,}")
            return None
        if not multiline and ("\n" in text or "\t" in text):
            self.error(f"must be one line, without line breaks or tabs: {shown(text)}")
            return None
        return text

    def choice(self, options: tuple[builtins.str, ...]) -> builtins.str | None:
        text = self.str()
        if text is not None and text not in options:
            hint = difflib.get_close_matches(text, options, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            self.error(f"must be one of {', '.join(options)}, not {shown(text)}{extra}")
            return None
        return text

    def bool(self) -> builtins.bool | None:
        if not isinstance(self.value, bool):
            self.error(f"must be true or false, not {kind_of(self.value)}")
            return None
        return self.value

    def int(self, *, minimum: builtins.int | None = None, maximum: builtins.int | None = None) -> builtins.int | None:
        """A whole number (not a boolean, not 1.0) within [minimum, maximum]."""
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.error(f"must be a whole number, not {kind_of(self.value)}")
            return None
        if minimum is not None and self.value < minimum:
            self.error(f"must be at least {minimum}, not {self.value}")
            return None
        if maximum is not None and self.value > maximum:
            self.error(f"must be at most {maximum:,}, not {self.value:,}")
            return None
        return int(self.value)

    def number(self, *, positive: builtins.bool = False, maximum: float | None = None) -> float | None:
        """A finite number (never NaN or infinite), > 0 when `positive`, at most `maximum`."""
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            self.error(f"must be a number, not {kind_of(self.value)}")
            return None
        if not math.isfinite(self.value):
            self.error(f"must be a finite number, not {self.value}")
            return None
        if positive and self.value <= 0:
            self.error(f"must be greater than 0, not {self.value}")
            return None
        if maximum is not None and self.value > maximum:
            self.error(f"must be at most {maximum:g}, not {self.value:g}")
            return None
        return float(self.value)

    def duration(self, *, allow_zero: builtins.bool = False, maximum: float = MAX_DURATION) -> float | None:
        """``10s``, ``2m``, ``1h30m``, ``500ms`` (or a bare number of seconds) as seconds: finite, never
        negative, > 0 unless `allow_zero`, at most `maximum` seconds."""
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            if not math.isfinite(self.value):
                self.error(f"must be a duration such as 30s, 2m or 1h, not {self.value}")
                return None
            seconds = float(self.value)
        else:
            text = self.str(max_len=32)
            if text is None:
                return None
            try:
                seconds = parse_duration(text)
            except ValueError:
                self.error(f"must be a duration such as 30s, 2m or 1h, not {shown(text)}")
                return None
        if seconds < 0:
            self.error(f"must not be negative, not {_seconds(seconds)}")
            return None
        if seconds == 0 and not allow_zero:
            self.error("must be greater than 0")
            return None
        if seconds > maximum:
            self.error(f"must be at most {_seconds(maximum)}, not {_seconds(seconds)}")
            return None
        return seconds

    def str_list(self, *, max_len: builtins.int = MAX_TEXT) -> list[builtins.str]:
        out: list[builtins.str] = []
        for item in self.sequence():
            text = item.str(max_len=max_len)
            if text is not None:
                out.append(text)
        return out


def _seconds(value: float) -> str:
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if value >= size and value % size == 0:
            return f"{value / size:g}{unit}"
    return f"{value:g}s"


def shown(text: str, limit: int = 60) -> str:
    """A value quoted for a message, shortened: a hostile value must not flood the output."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"… ({len(text):,} characters)"


def kind_of(value: Any) -> str:
    """What a value is, for a message: ``a boolean``, ``the number 1.0``, ``the string 'x'``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    if isinstance(value, CommentedSeq | list):
        return "a list"
    return type(value).__name__


def _pos_key(m: CommentedMap, key: Any, parent: Cursor) -> tuple[int, int]:
    try:
        line, col = m.lc.key(key)
        return line + 1, col + 1
    except (KeyError, TypeError, AttributeError):
        return parent.line, parent.col


def _pos_value(m: CommentedMap, key: Any, parent: Cursor) -> tuple[int, int]:
    try:
        line, col = m.lc.value(key)
        return line + 1, col + 1
    except (KeyError, TypeError, AttributeError):
        return _pos_key(m, key, parent)
