"""Analysis semantics against Argo Rollouts' documented behaviour, case by case.

Sources: Argo Rollouts docs "Analysis & Progressive Delivery" (failureLimit, inconclusiveLimit,
consecutiveErrorLimit, count/interval defaults) and the controller's EvaluateResult and
assessMetricStatus (analysis/analysis.go, utils/evaluate/evaluate.go)."""

import math

import pytest

from gitops_promoter.domain.analysis import (
    Measurement,
    Metric,
    MetricError,
    TemplateError,
    assess_measurement,
    assess_metric,
    gate_phase,
    metric_from,
    metrics_from_template,
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
    pytest.param(Metric(success_condition="isNil(result)", empty_result="evaluate"), None, "Error",
                 id="null-is-error-even-with-evaluate"),
    pytest.param(Metric(failure_condition="result[0] > 0.05", empty_result="evaluate"), [None], "Error",
                 id="null-in-vector-is-error-even-with-evaluate"),
    pytest.param(Metric(success_condition="result > 1"), 2.0, "Successful", id="scalar"),
    pytest.param(Metric(success_condition="result[0] > 1 && true", empty_result="evaluate"), [math.inf], "Successful",
                 id="inf-is-a-number-with-evaluate"),
    pytest.param(Metric(failure_condition="result[0] > 0.05"), [-math.inf], "Error",
                 id="minus-inf-is-no-data-with-emptyResult-error"),
    pytest.param(Metric(success_condition="result >= 0.95"), math.inf, "Error",
                 id="scalar-inf-is-no-data-with-emptyResult-error"),
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


# --- Argo >= 1.8 consecutiveSuccessLimit, failureLimit -1 (docs "ConsecutiveSuccessLimit and FailureLimit",
# argoproj/argo-rollouts#3996; assessMetricStatus in analysis/analysis.go) --------------------------------
INC = Measurement([0.7])  # neither condition holds with S and failure "< 0.5"


@pytest.mark.parametrize(("metric", "ms", "expected"), [
    pytest.param(Metric(success_condition=S, interval=30, count=6, failure_limit=-1, consecutive_success_limit=3),
                 [LOW, OK, LOW, OK, OK, OK], ("Successful", ["Failed", "Successful", "Failed"] + ["Successful"] * 3),
                 id="consecutiveSuccessLimit-only-waits-for-a-streak"),
    pytest.param(Metric(success_condition=S, interval=30, count=4, failure_limit=-1, consecutive_success_limit=3),
                 [OK, OK, LOW, OK], ("Failed", ["Successful", "Successful", "Failed", "Successful"]),
                 id="consecutiveSuccessLimit-only-count-reached-is-failed"),
    pytest.param(Metric(success_condition=S, interval=30, count=5, failure_limit=2, consecutive_success_limit=2),
                 [LOW, OK, OK], ("Successful", ["Failed", "Successful", "Successful"]),
                 id="both-streak-first-is-successful"),
    pytest.param(Metric(success_condition=S, interval=30, count=5, failure_limit=2, consecutive_success_limit=2),
                 [LOW, OK, LOW, OK, LOW], ("Failed", ["Failed", "Successful", "Failed", "Successful", "Failed"]),
                 id="both-failureLimit-first-is-failed"),
    pytest.param(Metric(success_condition=S, interval=30, count=4, failure_limit=3, consecutive_success_limit=3),
                 [OK, LOW, OK, OK], ("Inconclusive", ["Successful", "Failed", "Successful", "Successful"]),
                 id="both-count-reached-is-inconclusive"),
    pytest.param(Metric(success_condition=S, interval=30, count=5, failure_limit=-1, consecutive_success_limit=2),
                 [OK, ERR, OK, OK], ("Successful", ["Successful", "Error", "Successful", "Successful"]),
                 id="an-error-breaks-the-streak"),
    pytest.param(Metric(success_condition=S, failure_condition="result[0] < 0.5", interval=30, count=5,
                        inconclusive_limit=3, consecutive_success_limit=2), [OK, INC, OK, OK],
                 ("Successful", ["Successful", "Inconclusive", "Successful", "Successful"]),
                 id="an-inconclusive-breaks-the-streak"),
    pytest.param(Metric(success_condition=S, interval=30, count=10, failure_limit=-1, consecutive_success_limit=1),
                 [LOW] * 9, ("Running", ["Failed"] * 9), id="failureLimit-minus-one-never-fails"),
])
def test_consecutive_success_limit(metric, ms, expected):
    assert phases(metric, ms) == expected


# --- Argo's background shape (interval, no count) at a gate: bounded by canary.gate_window ----------------
# The published Argo example (docs/features/analysis.md "Background Analysis"): success-rate every 5m,
# failureLimit 3, no count — it never ends on its own.
ARGO_SUCCESS_RATE = Metric("success-rate", success_condition="result[0] >= 0.95", interval=300.0, failure_limit=3)


@pytest.mark.parametrize(("metric", "window", "count"), [
    pytest.param(ARGO_SUCCESS_RATE, None, None, id="no-window-runs-on-as-in-argo"),
    pytest.param(ARGO_SUCCESS_RATE, 300.0, 2, id="window-5m-interval-5m-at-start-and-when-it-passed"),
    pytest.param(ARGO_SUCCESS_RATE, 1800.0, 7, id="window-30m-interval-5m"),
    pytest.param(ARGO_SUCCESS_RATE, 60.0, 1, id="window-shorter-than-interval-one-measurement"),
    pytest.param(Metric(success_condition=S, interval=60.0, initial_delay=120.0), 300.0, 4,
                 id="initialDelay-uses-part-of-the-window"),
    pytest.param(Metric(success_condition=S, interval=60.0, initial_delay=600.0), 300.0, 1,
                 id="initialDelay-past-the-window-still-one-measurement"),
    pytest.param(Metric(success_condition=S, interval=60.0, count=3), 300.0, 3, id="count-wins-over-the-window"),
    pytest.param(Metric(success_condition=S), 300.0, 1, id="no-interval-is-one-measurement"),
])
def test_gate_window_bounds_background_metrics(metric, window, count):
    from dataclasses import replace
    assert replace(metric, gate_window=window).effective_count == count


@pytest.mark.parametrize(("ms", "expected", "reason"), [
    pytest.param([OK, LOW, OK, LOW, OK, LOW, OK], "Successful",
                 "gate_window (30m) passed: 7 measurements every 5m, failureLimit not exceeded",
                 id="argo-example-three-failures-within-limit-passes-when-the-window-passed"),
    pytest.param([LOW, LOW, OK, LOW, LOW], "Failed", "failed (4) > failureLimit (3)",
                 id="argo-example-fourth-failure-fails-before-the-window"),
    pytest.param([OK] * 6, "Running", "more measurements needed", id="argo-example-running-inside-the-window"),
    pytest.param([ERR] * 5, "Error", "consecutiveErrors (5) > consecutiveErrorLimit (4)",
                 id="argo-example-errors-do-not-count-toward-the-window"),
])
def test_argo_background_example_at_a_gate(ms, expected, reason):
    from dataclasses import replace
    v = assess_metric(replace(ARGO_SUCCESS_RATE, gate_window=1800.0), ms)
    assert (v.phase, v.reason) == (expected, reason)


# --- dryRun: measured and reported, never deciding (analysis/analysis.go assessRunStatus) ------------------
def test_dry_run_metrics_do_not_decide_the_gate():
    ok = assess_metric(Metric("rate", success_condition=S), [OK])
    dry_bad = assess_metric(Metric("latency", success_condition=S, dry_run=True), [LOW])
    dry_running = assess_metric(Metric("p99", success_condition=S, interval=1, count=2, dry_run=True), [OK])
    assert dry_bad.phase == "Failed" and dry_bad.dry_run
    assert dry_bad.describe().startswith("latency (dryRun, not deciding): Failed")
    assert gate_phase([ok, dry_bad]) == "Successful"
    assert gate_phase([ok, dry_running]) == "Running"  # Argo waits for dry-run metrics too
    assert gate_phase([assess_metric(Metric("x", success_condition=S), [LOW]), dry_bad]) == "Failed"


# --- the same rules for every metric (metric_from / metric_problems) ---------------------------------------
@pytest.mark.parametrize(("raw", "key", "message"), [
    pytest.param({"name": "m", "query": "q"}, None, "needs successCondition or failureCondition",
                 id="no-condition-refused"),
    pytest.param({"successCondition": S, "count": 0}, "count", "count must be at least 1",
                 id="count-zero-refused"),
    pytest.param({"successCondition": S, "interval": "0s", "count": 2}, "interval", "interval must be greater than 0",
                 id="zero-interval-refused"),
    pytest.param({"successCondition": S, "count": 3}, "count", "count (3) > 1 needs an interval",
                 id="count-without-interval-refused-as-argo"),
    pytest.param({"successCondition": S, "interval": "1m", "count": 2, "failureLimit": 3}, "failureLimit",
                 "count (2) must be >= failureLimit (3)", id="failureLimit-over-count-refused-as-argo"),
    pytest.param({"successCondition": S, "interval": "1m", "count": 2, "consecutiveSuccessLimit": 3},
                 "consecutiveSuccessLimit", "count (2) must be >= consecutiveSuccessLimit (3)",
                 id="consecutiveSuccessLimit-over-count-refused"),
    pytest.param({"successCondition": S, "failureLimit": -1}, "failureLimit", "give consecutiveSuccessLimit > 0",
                 id="failureLimit-off-needs-consecutiveSuccessLimit-as-argo"),
    pytest.param({"successCondition": S, "failureLimit": -2}, "failureLimit", "whole number >= -1",
                 id="failureLimit-below-minus-one-refused"),
    pytest.param({"successCondition": "result[0] >="}, "successCondition", "unexpected 'the end'",
                 id="bad-condition-names-its-key"),
])
def test_metric_rules(raw, key, message):
    with pytest.raises(MetricError) as info:
        metric_from(raw)
    assert (info.value.key, message in str(info.value)) == (key, True), str(info.value)


def test_interval_without_count_is_accepted_and_bounded():
    m = metric_from({"successCondition": S, "interval": "5m", "failureLimit": 3}, gate_window=300.0)
    assert (m.count, m.effective_count) == (None, 2)
    assert metric_from({"successCondition": S, "consecutiveSuccessLimit": 1}).consecutive_success_limit == 1


# --- AnalysisTemplates from the deployment repo: the same rules, positions inside the template ------------
# The published Argo Rollouts example (docs/features/analysis.md, "Background Analysis"), verbatim in shape.
ARGO_BACKGROUND = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service-name
  metrics:
  - name: success-rate
    interval: 5m
    successCondition: result[0] >= 0.95
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: |
          sum(irate(istio_requests_total{destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m]))
          / sum(irate(istio_requests_total{destination_service=~"{{args.service-name}}"}[5m]))
"""


def template(metrics: str, *, extra: str = "") -> str:
    return ("apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: t\nspec:\n"
            + extra + "  metrics:\n" + metrics)


def template_problems(text: str, **kw) -> list[str]:
    with pytest.raises(TemplateError) as info:
        metrics_from_template(text, source="deploy:envs/prod/at.yaml", **kw)
    return info.value.problems


def test_argo_background_example_is_bounded_by_the_gate_window():
    metrics, defaults = metrics_from_template(ARGO_BACKGROUND, source="t.yaml", gate_window=300.0)
    (m,) = metrics
    assert (m.name, m.interval, m.count, m.failure_limit, m.effective_count) == ("success-rate", 300.0, None, 3, 2)
    assert m.address == "http://prometheus.example.com:9090"
    assert "{{args.service-name}}" in m.query and defaults == {}


PROM = "    provider: {prometheus: {query: up}}\n"


@pytest.mark.parametrize(("metrics", "expected"), [
    pytest.param("  - name: rate\n" + PROM,
                 ["deploy:envs/prod/at.yaml:7:5: spec.metrics[0]: metric 'rate': needs successCondition or "
                  "failureCondition (a metric with neither always passes)"], id="template-no-condition"),
    pytest.param("  - name: rate\n    successCondition: result[0] > 0.9\n    count: 0\n" + PROM,
                 ["deploy:envs/prod/at.yaml:9:5: spec.metrics[0].count: metric 'rate': count must be at least 1, "
                  "not 0 (count: 0 would pass on no data)"], id="template-count-zero"),
    pytest.param("  - name: rate\n    successCondition: result[0] > 0.9\n    interval: 0s\n" + PROM,
                 ["deploy:envs/prod/at.yaml:9:5: spec.metrics[0].interval: metric 'rate': interval must be "
                  "greater than 0"], id="template-zero-interval"),
    pytest.param("  - name: rate\n    successCondition: result[0] >=\n" + PROM,
                 ["deploy:envs/prod/at.yaml:8:5: spec.metrics[0].successCondition: metric 'rate': unexpected "
                  "'the end' at 13 in 'result[0] >='"], id="template-bad-condition"),
    pytest.param("  - name: rate\n    successCondition: result[0] > 0.9\n    provider: {web: {url: x}}\n",
                 ["deploy:envs/prod/at.yaml:9:5: spec.metrics[0].provider: metric 'rate' uses provider web; the "
                  "promoter runs prometheus metrics only"], id="template-other-provider"),
    pytest.param("  - name: rate\n    successCondition: result[0] > 0.9\n    provider:\n      prometheus:\n"
                 "        query: up\n        address: prometheus:9090\n",
                 ["deploy:envs/prod/at.yaml:12:9: spec.metrics[0].provider.prometheus.address: metric 'rate': "
                  "address must be a URL such as http://prometheus:9090, not 'prometheus:9090'"],
                 id="template-address-not-a-url"),
    pytest.param("  - name: rate\n    successCondition: result[0] > 0.9\n    provider:\n      prometheus:\n"
                 "        query: up\n        timeout: 10\n",
                 ["deploy:envs/prod/at.yaml:12:9: spec.metrics[0].provider.prometheus.timeout: metric 'rate': not "
                  "supported (the promoter reads query and address; authentication, headers and timeouts come "
                  "from the promoter's prometheus config)"], id="template-unsupported-prometheus-key"),
    pytest.param("  - name: rate\n    successCondition: result[0] > 0.9\n    measureEvery: 1m\n" + PROM,
                 ["deploy:envs/prod/at.yaml:9:5: spec.metrics[0].measureEvery: metric 'rate': unknown metric keys: "
                  "measureEvery"], id="template-unknown-key"),
    pytest.param("  - name: a\n    successCondition: result[0] > 0.9\n" + PROM
                 + "  - name: b\n    count: 0\n" + PROM,
                 ["deploy:envs/prod/at.yaml:10:5: spec.metrics[1]: metric 'b': needs successCondition or "
                  "failureCondition (a metric with neither always passes)",
                  "deploy:envs/prod/at.yaml:11:5: spec.metrics[1].count: metric 'b': count must be at least 1, not 0 "
                  "(count: 0 would pass on no data)"], id="template-every-problem-at-once"),
])
def test_template_rules_with_positions(metrics, expected):
    assert template_problems(template(metrics)) == expected


def test_template_arg_value_from_is_refused_clearly():
    args = ("  args:\n  - name: service-name\n  - name: token\n    valueFrom:\n      secretKeyRef: {name: s, key: k}\n")
    assert template_problems(template("  - name: rate\n    successCondition: result[0] > 0.9\n" + PROM,
                                      extra=args)) == [
        "deploy:envs/prod/at.yaml:9:5: spec.args[1].valueFrom: argument 'token': valueFrom (secretKeyRef/fieldRef) "
        "is not supported; give a value (in the template or in the config's analysis.args)"]


def test_template_dry_run_metrics_are_marked():
    metrics = ("  - name: success-rate\n    successCondition: result[0] > 0.9\n" + PROM
               + "  - name: latency-p99\n    successCondition: result[0] < 0.5\n" + PROM)
    found, _ = metrics_from_template(template(metrics, extra="  dryRun:\n  - metricName: latency.*\n"),
                                     source="t.yaml")
    assert [(m.name, m.dry_run) for m in found] == [("success-rate", False), ("latency-p99", True)]
    assert template_problems(template(metrics, extra="  dryRun:\n  - metricName: restarts\n")) == [
        "deploy:envs/prod/at.yaml:7:5: spec.dryRun[0].metricName: 'restarts' matches no metric name"]
    assert template_problems(template(metrics, extra="  dryRun:\n  - metricName: '*'\n")) == [
        "deploy:envs/prod/at.yaml:6:3: spec.dryRun: every metric is dryRun: nothing would decide the gate"]


def test_template_yaml_error_has_a_position():
    (problem,) = template_problems("kind: AnalysisTemplate\nspec: {metrics: [\n")
    assert problem.startswith("deploy:envs/prod/at.yaml:3:1: not valid YAML")


# A multi-metric gate shaped like the field's common ones: success rate, p99 latency, restarts (failureLimit 2,
# Argo's background shape for the latency), in a ClusterAnalysisTemplate after another document.
FIELD = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata: {name: web-canary}
spec:
  args:
  - name: service
    value: web
  metrics:
  - name: success-rate
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: result[0] >= 0.99
    provider: {prometheus: {query: 'sum(rate(ok{service="{{args.service}}"}[1m])) / sum(rate(all[1m]))'}}
  - name: latency-p99
    interval: 2m
    successCondition: result[0] < 0.5
    provider: {prometheus: {query: 'histogram_quantile(0.99, rate(latency_bucket[2m]))'}}
  - name: restarts
    failureCondition: result[0] > 0
    provider: {prometheus: {query: 'sum(increase(kube_pod_container_status_restarts_total[5m]))'}}
"""


def test_field_shaped_multi_metric_gate_one_metric_fails_early():
    metrics, defaults = metrics_from_template(FIELD, source="t.yaml", gate_window=600.0)
    assert defaults == {"service": "web"}
    assert [(m.name, m.effective_count) for m in metrics] == [("success-rate", 5), ("latency-p99", 6),
                                                              ("restarts", 1)]
    rate, latency, restarts = metrics
    verdicts = [assess_metric(rate, [OK, OK]), assess_metric(latency, [Measurement([0.2])]),
                assess_metric(restarts, [Measurement([2.0])])]
    assert [v.phase for v in verdicts] == ["Running", "Running", "Failed"]
    assert verdicts[2].reason == "failed (1) > failureLimit (0)"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("kind: AnalysisTemplate\nspec:\n  metrics:\n  - name: a\n    name: b\n",
                 "t.yaml:5:5: key 'name' appears twice", id="repeated-key"),
    pytest.param("kind: AnalysisTemplate\nspec:\n  args: &a [{name: x}]\n  metrics: *a\n",
                 "t.yaml:3:9: this value is used again through a YAML alias", id="alias"),
    pytest.param("kind: AnalysisTemplate\nspec:\n  metrics: []\n  x: \x1b[31m\n", "control character U+001B",
                 id="escape-sequence"),
    pytest.param("[" * 20000 + "]" * 20000, "t.yaml:1:1001: nested too deep", id="deep"),
])
def test_a_hostile_template_is_a_template_error_naming_the_place(text, expected):
    from gitops_promoter.domain.analysis import TemplateError, metrics_from_template

    with pytest.raises(TemplateError) as info:
        metrics_from_template(text, source="t.yaml")
    assert expected in str(info.value)
