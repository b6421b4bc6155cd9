"""Fixtures shared by the git adapter's tests."""

import pytest

from tests.conftest import FIXTURES
from tests.support.gitremote import make_remote


@pytest.fixture
def remote(tmp_path):
    """A bare remote seeded from fixtures/repos/deploy (one commit on main)."""
    return make_remote(tmp_path, FIXTURES / "repos" / "deploy")
