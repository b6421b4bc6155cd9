"""Durations as Argo writes them (`30s`, `5m`, `1h30m`, `500ms`), as seconds."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+")
_PART = re.compile(r"([0-9]+(\.[0-9]+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, key: str = "duration") -> float:
    """Argo durations: `30s`, `5m`, `1h`, `500ms`, `1h30m`, or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not _DURATION.fullmatch(value.strip()):
        raise ValueError(f"{key} must be a duration such as 30s, 5m or 1h, not {value!r}")
    return sum(float(n) * _UNITS[u] for n, _, u in _PART.findall(value))
