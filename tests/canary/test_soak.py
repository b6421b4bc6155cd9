"""Soak on real parts: staging takes dev's tag only after dev's canary completed on it and it then ran
for `environments[].soak`, counted from the commit time of the pass of its last gate (git's record)."""

import pytest

from gitops_promoter.adapters.github import GitHubHost
from gitops_promoter.domain.plan import parse_trailers
from tests.canary.conftest import IMAGE
from tests.canary.test_canary import release
from tests.fakes import run_all
from tests.support.fake_github import FakeGitHub
from tests.support.gitremote import git
from tests.support.world import config_text


def test_staging_waits_for_the_canary_then_the_soak_from_the_last_gate_pass(world, monkeypatch):
    monkeypatch.setenv("PROMOTER_GITHUB_TOKEN", "bot-token")
    with FakeGitHub(tokens={"bot-token": "promoter-bot"}) as gh:
        gh.add_repo("acme/deploy", world.remote)
        gh.teams["acme/sre"] = ["carol"]
        canary = (world.root / "kubeconfig", world.prometheus_url, world.service)
        world.config_text = config_text(remote=world.remote, image=IMAGE, canary=canary, github_api=gh.api,
                                        pacing=False).replace("  - name: staging\n    mode: pull-request\n",
                                                              "  - name: staging\n    mode: pull-request\n"
                                                              "    soak: 2h\n")

        def staging(clock):
            config = world.config
            host = GitHubHost(config.repositories["deploy"].github, seconds_between_requests=0,
                              seconds_between_writes=0)
            return run_all(config, registry=world.registry, repos={"deploy": world.repo()}, hosts={"deploy": host},
                           clusters={"dev": world.cluster()}, envs=frozenset({"staging"}), clock=lambda: clock)[0]

        release(world)
        bumped = float(git("log", "-1", "--format=%ct", "main", cwd=world.remote))
        waiting = staging(bumped + 3 * 3600)  # the soak is long over, but the canary has not completed
        assert waiting.detail == "waiting for dev's canary to complete on v1.1.0: it is paused at step 1"
        world.run()  # gate 1 passes
        world.walk(0, 10, 30)
        world.run()  # gate 5 passes
        last = git("log", "-1", "--format=%ct%n%B", "main", cwd=world.remote)
        assert parse_trailers(last)["Promoter-Step"] == "5"
        passed = float(last.splitlines()[0])
        assert world.walk(0, 10, 30, 10)["phase"] == "Healthy"

        soaking = staging(passed + 1800)
        assert soaking.status == "unchanged" and gh.pulls() == []
        assert soaking.detail.startswith("v1.1.0 soaks in dev: 1h30m left of 2h (running, canary completed, since ")
        assert soaking.requeue_after == pytest.approx(5400)
        proposed = staging(passed + 7200)
        assert (proposed.status, proposed.to_tag) == ("proposed", "v1.1.0")
