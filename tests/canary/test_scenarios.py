"""Canary scenarios from the field, end to end on real git, real Prometheus and the strict
Argo CD / Argo Rollouts simulators: a tag that arrives mid-canary, a person's revert of each
kind of promoter commit, and canaries shaped like the common published ones."""

from gitops_promoter.domain.analysis import Measurement
from gitops_promoter.domain.rollout import gates
from gitops_promoter.domain.tags import TagInfo
from tests.canary.conftest import APP, IMAGE
from tests.support.gitremote import HumanClone, git, remote_log
from tests.support.world import ROLLOUT


def push_tag(world, tag, digit):
    world.registry.images[IMAGE].append(TagInfo(tag, digest="sha256:" + digit * 64))


def trailers(world, rev="main"):
    return git("log", "-1", "--format=%(trailers)", rev, cwd=world.remote).splitlines()


def person_runs(world, *args):
    """A person's git command in a fresh clone, pushed."""
    where = world.root / f"person-{len(list(world.root.glob('person-*')))}"
    git("clone", "-q", str(world.remote), str(where), cwd=world.root)
    git(*args, cwd=where)
    git("push", "-q", "origin", "HEAD:main", cwd=where)
    return git("rev-parse", "HEAD", cwd=where).strip()


def walk_to(world, index, *, limit=12):
    """Let Argo CD and the controller run, 10s at a time, until the canary pauses at `index`."""
    for _ in range(limit):
        status = world.cluster_catches_up(10)
        if status.get("pauseConditions") and status["currentStepIndex"] == index:
            return status
    raise AssertionError(f"the canary never paused at step {index}: {status}")


def walk_to_end(world, *, limit=40):
    for _ in range(limit):
        status = world.cluster_catches_up(10)
        if status["phase"] == "Healthy":
            return status
    raise AssertionError(f"the canary never completed: {status}")


def test_a_tag_mid_canary_supersedes_the_running_one_and_walks_every_gate(world):
    original = world.file()
    push_tag(world, "v1.1.0", "2")
    world.run()
    walk_to(world, 1)
    assert "web/dev/advanced" in world.run()  # v1.1.0 passes gate 1
    walk_to(world, 5)  # ... and waits at gate 5 when v1.2.0 arrives

    push_tag(world, "v1.2.0", "3")
    out = world.run()
    assert out["web/dev/bumped"].to_tag == "v1.2.0"
    assert out["web/dev/waiting"].detail == "Argo CD does not run the release commit yet"
    # One commit: the image and gate 1, which v1.1.0's pass had made a 10s pause, armed again.
    assert world.file() == original.replace("web:v1.0.0", "web:v1.2.0")
    assert trailers(world)[2:4] == ["Promoter-Action: bump", "Promoter-Tag: v1.2.0"]

    # Argo Rollouts starts over on the new template (index 0); v1.2.0 is analysed at gate 1, then 5.
    status = walk_to(world, 1)
    assert status["currentPodHash"] != status["stableRS"]
    assert world.run()["web/dev/advanced"].to_tag == "v1.2.0"
    walk_to(world, 5)
    assert world.run()["web/dev/advanced"].detail == "gate 5: analysis passed at gate 5"
    walk_to_end(world)
    assert set(world.run()) == {"web/dev/unchanged"}
    log = remote_log(world.remote)
    assert [line for line in log if "v1.2.0" in line] == [
        "advance(dev): web v1.2.0 gate 5", "advance(dev): web v1.2.0 gate 1", "promote(dev): web v1.1.0 → v1.2.0"]


def test_a_persons_revert_of_a_gate_pass_is_never_undone(world):
    push_tag(world, "v1.1.0", "2")
    world.run()
    walk_to(world, 1)
    advanced = world.run()["web/dev/advanced"].sha
    person = person_runs(world, "revert", "--no-edit", advanced)
    assert gates(world.file()) == [1, 5]

    # The steps changed: the controller starts over and waits at gate 1 again.
    walk_to(world, 1)
    for _ in range(2):  # and again on the next pass: the promoter does not pass it again
        out = world.run()
        assert out["web/dev/waiting"].detail.startswith(
            f"a person reverted the promoter's pass of gate 1 for v1.1.0 in {person[:10]}")
    assert remote_log(world.remote)[0].startswith('Revert "advance(dev)')
    # A person decides: promote passes it, and the canary goes on.
    assert world.run(force="promote")["web/dev/advanced"].detail == \
        "gate 1: advanced by a person (gitops-promoter promote)"


