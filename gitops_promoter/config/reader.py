"""A cursor over ruamel.yaml round-trip data that remembers where each value came from.

Every check records a problem as ``file:line:col: key.path: message`` and goes on, so
one run of `check-config` reports every problem in the file, not just the first.
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gitops_promoter.domain.analysis import parse_duration


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
            self.error(f"must be a mapping, not {_kind(self.value)}")
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
            self.error(f"must be a list, not {_kind(self.value)}")
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
            self.error(f"must be a mapping, not {_kind(self.value)}")
            return
        for key in self.value:
            line, col = _pos_key(self.value, key, self)
            yield str(key), Cursor(self.value[key], self._child_path(str(key)), line, col, self.problems)

    # --- scalars -----------------------------------------------------------------
    def str(self, *, allow_empty: bool = False) -> str | None:
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            self.error(f"must be a string, not {_kind(self.value)}")
            return None
        text = str(self.value)
        if not text and not allow_empty:
            self.error("must not be empty")
            return None
        return text

    def choice(self, options: tuple[builtins.str, ...]) -> builtins.str | None:
        text = self.str()
        if text is not None and text not in options:
            hint = difflib.get_close_matches(text, options, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            self.error(f"must be one of {', '.join(options)}, not {text!r}{extra}")
            return None
        return text

    def bool(self) -> builtins.bool | None:
        if not isinstance(self.value, bool):
            self.error(f"must be true or false, not {_kind(self.value)}")
            return None
        return self.value

    def int(self, *, minimum: builtins.int | None = None) -> builtins.int | None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.error(f"must be a whole number, not {_kind(self.value)}")
            return None
        if minimum is not None and self.value < minimum:
            self.error(f"must be at least {minimum}, not {self.value}")
            return None
        return int(self.value)

    def number(self, *, positive: builtins.bool = False) -> float | None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            self.error(f"must be a number, not {_kind(self.value)}")
            return None
        if positive and self.value <= 0:
            self.error(f"must be greater than 0, not {self.value}")
            return None
        return float(self.value)

    def duration(self) -> float | None:
        """``10s``, ``2m``, ``1h30m``, ``500ms`` (or a bare number of seconds) as seconds."""
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            return float(self.value)
        text = self.str()
        if text is None:
            return None
        try:
            return parse_duration(text)
        except ValueError:
            self.error(f"must be a duration such as 30s, 2m or 1h, not {text!r}")
            return None

    def str_list(self) -> list[builtins.str]:
        out: list[builtins.str] = []
        for item in self.sequence():
            text = item.str()
            if text is not None:
                out.append(text)
        return out


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
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
