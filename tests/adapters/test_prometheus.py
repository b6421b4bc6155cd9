"""The Prometheus adapter against Debian's real Prometheus scraping the test exporter."""

import math

from gitops_promoter.adapters.prometheus import PrometheusMetrics
from gitops_promoter.adapters.retry import Backoff
from gitops_promoter.config.schema import PrometheusConfig
from gitops_promoter.domain.analysis import Metric, assess_measurement
from tests.support.net import free_port

SUCCESS_RATE = ('sum(rate(http_requests_total{{service="{s}",code!~"5.."}}[1m])) / '
                'sum(rate(http_requests_total{{service="{s}"}}[1m]))')


def metrics(url):
    return PrometheusMetrics(PrometheusConfig(name="main", url=url), sleep=lambda s: None,
                             backoff=Backoff(base=0.001))


def test_success_rate_of_a_healthy_and_a_failing_service(prometheus, exporter, unique):
    good, bad = f"{unique}-good", f"{unique}-bad"
    exporter.set(good, 0.0)
    exporter.set(bad, 0.5)
    prometheus.wait_for(SUCCESS_RATE.format(s=good))
    prometheus.wait_for(SUCCESS_RATE.format(s=bad))
    m = metrics(prometheus.url)
    healthy = m.query(SUCCESS_RATE.format(s=good))
    failing = m.query(SUCCESS_RATE.format(s=bad))
    assert healthy.error is None and healthy.value == [1.0]
    assert failing.error is None and 0.3 < failing.value[0] < 0.7
    metric = Metric(success_condition="result[0] >= 0.95")
    assert assess_measurement(metric, healthy).phase == "Successful"
    assert assess_measurement(metric, failing).phase == "Failed"


def test_no_traffic_is_an_empty_vector_and_an_error_measurement(prometheus):
    m = metrics(prometheus.url).query(SUCCESS_RATE.format(s="nobody-home"))
    assert m.value == [] and m.error is None
    assert assess_measurement(Metric(success_condition="all(result, {# >= 0.95})"), m).phase == "Error"


def test_scalar_and_nan(prometheus):
    m = metrics(prometheus.url)
    assert m.query("scalar(vector(0.5))").value == 0.5
    nan = m.query("0/0")
    assert isinstance(nan.value, float) and math.isnan(nan.value)


def test_bad_query_is_an_error_measurement(prometheus):
    m = metrics(prometheus.url).query("sum(rate(")
    assert m.value is None and "prometheus main" in m.error and "400" in m.error


def test_prometheus_down_is_an_error_measurement_after_retries():
    calls = []
    m = PrometheusMetrics(PrometheusConfig(name="main", url=f"http://127.0.0.1:{free_port()}"),
                          sleep=calls.append, backoff=Backoff(base=0.001), retries=2).query("up")
    assert m.error.startswith("prometheus main (http://127.0.0.1:") and "ConnectionError" in m.error
    assert len(calls) == 2