def test_a_persons_revert_of_the_arming_bump_is_never_undone(world):
    push_tag(world, "v1.1.0", "2")
    world.run()
    for gate in (1, 5):
        walk_to(world, gate)
        assert "web/dev/advanced" in world.run()
    walk_to_end(world)
    push_tag(world, "v1.2.0", "3")
    bump = world.run()["web/dev/bumped"].sha
    assert gates(world.file()) == [1, 5]

    person_runs(world, "revert", "--no-edit", bump)  # back to v1.1.0, and its passed gates
    after_person = world.file()
    assert "web:v1.1.0" in after_person and gates(after_person) == []
    world.cluster_catches_up()
    for _ in range(2):
        out = world.run()
        assert out["web/dev/unchanged"].detail.startswith("already at v1.1.0")
        assert "v1.2.0 reverted in" in out["web/dev/unchanged"].detail
    assert world.file() == after_person  # nothing re-armed, nothing bumped
    assert remote_log(world.remote)[0].startswith('Revert "promote(dev)')


def test_status_gives_the_revert_that_rolls_back_a_completed_release(world):
    """After completion the release is its bump and its gate passes; `git revert` of all of them,
    newest first, applies cleanly and leaves git on the previous release."""
    push_tag(world, "v1.1.0", "2")
    world.run()
    for gate in (1, 5):
        walk_to(world, gate)
        world.run()
    walk_to_end(world)
    before = world.file()
    live = world.run(mode="observe")["web/dev/unchanged"]
    command = live.rollback.split()
    assert command[:3] == ["git", "revert", "--no-edit"] and len(command) == 6  # two passes, then the bump
    person_runs(world, *command[1:])
    assert world.file() == before.replace("web:v1.1.0", "web:v1.0.0").replace(
        "pause: {duration: 10s}", "pause: {}")
    assert world.run()["web/dev/unchanged"].detail.startswith("already at v1.0.0")


def shaped(world, steps: str):
    """The dev Rollout with these canary steps (a person's commit)."""
    text = world.file()
    start = text.index("      steps:\n")
    end = text.index("  template:")
    HumanClone(world.remote, world.root / "shaper").commit(
        ROLLOUT, text[:start] + "      steps:\n" + steps + text[end:], "canary steps")


def test_one_gate_then_timed_steps(world):
    """The most common published shape: 20% → pause: {} → 40/60/80% with timed pauses."""
    shaped(world, "        - setWeight: 20\n        - pause: {}\n        - setWeight: 40\n"
                  "        - pause: {duration: 1m}\n        - setWeight: 60\n        - pause: {duration: 90}\n"
                  "        - setWeight: 80\n        - pause: {duration: 1m}\n")
    world.cluster_catches_up()
    push_tag(world, "v1.1.0", "2")
    world.run()
    walk_to(world, 1)
    assert world.run()["web/dev/advanced"].detail == "gate 1: analysis passed at gate 1"
    status = walk_to(world, 3)
    assert world.run()["web/dev/waiting"].detail == "the canary pauses at step 3 for 1m"
    status = walk_to(world, 5)
    assert world.run(mode="observe")["web/dev/live"].detail == "canary: wait: the canary pauses at step 5 for 90s"
    status = walk_to_end(world)
    assert status["stableRS"] == status["currentPodHash"]
    assert set(world.run()) == {"web/dev/unchanged"}


class Scripted:
    """A Prometheus that answers each query from a script (one value per measurement), then the
    last value; for failure counts that real traffic cannot make exact."""

    def __init__(self, **values):
        self.values = {k: list(v) for k, v in values.items()}
        self.asked = []

    def query(self, promql):
        name = next(k for k in self.values if k in promql)
        self.asked.append(name)
        script = self.values[name]
        value = script.pop(0) if len(script) > 1 else script[0]
        return Measurement(value=[value])


