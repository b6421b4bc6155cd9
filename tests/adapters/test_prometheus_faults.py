"""The Prometheus adapter against a Prometheus that misbehaves: every fault is an Error
measurement or a value that fails the condition — never a pass — in bounded time.

The answers follow Prometheus' HTTP API (prometheus/web/api/v1/api.go, the `/api/v1/query`
envelope `{"status", "data": {"resultType", "result"}, "errorType", "error"}`): a bad query is
400 `bad_data`, a timeout 503 `timeout`, an execution error 422 `execution`; a string result is
`[<time>, "<string>"]`."""

import json
import math
import time
from http.server import BaseHTTPRequestHandler

import pytest

from gitops_promoter.adapters.prometheus import PrometheusMetrics
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config.schema import PrometheusConfig
from gitops_promoter.domain.analysis import SUCCESSFUL, Metric, assess_measurement, assess_metric
from tests.support.net import LocalServer


def envelope(result_type, result):
    return 200, "application/json", json.dumps({"status": "success", "data": {"resultType": result_type,
                                                                              "result": result}})


def vector(*values):
    return envelope("vector", [{"metric": {}, "value": [1.7e9, v]} for v in values])


def failure(code, error_type, error):
    return code, "application/json", json.dumps({"status": "error", "errorType": error_type, "error": error})


FAULTS = {
    "empty-vector": vector(),
    "nan": vector("NaN"),
    "plus-inf": vector("+Inf"),
    "minus-inf": vector("-Inf"),
    "html-200": (200, "text/html", "<html><body>Sign in to continue</body></html>"),
    "status-error-200": (200, "application/json", json.dumps({
        "status": "error", "errorType": "execution", "error": "query processing would load too many samples"})),
    "bad-data-400": failure(400, "bad_data", "invalid parameter \"query\": parse error"),
    "execution-422": failure(422, "execution", "many-to-many matching not allowed"),
    "timeout-503": failure(503, "timeout", "query timed out in expression evaluation"),
    "string-result": envelope("string", [1.7e9, "0.99"]),
    "matrix": envelope("matrix", [{"metric": {}, "values": [[1.7e9, "0.99"]]}]),
    "not-a-number": vector("high"),
    "truncated-json": (200, "application/json", '{"status": "success", "data": {"resultType": "vec'),
    "data-missing": (200, "application/json", json.dumps({"status": "success"})),
    "result-not-a-list": envelope("vector", {"value": "0.99"}),
    "sample-without-value": envelope("vector", [{"metric": {}}]),
    "null-value": vector(None),
}


class FaultyPrometheus(LocalServer):
    def __init__(self, answer, *, delay=0.0):
        self.answer, self.delay, self.calls = answer, delay, 0
        self._serve()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                outer.calls += 1
                if outer.delay:
                    time.sleep(outer.delay)
                code, kind, body = outer.answer
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815

        return Handler


SUCCESS = Metric(name="success-rate", success_condition="result[0] >= 0.95", count=1)


def measure(url, **kw):
    m = PrometheusMetrics(PrometheusConfig(name="main", url=url), sleep=lambda s: None,
                          backoff=Backoff(base=0.001), **kw)
    return m.query("sum(rate(http_requests_total[1m]))")


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_is_never_a_pass(fault):
    with FaultyPrometheus(FAULTS[fault]) as prom:
        started = time.monotonic()
        m = measure(prom.url)
        elapsed = time.monotonic() - started
    verdict = assess_metric(SUCCESS, [m])
    assert verdict.phase != SUCCESSFUL, (fault, m, verdict)
    assert elapsed < 5
    if m.error is not None:
        assert m.error.startswith("prometheus main"), m.error  # it names the Prometheus


def test_nan_and_inf_are_errors_not_failures_or_passes():
    for fault in ("nan", "plus-inf", "minus-inf"):
        with FaultyPrometheus(FAULTS[fault]) as prom:
            m = measure(prom.url)
        assert assess_measurement(SUCCESS, m).phase == "Error", fault  # one Error; the run goes on
        assert isinstance(m.value, list) and (math.isnan(m.value[0]) or math.isinf(m.value[0]))


def test_a_slow_prometheus_is_an_error_after_the_timeout_and_the_retries():
    with FaultyPrometheus(vector("0.99"), delay=3) as prom:
        started = time.monotonic()
        m = measure(prom.url, timeout=1, retries=1)
        elapsed = time.monotonic() - started
        assert prom.calls == 2  # the first try and one retry
    assert m.error is not None and "prometheus main" in m.error and "Timeout" in m.error
    assert elapsed < 4
    assert assess_metric(SUCCESS, [m]).phase != SUCCESSFUL


def test_5xx_is_retried_4xx_is_not():
    with FaultyPrometheus(FAULTS["timeout-503"]) as prom:
        measure(prom.url, retries=2)
        assert prom.calls == 3
    with FaultyPrometheus(FAULTS["bad-data-400"]) as prom:
        m = measure(prom.url, retries=2)
        assert prom.calls == 1
    assert "400" in m.error
