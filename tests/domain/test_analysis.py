"""Analysis semantics against Argo Rollouts' documented behaviour, case by case.

Sources: Argo Rollouts docs "Analysis & Progressive Delivery" (failureLimit, inconclusiveLimit,
consecutiveErrorLimit, count/interval defaults) and the controller's EvaluateResult and
assessMetricStatus (analysis/analysis.go, utils/evaluate/evaluate.go)."""

import math

import pytest

from gitops_promoter.domain.analysis import (
    Measurement,
    Metric,
    assess_measurement,
    assess_metric,
    gate_phase,
    metric_from,
    parse_value,
)

OK, LOW = Measurement([0.97]), Measurement([0.80])
ERR = Measurement(error="prometheus: connection refused")


def phases(metric, ms):
    v = assess_metric(metric, ms)
    return v.phase, [a.phase for a in v.measurements]


@pytest.mark.parametrize(("metric", "value", "phase"), [
    pytest.param(Metric(success_condition="result[0] >= 0.95"), [0.97], "Successful", id="success-only-holds"),
    pytest.param(Metric(success_condition="result[0] >= 0.95"), [0.9], "Failed", id="success-only-fails"),
    pytest.param(Metric(failure_condition="result[0] < 0.9"), [0.85], "Failed", id="failure-only-holds"),
    pytest.param(Metric(failure_condition="result[0] < 0.9"), [0.95], "Successful", id="failure-only-not"),
    pytest.param(Metric(success_condition="result[0] >= 0.95", failure_condition="result[0] < 0.9"), [0.92],
                 "Inconclusive", id="neither-holds-inconclusive"),
    pytest.param(Metric(success_condition="result[0] > 0", failure_condition="result[0] > 0"), [1.0],
                 "Failed", id="failure-wins-when-both-hold"),
    pytest.param(Metric(), [1.0], "Successful", id="no-conditions-successful-as-argo"),
    pytest.param(Metric(success_condition="result[0] >= 0.95", empty_result="evaluate"), [], "Error",
                 id="argo-index-on-empty-is-error"),
    pytest.param(Metric(success_condition="all(result, {# >= 0.95})", empty_result="evaluate"), [], "Successful",
                 id="argo-all-over-nothing-passes"),
    pytest.param(Metric(success_condition="all(result, {# >= 0.95})"), [], "Error",
                 id="emptyResult-error-stops-that"),
    pytest.param(Metric(failure_condition="result[0] < 0.05"), [math.nan], "Error", id="nan-is-error-by-default"),
    pytest.param(Metric(failure_condition="result[0] < 0.05", empty_result="evaluate"), [math.nan], "Successful",
                 id="argo-nan-slips-through-with-evaluate"),
    pytest.param(Metric(success_condition="result >= 0.95"), None, "Error", id="no-result-is-error"),
    pytest.param(Metric(success_condition="isNil(result)", empty_result="evaluate"), None, "Successful",
                 id="isNil-with-evaluate"),
    pytest.param(Metric(success_condition="result > 1"), 2.0, "Successful", id="scalar"),
    pytest.param(Metric(success_condition="result[0] > 1 && true"), [math.inf], "Successful", id="inf-is-a-number"),
])
def test_one_measurement(metric, value, phase):
    assert assess_measurement(metric, Measurement(value)).phase == phase


def test_error_measurement_is_error():
    assert assess_measurement(Metric(success_condition="result > 1"), ERR).phase == "Error"


S = "result[0] >= 0.95"


