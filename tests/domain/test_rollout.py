"""Canary gates in git and the byte-preserving pause edit."""

import pytest

from gitops_promoter.domain.rollout import arm, canary_steps, gates, set_pause
from gitops_promoter.errors import EditError
from tests.conftest import changed_lines


def test_fixture_gates(golden):
    text = golden("envs/dev/web/rollout.yaml")
    assert gates(text) == [1, 5]
    assert [(s.kind, s.duration) for s in canary_steps(text)] == [
        ("setWeight", None), ("pause", None), ("setWeight", None), ("pause", "30s"), ("setWeight", None),
        ("pause", None)]


def test_advance_a_gate_keeps_the_comment(golden):
    before = golden("envs/dev/web/rollout.yaml")
    after = set_pause(before, step=1, duration="10s")
    assert changed_lines(before, after) == [
        ("        - pause: {}              # gate at step 1: promoter analysis",
         "        - pause: {duration: 10s}              # gate at step 1: promoter analysis")]
    assert gates(after) == [5]


def test_rearm_restores_the_original_bytes(golden):
    before = golden("envs/dev/web/rollout.yaml")
    assert set_pause(set_pause(before, step=1, duration="10s"), step=1, duration=None) == before


def test_arm_restores_passed_gates_and_leaves_every_other_step(golden):
    original = golden("envs/dev/web/rollout.yaml")
    passed = set_pause(set_pause(original, step=1, duration="10s"), step=5, duration="10s")
    assert arm(passed, steps=(1, 5), duration="10s") == original
    # step 3 is a person's 30s pause, step 0 a weight, step 9 does not exist: all left alone
    assert arm(passed, steps=(0, 3, 9), duration="10s") == passed
    # a gate a person made a 45s pause is theirs now
    theirs = set_pause(passed, step=1, duration="45s")
    assert gates(arm(theirs, steps=(1, 5), duration="10s")) == [5]


@pytest.mark.parametrize(("step_text", "duration", "expected"), [
    pytest.param("pause: { duration: 60 }", "10s", "pause: { duration: 10s }", id="flow-with-spaces-keeps-spaces"),
    pytest.param("pause: {duration: 60}", None, "pause: {}", id="flow-to-indefinite"),
    pytest.param("pause: {}", "10s", "pause: {duration: 10s}", id="empty-flow"),
    pytest.param("pause:", "10s", "pause: {duration: 10s}", id="null-pause"),
    pytest.param("pause: null", "10s", "pause: {duration: 10s}", id="explicit-null-pause"),
    pytest.param("pause: {duration: '30s'}", "10s", "pause: {duration: '10s'}", id="quoted-keeps-quotes"),
])
def test_flow_styles(step_text, duration, expected):
    before = ("kind: Rollout\nspec:\n  strategy:\n    canary:\n      steps:\n      - setWeight: 20\n"
              f"      - {step_text}  # c\n")
    after = set_pause(before, step=1, duration=duration)
    assert after == before.replace(step_text, expected)


def test_block_style_duration_and_indefinite():
    before = ("kind: Rollout\nspec:\n  strategy:\n    canary:\n      steps:\n      - pause:\n"
              "          duration: 30s   # thirty\n      - setWeight: 50\n")
    assert set_pause(before, step=0, duration="10s") == before.replace("duration: 30s", "duration: 10s")
    assert set_pause(before, step=0, duration=None) == ("kind: Rollout\nspec:\n  strategy:\n    canary:\n"
                                                        "      steps:\n      - pause: {}   # thirty\n"
                                                        "      - setWeight: 50\n")


@pytest.mark.parametrize(("step", "duration", "message"), [
    (0, "10s", r"step 0 is a setWeight step, not a pause"),
    (9, "10s", r"step 9 does not exist \(the canary has 6 steps, 0-5\)"),
    (1, "soon", r"duration must look like 10s"),
])
def test_errors(golden, step, duration, message):
    with pytest.raises(EditError, match=message):
        set_pause(golden("envs/dev/web/rollout.yaml"), step=step, duration=duration, source="r.yaml")


def test_not_a_rollout():
    with pytest.raises(EditError, match=r"no Argo Rollout"):
        gates("kind: Deployment\nspec: {}\n")


@pytest.mark.parametrize("duration", ["١s", "10s\n", "²", "10 s"])
def test_a_pause_duration_is_ascii_digits_and_a_unit(duration):
    text = "kind: Rollout\nspec:\n  strategy:\n    canary:\n      steps:\n      - pause: {}\n"
    with pytest.raises(EditError):
        set_pause(text, step=0, duration=duration)
