"""The canary driver end to end: a good tag walks every gate, and the next bump arms them all in
its own commit; a bad tag fails at the
first gate and is reverted; Prometheus dying during analysis never advances; Argo aborting is
mirrored in git."""

import time

from gitops_promoter.adapters.prometheus import PrometheusMetrics
from gitops_promoter.config.schema import PrometheusConfig
from gitops_promoter.domain.rollout import gates
from gitops_promoter.domain.tags import TagInfo
from tests.canary.conftest import IMAGE, RO
from tests.support.gitremote import git, remote_log
from tests.support.prom import PrometheusServer


def release(world, tag="v1.1.0"):
    world.registry.images[IMAGE].append(TagInfo(tag, digest="sha256:" + "2" * 64))
    out = world.run()
    assert "web/dev/bumped" in out, out
    assert out["web/dev/waiting"].detail == "Argo CD does not run the release commit yet"
    status = world.cluster_catches_up()
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 1)


def test_good_tag_walks_every_gate_and_the_next_bump_arms_them(world):
    original = world.file()
    release(world)
    out = world.run()
    assert "web/dev/advanced" in out, {k: v.detail for k, v in out.items()}
    advanced = out["web/dev/advanced"]
    assert advanced.detail == "gate 1: analysis passed at gate 1"
    assert gates(world.file()) == [5]
    trailers = git("log", "-1", "--format=%(trailers)", "main", cwd=world.remote).splitlines()
    assert trailers == ["Promoter-App: web", "Promoter-Env: dev", "Promoter-Action: advance", "Promoter-Tag: v1.1.0",
                        "Promoter-Step: 1"]
    assert world.kube.get("argoproj.io/v1alpha1/applications", "argocd", "web-dev")["metadata"]["annotations"] == {
        "argocd.argoproj.io/refresh": "normal"}

    # Argo CD applies the advance: the steps changed, so Argo Rollouts starts the canary over at
    # step 0 (rollout/sync.go resetRolloutStatus) and walks it; the passed gate is a 10s pause now.
    assert world.cluster_catches_up()["currentStepIndex"] == 1
    status = world.cluster_catches_up(10)  # the 10s pause passes, then the 30s one waits
    assert status["currentStepIndex"] == 3
    assert world.run()["web/dev/waiting"].detail == "the canary pauses at step 3 for 30s"
    status = world.cluster_catches_up(30)
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 5)
    assert "web/dev/advanced" in world.run()
    status = world.walk(0, 10, 30, 10)  # from step 0 again: 10s, 30s and the second passed gate's 10s
    assert status["phase"] == "Healthy"

    assert set(world.run()) == {"web/dev/unchanged"}  # completed: no commit of its own, nothing to re-arm now
    assert world.run(mode="observe")["web/dev/live"].detail == "canary: done: v1.1.0 completed"
    assert [line.split(":")[0] for line in remote_log(world.remote)[:3]] == [
        "advance(dev)", "advance(dev)", "promote(dev)"]
    assert gates(world.file()) == []  # both gates passed, as the completed release left them

    # The next release's bump arms every gate the promoter passed, in the same commit.
    world.registry.images[IMAGE].append(TagInfo("v1.2.0", digest="sha256:" + "3" * 64))
    assert "web/dev/bumped" in world.run()
    assert world.file() == original.replace("web:v1.0.0", "web:v1.2.0")  # only the image moved, gates armed
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert message.startswith("promote(dev): web v1.1.0 → v1.2.0") and "Canary gates 1, 5 are pause: {}" in message
    status = world.cluster_catches_up()
    assert (status["phase"], status["currentStepIndex"]) == ("Paused", 1)
    assert world.run(mode="observe")["web/dev/live"].detail.startswith("canary: analyse: the canary waits at gate 1")


def test_bad_tag_fails_at_the_first_gate_and_is_reverted(world):
    world.exporter.set(world.service, 0.4)
    time.sleep(2)  # a few scrapes with errors
    release(world)
    out = world.run()
    reverted = out["web/dev/reverted"]
    assert reverted.detail.startswith("v1.1.0: canary analysis failed at gate 1 (success-rate); v1.1.0 is rejected")
    assert "web:v1.0.0" in world.file() and gates(world.file()) == [1, 5]
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert message.startswith("revert(dev): web v1.1.0\n\nCanary analysis failed at gate 1 (success-rate).\n"
                              "success-rate: Failed (failed (1) > failureLimit (0)")
    assert "This reverts commit " in message and "Promoter-Action: revert" in message
    status = world.cluster_catches_up()
    assert (status["phase"], status["currentPodHash"]) == ("Healthy", status["stableRS"])
    again = world.run()
    assert again["web/dev/unchanged"].detail.startswith(
        "already at v1.0.0, the newest tag under semver lenient ^1.0; rejected here: v1.1.0 reverted by the promoter")