@pytest.mark.parametrize(("metric", "ms", "expected"), [
    pytest.param(Metric(success_condition=S), [OK], ("Successful", ["Successful"]), id="no-interval-count-1"),
    pytest.param(Metric(success_condition=S), [LOW], ("Failed", ["Failed"]), id="failureLimit-0-one-failure-fails"),
    pytest.param(Metric(success_condition=S, interval=30, count=4), [OK, OK, OK], ("Running", [
        "Successful"] * 3), id="running-until-count"),
    pytest.param(Metric(success_condition=S, interval=30, count=4, failure_limit=1), [OK, LOW, OK, OK],
                 ("Successful", ["Successful", "Failed", "Successful", "Successful"]),
                 id="failures-within-limit-pass"),
    pytest.param(Metric(success_condition=S, interval=30, count=4, failure_limit=1), [LOW, OK, LOW, OK],
                 ("Failed", ["Failed", "Successful", "Failed"]), id="over-limit-stops-at-first-final"),
    pytest.param(Metric(success_condition=S, interval=30, count=2), [ERR, OK, ERR, OK],
                 ("Successful", ["Error", "Successful", "Error", "Successful"]), id="errors-do-not-count"),
    pytest.param(Metric(success_condition=S, interval=30, count=10), [ERR] * 5,
                 ("Error", ["Error"] * 5), id="consecutiveErrorLimit-default-4"),
    pytest.param(Metric(success_condition=S, interval=30, count=10), [ERR] * 4 + [OK] + [ERR] * 4,
                 ("Running", ["Error"] * 4 + ["Successful"] + ["Error"] * 4), id="non-error-resets-the-streak"),
    pytest.param(Metric(success_condition=S, interval=30, count=10, consecutive_error_limit=0), [ERR],
                 ("Error", ["Error"]), id="consecutiveErrorLimit-0"),
    pytest.param(Metric(success_condition=S, failure_condition="result[0] < 0.5", interval=30, count=3),
                 [Measurement([0.7])], ("Inconclusive", ["Inconclusive"]), id="inconclusiveLimit-default-0"),
    pytest.param(Metric(success_condition=S, failure_condition="result[0] < 0.5", interval=30, count=3,
                        inconclusive_limit=1), [Measurement([0.7]), OK, OK],
                 ("Successful", ["Inconclusive", "Successful", "Successful"]), id="inconclusive-within-limit"),
    pytest.param(Metric(success_condition=S, interval=30), [OK] * 20, ("Running", ["Successful"] * 20),
                 id="interval-without-count-runs-on"),
    pytest.param(Metric(success_condition=S), [], ("Running", []), id="nothing-measured-yet"),
])
def test_metric(metric, ms, expected):
    assert phases(metric, ms) == expected


def test_gate_needs_every_metric():
    ok = assess_metric(Metric("a", success_condition=S), [OK])
    bad = assess_metric(Metric("b", success_condition=S), [LOW])
    err = assess_metric(Metric("c", success_condition=S), [ERR] * 5)
    running = assess_metric(Metric("d", success_condition=S, interval=1, count=2), [OK])
    assert gate_phase([ok, ok]) == "Successful"
    assert gate_phase([ok, bad]) == "Failed"
    assert gate_phase([ok, err]) == "Error"
    assert gate_phase([ok, running, bad]) == "Running"
    assert gate_phase([]) == "Running"


def test_verdict_carries_reasons():
    v = assess_metric(Metric("success-rate", success_condition=S, interval=30, count=4, failure_limit=1), [LOW, LOW])
    assert v.describe() == ("success-rate: Failed (failed (2) > failureLimit (1); measurements: Failed, Failed)")
    assert v.measurements[0].reason == "[0.8]: not (result[0] >= 0.95)"


@pytest.mark.parametrize(("raw", "expected"), [
    ("NaN", "nan"), ("+Inf", "inf"), ("-Inf", "-inf"), ("0.97", "0.97"), (1, "1.0"),
])
def test_parse_value_as_prometheus_writes_it(raw, expected):
    assert str(parse_value(raw)) == expected


def test_metric_from_argo_keys():
    m = metric_from({"successCondition": S, "interval": "30s", "count": 4, "failureLimit": 1})
    assert (m.interval, m.count, m.failure_limit, m.effective_count) == (30.0, 4, 1, 4)
    with pytest.raises(ValueError, match="unknown metric keys: successcondition"):
        metric_from({"successcondition": S})
    with pytest.raises(ValueError, match="interval must be a duration"):
        metric_from({"interval": "soon"})
