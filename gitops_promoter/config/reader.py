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
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitops_promoter.domain.durations import parse_duration
from gitops_promoter.errors import ConfigError

# --- limits on the file as a whole (README, "Configuration reference": hostile input) --------------
MAX_FILE_BYTES = 1024 * 1024  # 1 MiB; a config with hundreds of apps is well under 200 KiB
MAX_DEPTH = 32  # nesting of mappings and lists; the deepest key the schema has is at depth 10
MAX_NODES = 200_000  # values (keys included), each alias counted as a copy of what it names: ~0.7 s to read
#                     on 2 cores; an app is ~50 values (~125 fully featured), the example file 225: 1 MiB of
#                     plain apps (~2,000) is ~110,000
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
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser (PyYAML's port of it without)


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


class Refused(Exception):
    """The YAML is well-formed but over a limit, or uses a feature this file does not take."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message, self.mark = message, mark


class Map(dict[Any, Any]):
    """A mapping read from the file; each key's and value's 0-based (line, column) beside it."""

    __slots__ = ("keys_at", "values_at")

    def __init__(self) -> None:
        super().__init__()
        self.keys_at: dict[Any, tuple[int, int]] = {}
        self.values_at: dict[Any, tuple[int, int]] = {}


class Seq(list[Any]):
    """A list read from the file; each item's 0-based (line, column) beside it."""

    __slots__ = ("items_at",)

    def __init__(self) -> None:
        super().__init__()
        self.items_at: list[tuple[int, int]] = []


# YAML 1.2's core schema as ruamel.yaml resolves it (ruamel/yaml/resolver.py, version (1, 2)), except
# that a date is text (a timestamp is no value this file takes, and a wrong date would not even load) and
# `=` and `<<` as values are text. Checked value by value against ruamel.yaml by tests/config/test_reader.py.
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_FLOAT = re.compile(r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                       |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                       |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
                       |[-+]?\.(?:inf|Inf|INF)
                       |\.(?:nan|NaN|NAN)""", re.X)
_INT = re.compile(r"[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+")
_NUMBER_START = frozenset("-+0123456789.")


def plain_value(text: str) -> Any:
    """What an unquoted scalar means: a boolean, None, an int, a float or the text itself.
    ValueError (or IndexError) when it reads as a number that cannot be built (``0x_``, ``._``)."""
    first = text[:1]
    if first in _NUMBER_START and first:
        if _FLOAT.fullmatch(text):
            digits = text.replace("_", "").lower()
            sign = -1.0 if digits[0] == "-" else 1.0
            digits = digits.lstrip("+-")
            if digits == ".inf":
                return sign * math.inf
            return math.nan if digits == ".nan" else sign * float(digits)
        if _INT.fullmatch(text):
            digits = text.replace("_", "")
            sign = -1 if digits[0] == "-" else 1
            digits = digits[1:] if digits[0] in "+-" else digits
            base = {"0b": 2, "0x": 16, "0o": 8}.get(digits[:2])
            return sign * (int(digits[2:], base) if base else int(digits))
        return text
    if text in _BOOLS:
        return _BOOLS[text]
    return None if text in _NULLS else text


class _Builder:
    """Builds the file's data (`Map`, `Seq`, str, int, float, bool, None) from libyaml's events, under
    limits: depth (checked as each collection opens: 20,000 '[' never recurse), values counted with every
    alias expanded (a 1 KB "billion laughs" is refused after MAX_NODES, not after 2.5 GB), no alias to an
    unfinished anchor (a cycle), keys that are text and appear once, no tags or directives, one document,
    bounded scalars without control characters. Each refusal names the key path as far as it is known.
    Merge keys (`<<: *base`, `<<: [*a, *b]`) are YAML 1.1's: keys written in the mapping win, then the
    first merged mapping that has the key."""

    def __init__(self) -> None:
        self.spent = 0
        self.anchors: dict[str, tuple[Any, int | None]] = {}  # anchor -> (value, its size; None: unfinished)
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0

    # --- where we are, for messages --------------------------------------------------------------
    def _refuse(self, message: str, mark: Any, *, key: bool = False) -> Refused:
        parts = [f.label for f in self.stack[1:]]
        if self.stack:
            top = self.stack[-1]
            if isinstance(top.value, Seq):
                parts.append(f"[{len(top.value)}]")
            elif top.key is _NO_KEY or key:
                key = True
            else:
                parts.append(f".{top.key}")
        where = "".join(parts).lstrip(".")
        if key:
            where = f"{where or '<root>'} (a key)"
        return Refused(f"{where}: {message}" if where else message, mark)

    def _spend(self, n: int, mark: Any) -> None:
        self.spent += n
        if self.spent > MAX_NODES:
            raise self._refuse(f"more than {MAX_NODES:,} values (keys included, each alias counted as a copy of "
                               "what it names); a configuration is far smaller — split it, or use fewer aliases", mark)

    # --- events ------------------------------------------------------------------------------------
    def feed(self, event: Any) -> None:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            self._scalar(event)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            self._open(event, Map() if kind is yaml.MappingStartEvent else Seq())
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = self.stack.pop()
            if frame.merges and isinstance(frame.value, Map):
                _merge(frame.value, frame.merges)
            if frame.anchor is not None:
                self.anchors[frame.anchor] = (frame.value, self.spent - frame.spent)
            self._place(frame.value, frame.start, frame.start)
        elif kind is yaml.AliasEvent:
            self._alias(event)
        elif kind is yaml.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                raise Refused("expected a single document in the stream, but found another document",
                              event.start_mark)
            if event.version or event.tags:
                raise Refused("YAML directives (%YAML, %TAG) are not used in this file", event.start_mark)

    def _open(self, event: Any, value: Map | Seq) -> None:
        if self.stack and isinstance(self.stack[-1].value, Map) and self.stack[-1].key is _NO_KEY:
            raise self._refuse("a key must be plain text, not a list or mapping", event.start_mark)
        self._tagless(event)
        self._spend(1, event.start_mark)
        if len(self.stack) >= MAX_DEPTH:
            raise self._refuse(f"nested deeper than {MAX_DEPTH} levels (a configuration needs about 10)",
                               event.start_mark)
        label = self._label()
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, None)
        self.stack.append(_Frame(value, label, event.anchor, self.spent - 1, event.start_mark))

    def _label(self) -> str:
        if not self.stack:
            return ""
        top = self.stack[-1]
        return f"[{len(top.value)}]" if isinstance(top.value, Seq) else f".{top.key}"

    def _tagless(self, event: Any) -> None:
        if event.tag is not None:  # !!python/object, !!binary, !!set, !vault, !!str, and the non-specific `!`
            raise self._refuse(f"YAML tags ({_long_tag(event.tag)}) are not used in this file; write plain "
                               "values (quote text that would read as a number or boolean)", event.start_mark)

    def _scalar(self, event: Any) -> None:
        self._tagless(event)
        self._spend(1, event.start_mark)
        text: str = event.value
        is_key = bool(self.stack) and isinstance(self.stack[-1].value, Map) and self.stack[-1].key is _NO_KEY
        if len(text) > MAX_SCALAR_CHARS:
            raise self._refuse(f"a value of {len(text):,} characters; the limit is {MAX_SCALAR_CHARS:,}",
                               event.start_mark, key=is_key)
        bad = _IN_VALUE.search(text)
        if bad:
            raise self._refuse(f"the character {describe_char(bad.group())} is not allowed in a key or value",
                               event.start_mark, key=is_key)
        value: Any = text
        if not event.style:  # plain: what it reads as
            if text[:1] in _NUMBER_START and text and len(text) > MAX_NUMBER_CHARS and \
                    (_FLOAT.fullmatch(text) or _INT.fullmatch(text)):
                raise self._refuse(f"a number of {len(text):,} characters; the limit is {MAX_NUMBER_CHARS} (quote it "
                                   "if it is text)", event.start_mark, key=is_key)
            try:
                value = plain_value(text)
            except (ValueError, IndexError) as exc:
                what = "float" if _FLOAT.fullmatch(text) else "int"
                raise self._refuse(f"cannot read {text!r} as {what} ({exc}); quote it if it is text",
                                   event.start_mark, key=is_key) from None
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)  # the text `<<` (an alias of a merge key is no merge key)
        if not event.style and text == "<<" and is_key:
            value = _MERGE
        self._place(value, event.start_mark, event.start_mark)

    def _alias(self, event: Any) -> None:
        if event.anchor not in self.anchors:
            raise Refused(f"found undefined alias {event.anchor!r}", event.start_mark)
        value, size = self.anchors[event.anchor]
        if size is None:
            raise self._refuse(f"alias *{event.anchor} is inside its own anchor (a cycle)", event.start_mark)
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.value, Map) and top.key is _NO_KEY and isinstance(value, Map | Seq):
            raise self._refuse("a key must be plain text, not a list or mapping", event.start_mark)
        self._spend(size, event.start_mark)
        self._place(value, event.start_mark, event.start_mark)

    def _place(self, value: Any, mark: Any, start: Any) -> None:
        """Put a finished value where it belongs: the root, a list's next item, a mapping's key or value."""
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        at = (mark.line, mark.column)
        if isinstance(top.value, Seq):
            top.value.append(value)
            top.value.items_at.append(at)
        elif top.key is _NO_KEY:
            if value is not _MERGE and not _hashable(value):
                raise self._refuse("a key must be plain text, not a list or mapping", start)
            if value is _MERGE and top.merges:
                raise self._refuse("duplicate key '<<': it appears twice in one mapping (merge several mappings "
                                   "with one `<<: [*a, *b]`)", mark, key=True)
            top.key, top.key_mark = value, mark
        elif top.key is _MERGE:
            top.merges.append((value, mark))
            top.key = _NO_KEY
        else:
            mapping = top.value
            assert isinstance(mapping, Map)
            if top.key in mapping:
                raise self._refuse(f"duplicate key {top.key!r}: it appears twice in one mapping (YAML does not "
                                   "allow it; which one a tool reads differs)", top.key_mark, key=True)
            mapping[top.key] = value
            mapping.keys_at[top.key] = (top.key_mark.line, top.key_mark.column)
            mapping.values_at[top.key] = at
            top.key = _NO_KEY


class _Merge:
    def __repr__(self) -> str:
        return "<<"


_MERGE = _Merge()
_NO_KEY = object()


@dataclass(slots=True)
class _Frame:
    value: Map | Seq
    label: str
    anchor: str | None
    spent: int  # values spent before this collection
    start: Any  # its start mark
    key: Any = _NO_KEY  # a mapping's key waiting for its value
    key_mark: Any = None
    merges: list[tuple[Any, Any]] = field(default_factory=list)


def _hashable(value: Any) -> bool:
    return not isinstance(value, Map | Seq)


def _merge(mapping: Map, merges: list[tuple[Any, Any]]) -> None:
    """YAML 1.1 merge keys: keys written in the mapping win; among merged mappings, the first."""
    sources: list[Any] = []
    for value, mark in merges:
        items = value if isinstance(value, Seq) else [value]
        if not all(isinstance(item, Map) for item in items):
            raise Refused("expected a mapping or list of mappings for merging (<<)", mark)
        sources += items
    for source in sources:
        for key, value in source.items():
            if key not in mapping:
                mapping[key] = value
                mapping.keys_at[key] = source.keys_at[key]
                mapping.values_at[key] = source.values_at[key]


def _long_tag(tag: str) -> str:
    return "tag:yaml.org,2002:" + tag[2:] if tag.startswith("!!") else tag


def load_yaml(text: str, *, source: str) -> Any:
    """One YAML document as `Map` / `Seq` / plain values, under the limits above; ConfigError otherwise."""
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, source=source)
    builder = _Builder()
    try:
        for event in yaml.parse(text, Loader=_Loader):
            builder.feed(event)
    except Refused as exc:
        mark = exc.mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        raise ConfigError([f"{where}: {exc.message}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        if "nesting depth" in str(exc.problem):  # libyaml's own limit, met before ours in flow collections
            raise ConfigError([f"{where}: nested deeper than {MAX_DEPTH} levels (a configuration needs about "
                               "10)"]) from None
        message = f"{exc.context}: {exc.problem}" if exc.context and exc.problem else exc.problem or exc.context
        raise ConfigError([f"{where}: not valid YAML: {message}"]) from None
    except (yaml.YAMLError, UnicodeError) as exc:
        raise ConfigError([f"{source}: not valid YAML: {exc}"]) from None
    return builder.root


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
        if not isinstance(self.value, Map):
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
        if not isinstance(self.value, Seq):
            self.error(f"must be a list, not {kind_of(self.value)}")
            return
        for i, item in enumerate(self.value):
            try:
                line, col = self.value.items_at[i]
                line, col = line + 1, col + 1
            except IndexError:
                line, col = self.line, self.col
            yield Cursor(item, self._child_path(i), line, col, self.problems)

    def items(self) -> Iterator[tuple[str, Cursor]]:
        """A mapping with free-form keys (e.g. per-environment targets)."""
        if not isinstance(self.value, Map):
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
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _pos_key(m: Map, key: Any, parent: Cursor) -> tuple[int, int]:
    at = m.keys_at.get(key)
    return (at[0] + 1, at[1] + 1) if at else (parent.line, parent.col)


def _pos_value(m: Map, key: Any, parent: Cursor) -> tuple[int, int]:
    at = m.values_at.get(key)
    return (at[0] + 1, at[1] + 1) if at else _pos_key(m, key, parent)
