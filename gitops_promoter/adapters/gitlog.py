"""`git log` read safely: records separated by NUL (`-z`), which no commit message can hold, so a
message that carries the separator of a text format (\\x1e, \\x1f) cannot forge a record."""

from __future__ import annotations

import re

FORMAT = ("-z", "--format=%H%n%B")  # each commit: its sha, a line feed, its whole message
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def records(out: str) -> list[tuple[str, str]]:
    """(sha, message) of each commit in `git log` output made with FORMAT."""
    found = []
    for record in out.split("\0"):
        sha, _, message = record.lstrip("\n").partition("\n")
        if _SHA.fullmatch(sha):
            found.append((sha, message))
    return found


def subject(message: str) -> str:
    """What git's %s shows: the message's first paragraph, its lines joined by spaces."""
    lines = []
    for line in message.lstrip("\n").split("\n"):
        if not line.strip():
            break
        lines.append(line.rstrip())
    return " ".join(lines)
