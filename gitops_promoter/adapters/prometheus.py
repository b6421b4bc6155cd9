"""Prometheus through prometheus-api-client: one PromQL query → one analysis Measurement.

Every failure — Prometheus down, a timeout, a 4xx/5xx answer, a result that is neither a
vector nor a scalar — becomes a Measurement with an error, which the analysis counts as an Error
(never a success). Connection failures and 5xx are retried a few times with backoff first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry as Urllib3Retry

from gitops_promoter.adapters.retry import Backoff, Retry, retrying
from gitops_promoter.config.schema import PrometheusConfig
from gitops_promoter.domain.analysis import Measurement, parse_value
from gitops_promoter.errors import ConfigError, TransientError

log = logging.getLogger(__name__)


class PrometheusMetrics:
    """The Metrics port for one Prometheus."""

    def __init__(self, config: PrometheusConfig, *, timeout: int = 10, retries: int = 2,
                 sleep: Callable[[float], None] = time.sleep, backoff: Backoff | None = None) -> None:
        self.name = config.name
        self.url = config.url.rstrip("/")
        headers = None
        auth = None
        try:
            if config.token is not None:
                headers = {"Authorization": f"Bearer {config.token.resolve()}"}
            if config.username is not None and config.password is not None:
                auth = (config.username.resolve(), config.password.resolve())
        except ConfigError as exc:
            raise ConfigError([f"prometheus {config.name}: {p}" for p in exc.problems]) from None
        # No urllib3-level retries (they sleep on the real clock): this adapter retries with backoff.
        self._prom = PrometheusConnect(url=self.url, headers=headers, auth=auth, timeout=timeout,
                                       disable_ssl=False, retry=Urllib3Retry(total=0, raise_on_status=False))
        self._retries = retries
        self._sleep = sleep
        self._backoff = backoff or Backoff(base=0.5, cap=5.0)

    def query(self, promql: str) -> Measurement:
        def attempt() -> Measurement:
            try:
                return _measurement(self._prom.custom_query(promql))
            except PrometheusApiClientException as exc:
                detail = str(exc)
                if " 5" in detail[:25] or "HTTP Status Code 5" in detail:
                    raise Retry(detail) from None
                return Measurement(error=f"prometheus {self.name} ({self.url}): {detail}")
            except requests.RequestException as exc:
                raise Retry(f"{type(exc).__name__}: {exc}") from None
            except (ValueError, KeyError, TypeError) as exc:
                return Measurement(error=f"prometheus {self.name}: unexpected answer: {exc}")

        try:
            return retrying(attempt, attempts=self._retries + 1, backoff=self._backoff, sleep=self._sleep,
                            what=f"prometheus {self.name}",
                            give_up=lambda failure, tries: TransientError(failure.detail))
        except TransientError as exc:  # a failed query is an error measurement: never a pass
            return Measurement(error=f"prometheus {self.name} ({self.url}): {exc}")


def _measurement(result: Any) -> Measurement:
    """A vector becomes a list of its sample values (in answer order), a scalar a number."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return Measurement(value=parse_value(result[1]))  # scalar: [timestamp, "value"]
    if isinstance(result, list):
        values = []
        for sample in result:
            if "value" not in sample:
                raise ValueError("a range vector (matrix) is not a measurement; query an instant vector")
            values.append(parse_value(sample["value"][1]))
        return Measurement(value=values)
    raise ValueError(f"result of type {type(result).__name__}")