def test_three_gates_with_failure_limit_two(world):
    """25/50/75 with a gate after each, and `failureLimit: 2` (Argo: Failed when failed > limit):
    two bad measurements at a gate still pass it; the third at a later gate fails it."""
    shaped(world, "        - setWeight: 25\n        - pause: {}\n        - setWeight: 50\n        - pause: {}\n"
                  "        - setWeight: 75\n        - pause: {}\n")
    world.cluster_catches_up()
    world.config_text = world.config_text.replace("            count: 3\n",
                                                  "            count: 5\n            failureLimit: 2\n")
    prom = Scripted(http_requests_total=[0.5, 0.99, 0.5, 0.99, 0.99,  # gate 1: 2 failures → pass
                                         0.99, 0.99, 0.99, 0.99, 0.99,  # gate 3
                                         0.5, 0.5, 0.99, 0.5])  # gate 5: the third failure fails it
    push_tag(world, "v1.1.0", "2")
    world.run(metrics=prom)
    walk_to(world, 1)
    assert world.run(metrics=prom)["web/dev/advanced"].detail == "gate 1: analysis passed at gate 1"
    walk_to(world, 3)
    assert "web/dev/advanced" in world.run(metrics=prom)
    walk_to(world, 5)
    out = world.run(metrics=prom)
    assert out["web/dev/reverted"].detail.startswith("v1.1.0: canary analysis failed at gate 5 (success-rate)")
    assert len(prom.asked) == 14  # gate 5 stopped at the third failure, not at count
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert "failed (3) > failureLimit (2)" in message
    assert "web:v1.0.0" in world.file() and gates(world.file()) == [1, 3, 5]


def test_a_multi_metric_gate_fails_on_its_first_bad_metric(world):
    """Success rate, p99 latency and restarts at one gate; restarts fail on the first measurement,
    so the gate fails at once — the others' remaining measurements are not waited for."""
    metrics = """\
          - name: p99-latency
            interval: 1s
            count: 3
            successCondition: result[0] < 0.5
            query: vector(0.12)
          - name: restarts
            interval: 1s
            count: 3
            failureCondition: result[0] > 0
            query: vector(2)
"""
    assert world.config_text.count("state:\n") == 1  # the canary block ends right before it
    world.config_text = world.config_text.replace("state:\n", metrics + "state:\n")
    push_tag(world, "v1.1.0", "2")
    world.run()
    walk_to(world, 1)
    out = world.run()
    assert out["web/dev/reverted"].detail.startswith("v1.1.0: canary analysis failed at gate 1 (restarts)")
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert "restarts: Failed" in message and "success-rate:" in message and "p99-latency:" in message
    assert "web:v1.0.0" in world.file()


def test_a_release_that_never_becomes_ready_is_reverted_naming_the_progress_deadline(world):
    """No abort: the new pods never become available, and after progressDeadlineSeconds (600 s by
    default) Argo Rollouts marks the Rollout Degraded with ProgressDeadlineExceeded."""
    push_tag(world, "v1.1.0", "2")
    world.run()
    world.argocd.sync(APP)  # Argo CD applies v1.1.0; its pods will never become available
    world.rollouts.stall("shop/web")
    world.cluster_catches_up()  # the controller starts the update: its deadline counts from now
    status = world.cluster_catches_up(300)
    assert status["phase"] != "Degraded"
    assert "web/dev/reverted" not in world.run()  # the deadline has not passed yet
    status = world.cluster_catches_up(301)
    assert status["phase"] == "Degraded" and not status.get("abort")
    out = world.run()
    detail = out["web/dev/reverted"].detail
    assert detail.startswith("v1.1.0: the Rollout is Degraded: ProgressDeadlineExceeded: ReplicaSet ")
    assert "has timed out progressing" in detail and detail.endswith("v1.1.0 is rejected for dev")
    assert "web:v1.0.0" in world.file()
    assert "ProgressDeadlineExceeded" in git("log", "-1", "--format=%B", "main", cwd=world.remote)


def test_an_inconclusive_in_cluster_analysis_waits_for_a_person(world):
    push_tag(world, "v1.1.0", "2")
    world.run()
    walk_to(world, 1)
    world.rollouts.inconclusive("shop/web")
    before = remote_log(world.remote)
    out = world.run()
    assert "InconclusiveAnalysisRun" in out["web/dev/waiting"].detail
    assert remote_log(world.remote) == before  # neither analysed nor advanced behind a person's back
