"""`status` and `explain` of a canary on real parts: Debian's docker-registry and Prometheus, real
git, the kube-apiserver stand-in with the Argo CD and Argo Rollouts simulators, the GitHub
stand-in. One row per environment says both its write-back and its canary, and a canary simply
paused at a gate is never "not healthy"."""

from __future__ import annotations

import pytest

from tests.cli.conftest import run_cli
from tests.support.argo_sim import ArgoCD, Rollouts
from tests.support.fake_github import FakeGitHub
from tests.support.fake_kube import FakeKube
from tests.support.gitremote import git
from tests.support.registry import Pusher
from tests.support.world import ROLLOUT, config_text, deploy_remote, kubeconfig_for

APP, RO = "argocd/web-dev", "shop/web"


@pytest.fixture
def canary(tmp_path, registry, prometheus, exporter, unique, monkeypatch):
    monkeypatch.setenv("PROMOTER_GITHUB_TOKEN", "bot-token")
    unique = unique[:40].strip("-")
    service = f"{unique}-canary"
    exporter.set(service, 0.0)
    image = f"{registry.host}/{unique}/web"
    remote = deploy_remote(tmp_path, image=image)
    push = Pusher(registry.url)
    push.image(f"{unique}/web", "v1.0.0")
    with FakeKube() as kube, FakeGitHub(tokens={"bot-token": "promoter-bot"}) as gh:
        gh.add_repo("acme/deploy", remote)
        argocd = ArgoCD(kube, remote)
        argocd.add(APP, ROLLOUT)
        rollouts = Rollouts(kube)

        def catch_up(seconds: float = 0.0):
            argocd.sync(APP)
            status = rollouts.tick(RO, seconds)["status"]
            argocd.observe(APP)
            return status

        catch_up()  # v1.0.0 is live and stable
        config = tmp_path / "promoter.yaml"
        config.write_text(config_text(registry_host=registry.host, registry_url=registry.url, remote=remote,
                                      image=image, github_api=gh.api, pacing=False,
                                      canary=(kubeconfig_for(tmp_path / "kubeconfig", kube.url), prometheus.url,
                                              service)))
        prometheus.wait_for(f'http_requests_total{{service="{service}"}}')
        yield {"config": str(config), "push": push, "repo": f"{unique}/web", "catch_up": catch_up,
               "remote": remote}


def test_a_canary_paused_at_a_gate_is_one_row_that_says_so(canary):
    canary["push"].image(canary["repo"], "v1.1.0")
    first = run_cli("run", "--once", "--config", canary["config"])
    assert first.code == 0, first.out + first.err
    status = canary["catch_up"]()
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 1)  # at gate 1, analysis not started
    bump = git("rev-parse", "main", cwd=canary["remote"])

    text = run_cli("status", "--config", canary["config"])
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["web/dev", "web/staging", "web/prod"]  # one row each
    assert lines[0] == ("web/dev: live v1.1.0; unchanged: already at v1.1.0, the newest tag under semver lenient "
                        "^1.0; canary at gate 1 (step 1 of 6, 20%): the canary waits at gate 1 (not started); "
                        f"roll back: git revert --no-edit {bump[:12]}")
    assert lines[1] == ("web/staging: live v1.0.0; unchanged: waiting for dev's canary to complete on v1.1.0: "
                        "it is paused at step 1")
    assert "not healthy" not in text.out

    table = run_cli("status", "-o", "table", "--config", canary["config"]).out
    assert "canary" in next(line for line in table.splitlines() if "app/env" in line)
    assert "analyse:" in table and "not healthy" not in table

    data = run_cli("status", "-o", "json", "--config", canary["config"]).json()
    dev = data[0]
    assert dev["canary"] | {"reason": None} == {"status": "live", "decision": "analyse", "reason": None,
                                                "step": 1, "steps": 6,
                                                "weight": 20, "phase": "Paused", "at_gate": True, "gate": None}

    why = run_cli("explain", "web", "dev", "--config", canary["config"])
    assert why.code == 0, why.err
    assert "canary (analyse): at gate 1 (step 1 of 6, 20%): the canary waits at gate 1 (not started)" in why.out
    assert "  gitops-promoter promote web dev   # pass the gate without analysis" in why.out
    assert "  gitops-promoter analysis run web dev --gate 1   # measure the gate's metrics once now" in why.out
    staging = run_cli("explain", "web", "staging", "--config", canary["config"]).out
    assert "last candidate: unchanged: waiting for dev's canary to complete on v1.1.0: it is paused at step 1" \
        in staging

    # A person passes the gate: `promote` without --tag still advances the canary.
    passed = run_cli("promote", "web", "dev", "--config", canary["config"])
    assert passed.code == 0, passed.err
    assert passed.out.startswith("web/dev: advanced v1.1.0: gate 1: advanced by a person (gitops-promoter promote)")
