"""Fixtures shared by the git adapter's tests."""

import time

import pytest

from tests.conftest import FIXTURES
from tests.support.gitremote import make_remote


@pytest.fixture
def remote(tmp_path):
    """A bare remote seeded from fixtures/repos/deploy (one commit on main)."""
    return make_remote(tmp_path, FIXTURES / "repos" / "deploy")


def wait_until_queued(repo, n, timeout=10.0):
    """Hold a write in flight (the repository's lock) until `n` commits wait in its group-commit
    queue; they land together when it is released."""
    deadline = time.monotonic() + timeout
    while len(repo._queue) < n and time.monotonic() < deadline:
        time.sleep(0.01)