def test_prometheus_killed_during_analysis_never_advances(world, exporter):
    own = PrometheusServer(target=f"127.0.0.1:{exporter.port}").start()
    try:
        own.wait_for(f'http_requests_total{{service="{world.service}"}}')
        time.sleep(2.5)  # enough scrapes for rate()
        release(world)
        prom = PrometheusMetrics(PrometheusConfig("main", own.url), sleep=lambda s: None, timeout=2)
        calls = {"n": 0}

        class DiesAfterOne:
            def query(self, promql):
                calls["n"] += 1
                if calls["n"] == 2:
                    own.kill()  # killed in the middle of the gate's analysis
                return prom.query(promql)

        before = world.file()
        out = world.run(metrics=DiesAfterOne())
        inconclusive = out["web/dev/inconclusive"]
        assert inconclusive.detail.startswith("gate 1: Error: success-rate: Error (consecutiveErrors (5) > "
                                              "consecutiveErrorLimit (4)")
        assert "gitops-promoter promote web dev" in inconclusive.detail
        assert world.file() == before  # no advance, no revert
    finally:
        own.cleanup()


def test_a_person_decides_after_an_inconclusive_gate(world):
    release(world)
    out = world.run(force="promote")
    assert out["web/dev/advanced"].detail == "gate 1: advanced by a person (gitops-promoter promote)"
    out = world.run(force="rollback")
    assert out["web/dev/reverted"].detail.startswith("v1.1.0: rolled back by a person")
    assert "web:v1.0.0" in world.file() and gates(world.file()) == [1, 5]


def test_rollout_aborted_in_cluster_is_reverted_in_git(world):
    release(world)
    world.rollouts.abort(RO, "AnalysisRun web-abc failed")
    out = world.run()
    assert out["web/dev/reverted"].detail.startswith(
        "v1.1.0: the Rollout is Degraded: RolloutAborted: Rollout aborted update to revision 2: AnalysisRun "
        "web-abc failed; git must say what runs")
    assert "web:v1.0.0" in world.file()


def test_a_human_revert_of_the_bump_is_respected(world):
    release(world)
    human = world.root / "human"
    git("clone", "-q", str(world.remote), str(human), cwd=world.root)
    git("revert", "--no-edit", "HEAD", cwd=human)
    git("push", "-q", "origin", "HEAD:main", cwd=human)
    out = world.run()
    assert out["web/dev/unchanged"].detail.startswith("already at v1.0.0")
    assert "rejected here: v1.1.0 reverted in" in out["web/dev/unchanged"].detail
    assert out["web/dev/unchanged"] is not None
    assert gates(world.file()) == [1, 5]


def test_staging_takes_only_what_completed_its_canary_in_dev(world, monkeypatch):
    from gitops_promoter.adapters.github import GitHubHost
    from tests.fakes import run_all
    from tests.support.fake_github import FakeGitHub
    from tests.support.world import config_text

    monkeypatch.setenv("PROMOTER_GITHUB_TOKEN", "bot-token")
    with FakeGitHub(tokens={"bot-token": "promoter-bot"}) as gh:
        gh.add_repo("acme/deploy", world.remote)
        gh.teams["acme/sre"] = ["carol"]
        canary = (world.root / "kubeconfig", world.prometheus_url, world.service)
        world.config_text = config_text(remote=world.remote, image=IMAGE, canary=canary, github_api=gh.api,
                                        pacing=False)

        def staging():
            config = world.config
            host = GitHubHost(config.repositories["deploy"].github, seconds_between_requests=0,
                              seconds_between_writes=0)
            return run_all(config, registry=world.registry, repos={"deploy": world.repo()}, hosts={"deploy": host},
                           clusters={"dev": world.cluster()}, envs=frozenset({"staging"}))[0]

        release(world)
        waiting = staging()
        assert (waiting.status, waiting.detail) == (
            "unchanged", "waiting for dev's canary to complete on v1.1.0: it is paused at step 1")
        assert gh.pulls() == []
        world.run()  # gate 1 passes
        world.walk(0, 10, 30)
        world.run()  # gate 5 passes
        assert world.walk(0, 10, 30, 10)["phase"] == "Healthy"
        proposed = staging()
        assert (proposed.status, proposed.to_tag) == ("proposed", "v1.1.0")


def test_observing_decides_but_never_measures_or_writes(world):
    release(world)
    before = git("rev-parse", "main", cwd=world.remote)

    class NoQueries:
        def query(self, promql):
            raise AssertionError("status must not measure")

    out = world.run(metrics=NoQueries(), mode="observe")
    assert out["web/dev/live"].status_line() == \
        "web/dev: live v1.1.0; live: canary: analyse: the canary waits at gate 1 (not started)"
    assert git("rev-parse", "main", cwd=world.remote) == before


