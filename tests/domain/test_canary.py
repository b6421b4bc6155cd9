"""The canary driver's decisions, case by case."""

import pytest

from gitops_promoter.domain.canary import RolloutView, decide
from gitops_promoter.domain.history import Release
from gitops_promoter.domain.rollout import Step

STEPS = [Step(0, "setWeight"), Step(1, "pause"), Step(2, "setWeight"), Step(3, "pause", "30s"),
         Step(4, "setWeight"), Step(5, "pause")]
RELEASE = Release("v2", None, "b" * 40, ())
IMG = ("reg/web:v2",)


def view(phase="Paused", step=1, paused=True, aborted=False, gen=3, observed=3, images=IMG, message="", reasons=()):
    return RolloutView(phase, step, paused, aborted, gen, observed, images, message, pause_reasons=reasons)


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
    pytest.param(Release("v2", None, "b" * 40, (("c" * 40, 1),)),
                 [*STEPS[:1], Step(1, "pause", "10s"), *STEPS[2:]], True, view(), ("wait", None),
                 id="gate-advanced-in-git"),
    pytest.param(RELEASE, STEPS, True, view(step=3), ("wait", None), id="timed-pause"),
    pytest.param(RELEASE, STEPS, True, view(phase="Progressing", step=2, paused=False), ("wait", None),
                 id="moving"),
    pytest.param(RELEASE, STEPS, True, view(phase="Healthy", step=6, paused=False), ("done", None),
                 id="completed-nothing-to-rearm"),
])
def test_decide(release, steps, synced, rollout, expected):
    d = decide(release=release, steps=steps, synced=synced, rollout=rollout)
    assert (d.action, d.step) == expected


def test_completion_is_done_and_never_rearms():
    """Gates are armed by the next release's bump commit, never by a commit of their own."""
    release = Release("v2", None, "b" * 40, (("c" * 40, 1), ("d" * 40, 5)))
    steps = [Step(0, "setWeight"), Step(1, "pause", "10s"), Step(2, "setWeight"), Step(3, "pause", "30s"),
             Step(4, "setWeight"), Step(5, "pause", "10s")]
    d = decide(release=release, steps=steps, synced=True, rollout=view(phase="Healthy", step=6, paused=False))
    assert (d.action, d.reason) == ("done", "v2 completed")


def test_a_gate_whose_pass_a_person_reverted_is_not_passed_again():
    release = Release("v2", None, "b" * 40, (), undone=(("e" * 40, 1),))
    d = decide(release=release, steps=STEPS, synced=True, rollout=view())
    assert (d.action, d.step) == ("wait", 1)
    assert "a person reverted the promoter's pass of gate 1 for v2 in eeeeeeeeee" in d.reason


def test_a_gate_passed_again_by_a_person_after_a_revert_moves_on():
    release = Release("v2", None, "b" * 40, (("f" * 40, 1),), undone=(("e" * 40, 1),))
    assert release.undone_at(1) is None and release.undone_at(5) is None


def test_an_inconclusive_in_cluster_analysis_waits_for_a_person():
    d = decide(release=RELEASE, steps=STEPS, synced=True,
               rollout=view(step=2, paused=False, reasons=("InconclusiveAnalysisRun",)))
    assert d.action == "wait" and "InconclusiveAnalysisRun" in d.reason and "a person" in d.reason


@pytest.mark.parametrize(("rollout", "expected"), [
    pytest.param(view(phase="Healthy", step=6, paused=False), None, id="completed"),
    pytest.param(view(), "it is paused at step 1", id="at-a-gate"),
    pytest.param(view(phase="Progressing", step=2, paused=False), "it is at step 2 (Progressing)", id="walking"),
    pytest.param(view(phase="Healthy", step=6, paused=False, images=("reg/web:v1",)), "the Rollout does not run v2",
                 id="other-tag"),
    pytest.param(view(phase="Degraded", aborted=True, message="boom"), "the Rollout is Degraded: boom", id="aborted"),
    # Argo CD applied v2 a moment ago; the controller's status is still the previous release's
    # completed walk (seen in the demo: staging was proposed before dev's canary even began).
    pytest.param(view(phase="Healthy", step=6, paused=False, gen=4, observed=3),
                 "its controller has not observed the latest spec yet (generation 4, observed 3)", id="stale-status"),
    pytest.param(view(phase="Degraded", aborted=True, message="old", gen=4, observed=3),
                 "its controller has not observed the latest spec yet (generation 4, observed 3)",
                 id="stale-degraded"),
])
def test_unhealthy(rollout, expected):
    from gitops_promoter.domain.canary import unhealthy

    assert unhealthy(rollout, tag="v2", steps=6) == expected


def test_a_human_bump_ends_the_promoters_release():
    d = decide(release=RELEASE, steps=STEPS, synced=True, rollout=view(), git_tag="v1.9")
    assert d.action == "done" and "a person's choice" in d.reason
