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


@pytest.fixture(scope="session")
def registry():
    """Debian's docker-registry, anonymous, in-memory; shared by the session (tests use their own repos)."""
    from tests.support.registry import RegistryServer

    server = RegistryServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_registry():
    """A second docker-registry with htpasswd basic auth (user alice, password wonderland)."""
    from tests.support.registry import RegistryServer

    server = RegistryServer(htpasswd={"alice": "wonderland"}).start()
    yield server
    server.stop()


@pytest.fixture
def unique(request):
    """A name unique to the test, for repositories in shared servers."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60].rstrip("-")


@pytest.fixture(scope="session")
def exporter():
    from tests.support.exporter import Exporter

    with Exporter() as e:
        yield e


@pytest.fixture(scope="session")
def prometheus(exporter):
    """Debian's Prometheus, started once per test session, scraping the exporter every second."""
    from tests.support.prom import PrometheusServer

    server = PrometheusServer(target=f"127.0.0.1:{exporter.port}").start()
    yield server
    server.cleanup()
