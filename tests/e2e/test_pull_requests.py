"""End to end through the CLI: real registry, real git, the local GitHub server."""

import os
import subprocess
import sys

import pytest

from tests.support.fake_github import FakeGitHub
from tests.support.gitremote import git, remote_file
from tests.support.registry import Pusher
from tests.support.world import PROD, STAGING, config_text, deploy_remote


def cli(*args, cwd):
    env = {**os.environ, "PROMOTER_GITHUB_TOKEN": "bot-token"}
    return subprocess.run([sys.executable, "-m", "gitops_promoter.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env=env)


@pytest.fixture
def world(tmp_path, registry, unique):
    image = f"{registry.host}/{unique}/web"
    remote = deploy_remote(tmp_path, image=image)
    with FakeGitHub(tokens={"bot-token": "promoter-bot"}) as gh:
        gh.add_repo("acme/deploy", remote)
        gh.teams["acme/sre"] = ["carol", "dave"]
        (tmp_path / "promoter.yaml").write_text(config_text(
            remote=remote, image=image, registry_host=registry.host, registry_url=registry.url, github_api=gh.api,
            pacing=False))
        push = Pusher(registry.url)
        push.image(f"{unique}/web", "v1.0.0")
        yield {"gh": gh, "remote": remote, "push": push, "repo": f"{unique}/web", "cwd": tmp_path}


def test_dev_to_staging_to_prod_through_the_cli(world):
    cwd, gh = world["cwd"], world["gh"]
    world["push"].image(world["repo"], "v1.1.0")
    first = cli("run", "--once", "--config", "promoter.yaml", cwd=cwd)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("web/dev: bumped v1.0.0 → v1.1.0")
    assert lines[1].startswith("web/staging: proposed v1.0.0 → v1.1.0 (#1): opened http://127.0.0.1:")
    assert lines[2] == "web/prod: unchanged: prod already runs v1.0.0, as staging does"

    status = cli("status", "--config", "promoter.yaml", cwd=cwd)
    assert status.returncode == 0, status.stderr
    bump = git("rev-parse", "main", cwd=world["remote"])[:12]
    assert status.stdout.splitlines() == [
        "web/dev: live v1.1.0; unchanged: already at v1.1.0, the newest tag under semver lenient ^1.0; "
        f"roll back: git revert --no-edit {bump}",
        "web/staging: live v1.0.0; waiting → v1.1.0 (#1): waiting: no valid approval yet; 1 more approval needed "
        "from alice, acme/sre",
        "web/prod: live v1.0.0; unchanged: prod already runs v1.0.0, as staging does",
    ]

    gh.review(1, "carol", "APPROVED")
    second = cli("run", "--once", "--config", "promoter.yaml", cwd=cwd)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "web/staging: merged v1.0.0 → v1.1.0 (#1): ready to merge (approved by carol)" in second.stdout
    assert "web/prod: proposed v1.0.0 → v1.1.0 (#2)" in second.stdout
    assert "newTag: v1.1.0" in remote_file(world["remote"], STAGING)
    assert 'tag: "v1.0.0"' in remote_file(world["remote"], PROD)
