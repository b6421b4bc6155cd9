"""A gate's analysis spans reconciles: each takes the measurements that are due and says when to
come back; a restart (new adapters, the same journal) resumes it; a lost journal starts it over,
and the log says so. Real Prometheus, real git, the Argo simulators."""

import logging
import time

from gitops_promoter.workflows.reconcile import reconcile
from tests.canary.test_canary import release
from tests.fakes import MemoryJournal
from tests.support.gitremote import git


def gate(world, journal=None):
    """One reconcile of the app, as the service runs it (fresh adapters: as after a restart)."""
    if journal is not None:
        world.journal = journal
    result = reconcile(world.config, world.config.apps[0], world.ports())
    return result, {o.status: o for o in result.outcomes}


def measured(journal):
    (run,) = journal.runs.values()
    return len(run.taken["success-rate"])


def test_a_gate_is_measured_across_reconciles_and_resumed_after_a_restart(world):
    release(world)
    result, out = gate(world)
    assert "analysing" in out, out
    assert 0 < result.requeue_after <= 1.0  # interval 1s: the next measurement is due within a second
    assert measured(world.journal) == 1
    head = git("rev-parse", "main", cwd=world.remote)

    _, out = gate(world)  # too early: nothing is due, nothing is measured
    assert measured(world.journal) == 1 and "analysing" in out
    observed = reconcile(world.config, world.config.apps[0], world.ports(), mode="observe")  # as `status` does
    assert observed.outcomes[-1].detail == "canary: analyse: the canary waits at gate 1 (1 measurement(s) taken so far)"

    taken = 1
    for _ in range(10):  # each reconcile is a restart: new repo, cluster and Prometheus clients; same journal
        time.sleep(result.requeue_after + 0.05)
        result, out = gate(world)
        taken += 1
        if "advanced" in out:
            break
        assert measured(world.journal) == taken  # resumed: one more, never starting over
        assert git("rev-parse", "main", cwd=world.remote) == head  # nothing decided yet
    assert "advanced" in out, [(o.status, o.detail) for o in out.values()]
    assert world.journal.runs == {}  # acted on: the commit is the record now
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert message.count("  - Successful:") == 3 and message.count("  - ") == taken


def test_a_lost_journal_starts_the_analysis_over_and_says_so(world, caplog):
    release(world)
    gate(world)
    assert measured(world.journal) == 1
    caplog.set_level(logging.INFO, logger="gitops_promoter.workflows.canary")
    _, out = gate(world, journal=MemoryJournal())
    assert measured(world.journal) == 1 and "analysing" in out
    assert any("starting the analysis of gate 1" in r.getMessage() and "no run of it is in the journal"
               in r.getMessage() for r in caplog.records)


def test_changed_metrics_start_a_new_run(world):
    release(world)
    gate(world)
    world.config_text = world.config_text.replace("count: 3", "count: 2")
    _, out = gate(world)
    assert measured(world.journal) == 1  # a new run, not the old one's two measurements
    for _ in range(8):
        time.sleep(1.05)
        _, out = gate(world)
        if "advanced" in out:
            break
    assert "advanced" in out, [(o.status, o.detail) for o in out.values()]
    message = git("log", "-1", "--format=%B", "main", cwd=world.remote)
    assert "count (2) reached" in message
