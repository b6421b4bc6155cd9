"""The CLI on real parts: Debian's docker-registry, a real bare deployment repository, and the
local GitHub stand-in for the pull-request environments (staging, prod)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_promoter import cli
from tests.support.fake_github import FakeGitHub
from tests.support.gitremote import remote_file, remote_log
from tests.support.registry import Pusher
from tests.support.world import ROLLOUT, config_text, deploy_remote


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run_cli(*argv: str) -> Result:
    """`gitops-promoter ARGV` in this process (cli.main), its stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            code = int(exc.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


@dataclass
class World:
    root: Path
    remote: Path
    config: Path
    image: str
    repo: str  # the image's repository in the registry
    push: Pusher
    github: FakeGitHub

    def cli(self, *argv: str) -> Result:
        return run_cli(*argv, "--config", str(self.config))

    def dev(self) -> str:
        return remote_file(self.remote, ROLLOUT)

    def log(self) -> list[str]:
        return remote_log(self.remote)


@pytest.fixture
def world(tmp_path, registry, unique, monkeypatch):
    """dev (direct) runs <registry>/<unique>/web:v1.0.0; staging and prod take pull requests."""
    monkeypatch.setenv("PROMOTER_GITHUB_TOKEN", "bot-token")
    monkeypatch.delenv("GITOPS_PROMOTER_CONFIG", raising=False)
    unique = unique[:40].strip("-")  # a registry repository name never ends with "-"
    image = f"{registry.host}/{unique}/web"
    remote = deploy_remote(tmp_path, image=image)
    push = Pusher(registry.url)
    push.image(f"{unique}/web", "v1.0.0", created="2026-11-01T00:00:00Z")
    with FakeGitHub(tokens={"bot-token": "promoter-bot"}) as gh:
        gh.add_repo("acme/deploy", remote)
        gh.teams["acme/sre"] = ["carol", "dave"]
        config = tmp_path / "promoter.yaml"
        config.write_text(config_text(registry_host=registry.host, registry_url=registry.url, remote=remote,
                                      image=image, github_api=gh.api, pacing=False))
        yield World(tmp_path, remote, config, image, f"{unique}/web", push, gh)
