import difflib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """Pairs of (old line, new line) that differ; asserts the line count did not change."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b), "".join(difflib.unified_diff(a, b))
    return [(x.rstrip("\r\n"), y.rstrip("\r\n")) for x, y in zip(a, b, strict=True) if x != y]


@pytest.fixture
def golden():
    def read(name: str) -> str:
        for base in (FIXTURES / "edits", FIXTURES / "repos" / "deploy"):
            path = base / name
            if path.exists():
                return path.read_text(encoding="utf-8")
        raise FileNotFoundError(name)

    return read