def test_a_gate_can_have_its_own_analysis(world):
    strict = """\
      gates:
        5:
          analysis:
            prometheus: main
            args: {service-name: SERVICE}
            metrics:
              - name: impossible
                successCondition: result[0] > 1.5
                query: sum(rate(http_requests_total{service="{{args.service-name}}"}[1m])) / 100
""".replace("SERVICE", world.service)
    world.config_text = world.config_text.replace("state:\n", strict + "state:\n", 1)
    release(world)
    assert "web/dev/advanced" in world.run()  # gate 1: the app-wide analysis passes
    assert world.walk(0, 10, 30)["currentStepIndex"] == 5
    reverted = world.run()["web/dev/reverted"]
    assert reverted.detail.startswith("v1.1.0: canary analysis failed at gate 5 (impossible)")


def test_a_human_bump_to_another_tag_is_not_driven_or_fought(world):
    release(world)
    human = world.root / "human"
    git("clone", "-q", str(world.remote), str(human), cwd=world.root)
    path = human / "envs/dev/web/rollout.yaml"
    path.write_text(path.read_text().replace("web:v1.1.0", "web:v1.0.5"))
    git("commit", "-qam", "pin web to v1.0.5 by hand", cwd=human)
    git("push", "-q", "origin", "HEAD:main", cwd=human)
    head = git("rev-parse", "main", cwd=world.remote)
    out = world.run()
    canary = [o for key, o in out.items() if key == "web/dev/unchanged"]
    assert canary, out
    assert git("rev-parse", "main", cwd=world.remote) == head  # no commit: not driven, not fought
    from gitops_promoter.runtime.wiring import drive

    lines = [o.detail for o in drive(world.config, world.ports(metrics=object()), apps=world.config.apps)]
    assert lines[-1:] == ["git now says v1.0.5, not the promoter's v1.1.0: a person's choice, which the promoter "
                          "does not drive or fight"]


def test_status_says_how_to_roll_back_each_live_release(world):
    release(world)
    bump = git("rev-parse", "main", cwd=world.remote)
    line = world.run(mode="observe")["web/dev/unchanged"].status_line()
    assert line.endswith(f"; roll back: git revert --no-edit {bump[:12]}")
    assert "web/dev/advanced" in world.run()  # gate 1 passes: the release is now two commits
    advance = git("rev-parse", "main", cwd=world.remote)
    line = world.run(mode="observe")["web/dev/unchanged"].status_line()
    assert line.endswith(f"; roll back: git revert --no-edit {advance[:12]} {bump[:12]}")
    human = world.root / "olive"
    git("clone", "-q", str(world.remote), str(human), cwd=world.root)
    git("-c", "user.name=Olive", "-c", "user.email=o@acme.example", "revert", "--no-edit", advance[:12], bump[:12],
        cwd=human)  # what status said, as a person runs it
    git("push", "-q", "origin", "HEAD:main", cwd=human)
    assert "web:v1.0.0" in world.file() and gates(world.file()) == [1, 5]


def test_status_says_when_a_rollout_has_no_gate_to_analyse(world):
    from tests.support.gitremote import HumanClone
    from tests.support.world import ROLLOUT

    human = HumanClone(world.remote, world.root / "olive")
    human.commit(ROLLOUT, world.file().replace("pause: {}", "pause: {duration: 1m}"), "no gates here")
    detail = world.run(mode="observe")["web/dev/live"].detail
    assert detail.endswith("; nothing to analyse: envs/dev/web/rollout.yaml has no pause: {} step (a gate); "
                           "timed pauses: step 1 1m, step 3 30s, step 5 1m")


def test_a_stale_abort_is_never_blamed_on_the_next_release(world):
    """v1.1.0 aborts in the cluster; v1.2.0 (the fix) is bumped before the promoter saw the abort.
    The abort belongs to v1.1.0's spec: v1.2.0 waits for Argo CD, whose new template clears the
    abort (Argo Rollouts' resetRolloutStatus), and walks its gates."""
    release(world)
    world.rollouts.abort(RO, "analysis run failed: error-rate")
    world.registry.images[IMAGE].append(TagInfo("v1.2.0", digest="sha256:" + "3" * 64))
    out = world.run()
    assert "web/dev/bumped" in out and out["web/dev/bumped"].to_tag == "v1.2.0"
    waiting = out["web/dev/waiting"].detail
    assert waiting.startswith("the Rollout's Degraded: RolloutAborted: Rollout aborted update to revision 2: "
                              "analysis run failed: error-rate is from an earlier spec")
    status = world.cluster_catches_up()
    assert (status["phase"], status["currentStepIndex"], status.get("abort")) == ("Paused", 1, None)
    assert "web/dev/advanced" in world.run()
    assert "web:v1.2.0" in world.file()
    assert not [s for s in remote_log(world.remote) if s.startswith("revert(")]
