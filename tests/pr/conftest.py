"""A pull-request world: a real bare deployment repo, the local GitHub server in front of it,
the real GitRepo and the real PyGithub-based GitHubHost, and an in-memory registry."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_promoter.adapters.github import GitHubHost
from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config import parse_config
from gitops_promoter.domain.tags import TagInfo
from tests.fakes import MemoryRegistry, run_all
from tests.support.fake_github import FakeGitHub
from tests.support.gitremote import HumanClone, remote_file
from tests.support.world import config_text, deploy_remote

IMAGE = "reg.local/acme/web"


@dataclass
class World:
    root: Path
    remote: Path
    github: FakeGitHub
    registry: MemoryRegistry
    config_text: str

    @property
    def config(self):
        return parse_config(self.config_text, source="promoter.yaml")

    def repo(self):
        cfg = self.config.repositories["deploy"]
        return GitRepo(cfg, workdir=self.root / "work", sleep=lambda s: None, backoff=Backoff(base=0.001))

    def host(self):
        return GitHubHost(self.config.repositories["deploy"].github, backoff=0.01, seconds_between_requests=0,
                          seconds_between_writes=0)

    def push_tag(self, tag: str) -> None:
        self.registry.images.setdefault(IMAGE, []).append(TagInfo(tag, digest="sha256:" + tag.encode().hex()[:8] * 8))

    def run(self, *, observe=False):
        """One reconcile of every app, as `run --once` does (`observe`: as `status` does)."""
        out = run_all(self.config, registry=self.registry, repos={"deploy": self.repo()}, hosts={"deploy": self.host()},
                      mode="observe" if observe else "run")
        return {f"{o.app}/{o.env}": o for o in out}

    def file(self, path: str) -> str:
        return remote_file(self.remote, path)

    def human(self, name: str = "human") -> HumanClone:
        return HumanClone(self.remote, self.root / name)

    def head(self, branch: str) -> str:
        return self.github.repo().head_sha(branch)


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMOTER_GITHUB_TOKEN", "bot-token")
    remote = deploy_remote(tmp_path, image=IMAGE)
    with FakeGitHub(tokens={"bot-token": "promoter-bot"}) as gh:
        gh.add_repo("acme/deploy", remote)
        gh.teams["acme/sre"] = ["carol", "dave"]
        w = World(tmp_path, remote, gh, MemoryRegistry(),
                  config_text(remote=remote, image=IMAGE, github_api=gh.api, pacing=False))
        w.push_tag("v1.0.0")
        yield w
