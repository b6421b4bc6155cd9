"""Soak times (Kargo's requiredSoakTime), decided from git commit times: pure, with the clock given."""

import pytest

from gitops_promoter.domain.history import Commit
from gitops_promoter.domain.soak import duration, since, soak_wait

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
HOUR = 3600.0


def c(sha, subject, *, revert_of=None, **trailers):
    body = "\n".join(f"{k.replace('_', '-')}: {v}" for k, v in trailers.items())
    text = f"{subject}\n\nThis reverts commit {revert_of * 40}.\n" if revert_of else f"{subject}\n\n{body}\n"
    return Commit(sha * 40, subject, text)


def bump(sha, tag, env="dev"):
    return c(sha, f"promote({env}): web {tag}", Promoter_App="web", Promoter_Env=env, Promoter_Action="bump",
             Promoter_Tag=tag)


def advance(sha, step, tag="v2"):
    return c(sha, f"advance(dev): web {tag} gate {step}", Promoter_App="web", Promoter_Env="dev",
             Promoter_Action="advance", Promoter_Step=str(step), Promoter_Tag=tag)


TIMES = {"a" * 40: T0, "b" * 40: T0 + 600, "c" * 40: T0 + 900, "d" * 40: T0 + 1200}


@pytest.mark.parametrize(("history", "tag", "expected"), [
    pytest.param([bump("a", "v2")], "v2", T0, id="bump-only"),
    pytest.param([advance("c", 5), advance("b", 1), bump("a", "v2")], "v2", T0 + 900, id="the-last-gate-pass"),
    pytest.param([c("d", "a person's unrelated commit"), bump("a", "v2")], "v2", T0, id="others-do-not-count"),
    pytest.param([bump("b", "v3"), bump("a", "v2")], "v2", None, id="another-tag-is-live"),
    pytest.param([c("b", 'Revert "promote(dev): web v2"', revert_of="a"), bump("a", "v2")], "v2", None,
                 id="reverted"),
    pytest.param([bump("a", "v2", env="staging")], "v2", None, id="another-environment"),
    pytest.param([], "v2", None, id="no-release"),
    pytest.param([bump("e", "v2")], "v2", None, id="time-unknown"),
])
def test_since(history, tag, expected):
    assert since(history, app="web", env="dev", tag=tag, commit_time=TIMES.get) == expected


@pytest.mark.parametrize(("soak", "started", "now", "reason", "left"), [
    pytest.param(0.0, T0, T0, None, None, id="no-soak"),
    pytest.param(HOUR, T0, T0 + HOUR, None, None, id="exactly-soaked"),
    pytest.param(HOUR, T0, T0 + 2 * HOUR, None, None, id="long-soaked"),
    pytest.param(HOUR, T0, T0 + 18 * 60, "v2 soaks in dev: 42m left of 1h (running, canary completed, since "
                 "2027-01-15T08:00:00Z)", 42 * 60.0, id="42m-left"),
    pytest.param(90.0, T0, T0 + 89.5, "v2 soaks in dev: 1s left of 1m30s (running, canary completed, since "
                 "2027-01-15T08:00:00Z)", 0.5, id="never-0s-left"),
    pytest.param(2 * 86400.0, T0, T0 - 5, "v2 soaks in dev: 2d5s left of 2d (running, canary completed, since "
                 "2027-01-15T08:00:00Z)", 2 * 86400.0 + 5, id="a-clock-behind-the-commit"),
])
def test_soak_wait(soak, started, now, reason, left):
    wait = soak_wait(tag="v2", source_env="dev", soak=soak, since=started, now=now)
    assert (wait.reason, wait.left) == (reason, left) if reason else wait is None


@pytest.mark.parametrize("started", [None, float("nan"), float("inf")])
def test_without_a_start_time_the_tag_waits(started):
    wait = soak_wait(tag="v2", source_env="dev", soak=HOUR, since=started, now=T0)
    assert wait.left is None
    assert wait.reason.startswith("v2 must soak 1h in dev, and no promoter commit there records since when dev "
                                  "runs it")


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "1s"), (0.2, "1s"), (59.01, "1m"), (60, "1m"), (3599, "59m59s"), (3600, "1h"), (5400, "1h30m"),
    (86400 + 61, "1d1m1s"),
])
def test_duration(seconds, text):
    assert duration(seconds) == text
