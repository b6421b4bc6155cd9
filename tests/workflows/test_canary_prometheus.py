"""A metric's `provider.prometheus.address` picks one of the configured Prometheus servers; an
address the config does not name is refused, never contacted."""

from types import SimpleNamespace

import pytest

from gitops_promoter.domain.analysis import Metric
from gitops_promoter.errors import PromoterError
from gitops_promoter.workflows.canary import Canary, _prometheus_for


def canary(**metrics):
    return Canary(SimpleNamespace(name="web"), "dev", None, None, None, None, metrics, None,
                  prometheus_urls={"main": "http://prom-main:9090", "edge": "http://prom-edge:9090/"})


def test_the_gate_prometheus_by_default_and_the_configured_one_an_address_names():
    c = canary(main="MAIN", edge="EDGE")
    assert _prometheus_for(c, Metric(name="m"), "main") == "MAIN"
    assert _prometheus_for(c, Metric(name="m", address="http://prom-edge:9090"), "main") == "EDGE"


def test_an_address_the_config_does_not_name_is_refused():
    with pytest.raises(PromoterError, match="asks for Prometheus http://evil:9090, which is not in the config"):
        _prometheus_for(canary(main="MAIN"), Metric(name="m", address="http://evil:9090"), "main")
