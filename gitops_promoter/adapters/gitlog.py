"""`git log` read safely: records separated by NUL (`-z`), which no commit message can hold, so a
message that carries the separator of a text format (\\x1e, \\x1f) cannot forge a record."""

from __future__ import annotations

import re

FORMAT = ("-z", "--format=%H%n%B")  # each commit: its sha, a line feed, its whole message
SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a full object id (SHA-1 or SHA-256)


def records(out: str) -> list[tuple[str, str]]:
    """(sha, message) of each commit in `git log` output made with FORMAT."""
    found = []
    for record in out.split("\0"):
        sha, _, message = record.lstrip("\n").partition("\n")
        if SHA.fullmatch(sha):
            found.append((sha, message))
    return found


_SPACE = " \t\n\r"  # what git takes for whitespace here (not \f, \v or Unicode spaces)


def subject(message: str) -> str:
    """What git's %s shows: the message's first paragraph (blank lines before it skipped), its
    lines joined by spaces."""
    lines: list[str] = []
    for line in message.split("\n"):
        if not line.strip(_SPACE):
            if lines:
                break
            continue
        lines.append(line.rstrip(_SPACE))
    return " ".join(lines)
