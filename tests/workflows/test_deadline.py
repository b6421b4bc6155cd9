"""The app's pass deadline (`state.app_deadline`): retry waits that would pass it are not
started, git's network commands are cut at it, and no new stage starts after it — a transient
error each time, so the next pass tries again."""

from __future__ import annotations

import time

import pytest

from gitops_promoter.adapters.retry import Backoff, Retry, retrying
from gitops_promoter.config import parse_config
from gitops_promoter.deadline import deadline, left, passed
from gitops_promoter.errors import RegistryUnavailable, TransientError
from tests.fakes import MemoryRegistry, MemoryRepo, run_all

from .test_discover import CONFIG, setup


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _give_up(failure: Retry, tries: int) -> TransientError:
    return TransientError(f"{failure.detail} ({tries} tries)")


def test_retrying_does_not_start_a_wait_past_the_deadline():
    clock, tries = Clock(), []

    def attempt():
        tries.append(clock.now)
        raise Retry("503")

    with deadline(10.0, clock=clock), pytest.raises(TransientError, match="no time for another try before the "
                                                                          "app's pass deadline"):
        retrying(attempt, attempts=50, backoff=Backoff(base=4.0, cap=4.0), what="x", give_up=_give_up,
                 sleep=clock.sleep)
    assert clock.now <= 10.0 and 2 <= len(tries) <= 5  # 2 s … 4 s waits fit in 10 s a few times, not 50


def test_a_retry_after_past_the_deadline_is_not_slept_on():
    clock = Clock()
    with deadline(5.0, clock=clock), pytest.raises(TransientError) as info:
        retrying(lambda: (_ for _ in ()).throw(Retry("429", wait=30.0)), attempts=5, backoff=Backoff(),
                 what="x", give_up=_give_up, sleep=clock.sleep)
    assert clock.now == 0.0 and info.value.retry_after == 30.0


def test_without_a_deadline_nothing_changes_and_nesting_keeps_the_sooner():
    assert left() is None and not passed()
    clock = Clock()
    with deadline(10.0, clock=clock):
        with deadline(100.0, clock=clock):
            assert left() == 10.0
        clock.now = 11.0
        assert passed()
    assert left() is None


def test_no_stage_starts_after_the_deadline_and_the_outcome_says_why():
    config = parse_config(CONFIG.replace("repositories:", "state: {app_deadline: 1s}\nrepositories:"),
                          source="c.yaml")
    assert config.state.app_deadline == 1.0
    _, registry, repo = setup()

    class Slow(MemoryRegistry):
        def list_tags(self, image):
            time.sleep(1.2)  # dev's write-back outlives the app's whole deadline
            return super().list_tags(image)

    slow = Slow(images=registry.images)
    outcomes = {(o.app, o.env): o for o in run_all(config, registry=slow, repos={"deploy": repo}, apps={"web"})}
    assert outcomes[("web", "dev")].status == "bumped"
    staging = outcomes[("web", "staging")]
    assert staging.status == "error" and staging.error_kind == "transient"
    assert "pass deadline (state.app_deadline, 1s) passed before staging" in staging.detail


def test_a_registry_that_keeps_failing_ends_at_the_deadline_not_after_every_retry():
    config = parse_config(CONFIG.replace("repositories:", "state: {app_deadline: 2s}\nrepositories:"),
                          source="c.yaml")
    _, registry, repo = setup()
    calls = []

    class Failing(MemoryRegistry):
        def list_tags(self, image):
            def attempt():
                calls.append(time.monotonic())
                raise Retry("503 Service Unavailable")

            def give_up(failure, tries):
                return RegistryUnavailable(registry="reg.local", repository="acme/web",
                                           detail=f"{failure.detail}; gave up after {tries} attempts")

            return retrying(attempt, attempts=1000, backoff=Backoff(base=0.2, cap=0.5), what=image,
                            give_up=give_up)

    started = time.monotonic()
    outcomes = run_all(config, registry=Failing(images=registry.images), repos={"deploy": MemoryRepo(
        "deploy", dict(repo.files))}, apps={"web"})
    assert time.monotonic() - started < 4.0
    dev = next(o for o in outcomes if o.env == "dev")
    assert dev.status == "error" and "pass deadline" in dev.detail and len(calls) < 1000
