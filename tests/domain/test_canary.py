"""The canary driver's decisions, case by case."""

import pytest

from gitops_promoter.domain.canary import RolloutView, decide
from gitops_promoter.domain.history import Release
from gitops_promoter.domain.rollout import Step

STEPS = [Step(0, "setWeight"), Step(1, "pause"), Step(2, "setWeight"), Step(3, "pause", "30s"),
         Step(4, "setWeight"), Step(5, "pause")]
RELEASE = Release("v2", None, "b" * 40, (), False)
IMG = ("reg/web:v2",)


def view(phase="Paused", step=1, paused=True, aborted=False, gen=3, observed=3, images=IMG, message=""):
    return RolloutView(phase, step, paused, aborted, gen, observed, images, message)


@pytest.mark.parametrize(("release", "steps", "synced", "rollout", "expected"), [
    pytest.param(None, STEPS, True, view(), ("done", None), id="no-release"),
    pytest.param(RELEASE, STEPS, True, view(aborted=True, phase="Degraded", message="analysis failed"),
                 ("revert", None), id="aborted-in-cluster"),
    pytest.param(RELEASE, STEPS, True, view(aborted=False, phase="Degraded", message="ProgressDeadlineExceeded"),
                 ("revert", None), id="degraded-by-progress-deadline"),
    pytest.param(RELEASE, STEPS, True, view(aborted=True, phase="Degraded", images=("reg/web:v1",)),
                 ("wait", None), id="stale-abort-of-an-earlier-release"),
    pytest.param(RELEASE, STEPS, False, view(aborted=True, phase="Degraded"), ("wait", None),
                 id="abort-before-argo-cd-applied-the-release"),
    pytest.param(RELEASE, STEPS, True, view(aborted=True, phase="Degraded", observed=2), ("wait", None),
                 id="abort-before-the-controller-saw-the-release"),
    pytest.param(RELEASE, STEPS, False, view(), ("wait", None), id="not-synced"),
    pytest.param(RELEASE, STEPS, True, view(observed=2), ("wait", None), id="generation-not-observed"),
    pytest.param(RELEASE, STEPS, True, view(images=("reg/web:v1",)), ("wait", None), id="old-image"),
    pytest.param(RELEASE, STEPS, True, view(), ("analyse", 1), id="at-gate"),
    pytest.param(Release("v2", None, "b" * 40, (("c" * 40, 1),), False),
                 [*STEPS[:1], Step(1, "pause", "10s"), *STEPS[2:]], True, view(), ("wait", None),
                 id="gate-advanced-in-git"),
    pytest.param(RELEASE, STEPS, True, view(step=3), ("wait", None), id="timed-pause"),
    pytest.param(RELEASE, STEPS, True, view(phase="Progressing", step=2, paused=False), ("wait", None),
                 id="moving"),
    pytest.param(RELEASE, STEPS, True, view(phase="Healthy", step=6, paused=False), ("done", None),
                 id="completed-nothing-to-rearm"),
])
def test_decide(release, steps, synced, rollout, expected):
    d = decide(release=release, steps=steps, synced=synced, rollout=rollout, gate_duration="10s")
    assert (d.action, d.step) == expected


def test_rearm_after_completion():
    release = Release("v2", None, "b" * 40, (("c" * 40, 1), ("d" * 40, 5)), False)
    steps = [Step(0, "setWeight"), Step(1, "pause", "10s"), Step(2, "setWeight"), Step(3, "pause", "30s"),
             Step(4, "setWeight"), Step(5, "pause", "10s")]
    d = decide(release=release, steps=steps, synced=True, rollout=view(phase="Healthy", step=6, paused=False),
               gate_duration="10s")
    assert (d.action, d.steps, d.reason) == ("rearm", (1, 5), "v2 completed; re-arm gates 1, 5")


def test_a_human_edit_of_a_pause_is_not_rearmed():
    release = Release("v2", None, "b" * 40, (("c" * 40, 1),), False)
    steps = [Step(0, "setWeight"), Step(1, "pause", "45s")]  # a person changed our 10s
    d = decide(release=release, steps=steps, synced=True, rollout=view(phase="Healthy", step=2, paused=False),
               gate_duration="10s")
    assert d.action == "done"


@pytest.mark.parametrize(("rollout", "expected"), [
    pytest.param(view(phase="Healthy", step=6, paused=False), None, id="completed"),
    pytest.param(view(), "its canary is at step 1 (Paused)", id="at-a-gate"),
    pytest.param(view(phase="Healthy", step=6, paused=False, images=("reg/web:v1",)), "the Rollout does not run v2",
                 id="other-tag"),
    pytest.param(view(phase="Degraded", aborted=True, message="boom"), "the Rollout aborted (boom)", id="aborted"),
])
def test_unhealthy(rollout, expected):
    from gitops_promoter.domain.canary import unhealthy

    assert unhealthy(rollout, tag="v2", steps=6) == expected


def test_a_human_bump_ends_the_promoters_release():
    d = decide(release=RELEASE, steps=STEPS, synced=True, rollout=view(), gate_duration="10s", git_tag="v1.9")
    assert d.action == "done" and "a person's choice" in d.reason
