"""The resumable analysis run: measurements on their own intervals, the gate stopping at the
first failed metric, and a run that survives a round trip through the journal's text."""

import math

import pytest

from gitops_promoter.domain import analysis_run as ar
from gitops_promoter.domain.analysis import Measurement, Metric

RATE = Metric(name="rate", success_condition="result[0] >= 0.95", interval=30.0, count=3, query="q1")
LATENCY = Metric(name="latency", success_condition="result[0] < 0.5", interval=60.0, count=2, initial_delay=10.0,
                 query="q2")
ONCE = Metric(name="once", success_condition="result[0] >= 1", query="q3")


def ok(v=1.0):
    return Measurement(value=[v])


def drive(metrics, values, *, until=1000.0, start=0.0):
    """Measure whatever is due, at each due time, with values[name] in turn; return the run."""
    run = ar.start(metrics, key="k", fingerprint="f", now=start)
    feeds = {name: iter(v) for name, v in values.items()}
    now = start
    while now <= until:
        for name in ar.due_now(run, now):
            run = ar.record(run, metrics, name, next(feeds[name]), now=now)
        due = ar.next_due(run)
        if due is None:
            break
        now = due
    return run


def test_each_metric_runs_on_its_own_interval_after_its_initial_delay():
    run = drive([RATE, LATENCY], {"rate": [ok()] * 3, "latency": [Measurement(value=[0.1])] * 2})
    assert run.times["rate"] == (0.0, 30.0, 60.0)
    assert run.times["latency"] == (10.0, 70.0)
    assert ar.phase(run, [RATE, LATENCY]) == "Successful"
    assert ar.next_due(run) is None


def test_nothing_is_due_before_its_time():
    run = ar.start([RATE, LATENCY], key="k", fingerprint="f", now=100.0)
    assert ar.due_now(run, 100.0) == ["rate"]
    run = ar.record(run, [RATE, LATENCY], "rate", ok(), now=100.0)
    assert ar.due_now(run, 105.0) == []
    assert ar.next_due(run) == 110.0  # latency's initial delay
    assert ar.phase(run, [RATE, LATENCY]) == "Running"


def test_the_gate_stops_at_the_first_failed_metric():
    run = ar.start([RATE, LATENCY], key="k", fingerprint="f", now=0.0)
    run = ar.record(run, [RATE, LATENCY], "rate", ok(0.5), now=0.0)
    assert ar.phase(run, [RATE, LATENCY]) == "Failed"
    assert ar.due_now(run, 1e9) == [] and ar.next_due(run) is None  # latency is never measured
    assert [v.phase for v in ar.verdicts(run, [RATE, LATENCY])] == ["Failed", "Running"]


def test_a_metric_without_interval_retries_an_error_after_argos_error_interval():
    run = ar.start([ONCE], key="k", fingerprint="f", now=0.0)
    run = ar.record(run, [ONCE], "once", Measurement(error="connection refused"), now=0.0)
    assert ar.next_due(run) == ar.ERROR_RETRY
    run = ar.record(run, [ONCE], "once", ok(), now=10.0)
    assert ar.phase(run, [ONCE]) == "Successful"


def test_missing_data_never_passes():
    run = drive([ONCE], {"once": [Measurement(value=[])] * 5})
    assert ar.phase(run, [ONCE]) == "Error"


@pytest.mark.parametrize("value", [[1.0], [math.nan], [math.inf, -math.inf], None, 0.5], ids=str)
def test_round_trip_keeps_every_measurement(value):
    run = ar.start([RATE], key="web/dev/abc/gate-1", fingerprint="f", now=5.0)
    run = ar.record(run, [RATE], "rate", Measurement(value=value), now=6.0)
    run = ar.record(run, [RATE], "rate", Measurement(error="boom"), now=7.0)
    back = ar.loads(ar.dumps(run))
    assert back.key == run.key and back.due == run.due and back.times == run.times
    assert repr(back.taken) == repr(run.taken)  # NaN != NaN, so compare the text


def test_resuming_from_text_continues_where_it_stopped():
    metrics = [RATE]
    run = ar.start(metrics, key="k", fingerprint="f", now=0.0)
    run = ar.record(run, metrics, "rate", ok(), now=0.0)
    resumed = ar.loads(ar.dumps(run))  # a restart
    resumed = ar.record(resumed, metrics, "rate", ok(), now=30.0)
    resumed = ar.record(resumed, metrics, "rate", ok(), now=60.0)
    assert ar.phase(resumed, metrics) == "Successful"
    assert len(resumed.taken["rate"]) == 3


@pytest.mark.parametrize("text", ["", "{}", "[]", '{"key": 1}', "not json"])
def test_unreadable_text_is_a_value_error(text):
    with pytest.raises(ValueError):
        ar.loads(text)


def test_the_fingerprint_changes_with_the_metrics_or_their_arguments():
    base = ar.fingerprint([RATE], {"service": "web"})
    assert base == ar.fingerprint([RATE], {"service": "web"})
    assert base != ar.fingerprint([RATE], {"service": "api"})
    assert base != ar.fingerprint([RATE, LATENCY], {"service": "web"})


def test_a_clock_stepped_back_does_not_stall_the_gate():
    run = ar.start([RATE], key="k", fingerprint="f", now=10_000.0)
    run = ar.record(run, [RATE], "rate", ok(), now=10_000.0)  # next due at 10,030
    stepped = ar.rebase(run, [RATE], now=6_400.0)  # the clock went back an hour
    assert ar.due_now(stepped, 6_400.0) == ["rate"]
    assert ar.rebase(run, [RATE], now=10_010.0) is run  # a normal wait is left alone


def test_a_dry_run_metric_is_measured_but_never_stops_or_decides_the_gate():
    shadow = Metric(name="shadow", success_condition="result[0] >= 0.99", interval=30.0, count=2, dry_run=True,
                    query="q4")
    run = ar.start([RATE, shadow], key="k", fingerprint="f", now=0.0)
    run = ar.record(run, [RATE, shadow], "shadow", ok(0.5), now=0.0)  # the dryRun metric fails
    assert ar.phase(run, [RATE, shadow]) == "Running" and ar.due_now(run, 0.0) == ["rate"]
    run = drive([RATE, shadow], {"rate": [ok()] * 3, "shadow": [ok(0.5)] * 2})
    assert ar.phase(run, [RATE, shadow]) == "Successful"
