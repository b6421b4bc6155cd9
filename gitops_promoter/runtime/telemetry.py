"""What the service tells the world: Prometheus metrics (prometheus-client). Logs are in
runtime/logs.py (a `run --once` writes logs and needs no metrics library)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gitops_promoter.workflows.outcome import Outcome

_LATENCY = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Telemetry:
    """The service's metrics, in a registry of its own (served on /metrics)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.actions = Counter("gitops_promoter_actions", "What reconciles did, by app, environment and result "
                               "(bumped, advanced, reverted, merged, error, ...)", ["app", "env", "result"], registry=r)
        self.tag_to_commit = Histogram("gitops_promoter_tag_to_commit_seconds",
                                       "From a new tag first seen (webhook or poll) to its commit pushed",
                                       buckets=_LATENCY, registry=r)
        self.requests = Counter("gitops_promoter_requests", "Calls to registries, git, GitHub, Prometheus, clusters",
                                ["service", "result"], registry=r)
        self.request_seconds = Histogram("gitops_promoter_request_seconds", "Latency of those calls",
                                         ["service"], buckets=_LATENCY, registry=r)
        self.verdicts = Counter("gitops_promoter_analysis_verdicts", "Gate analysis verdicts",
                                ["app", "env", "verdict"], registry=r)
        self.leader = Gauge("gitops_promoter_leader", "1 while this replica may write (leader or single replica)",
                            registry=r)
        self.scheduler_lag = Histogram("gitops_promoter_scheduler_lag_seconds",
                                       "How late a scheduled reconcile started", buckets=_LATENCY, registry=r)
        self.reconcile_seconds = Histogram("gitops_promoter_reconcile_seconds", "Duration of one app's reconcile",
                                           buckets=_LATENCY, registry=r)
        self.webhooks = Counter("gitops_promoter_webhooks", "Webhook deliveries by source and answer",
                                ["source", "code"], registry=r)

    def outcomes(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            self.actions.labels(o.app, o.env, o.status).inc()

    def verdict(self, o: Outcome) -> None:
        """Count a gate's verdict; the caller passes each outcome once, when it is new (an
        inconclusive gate is reported again every pass until a person decides)."""
        if o.status == "advanced" and "analysis passed" in o.detail:
            self.verdicts.labels(o.app, o.env, "Successful").inc()
        elif o.status == "reverted" and "analysis failed" in o.detail:
            self.verdicts.labels(o.app, o.env, "Failed").inc()
        elif o.status == "inconclusive":
            self.verdicts.labels(o.app, o.env, "Inconclusive").inc()


class Instrumented:
    """A port with every call counted and timed (by service), the object itself unchanged."""

    def __init__(self, target: Any, *, service: str, telemetry: Telemetry,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._target, self._service, self._t, self._clock = target, service, telemetry, clock

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value) or name.startswith("_"):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            start = self._clock()
            try:
                result = value(*args, **kwargs)
            except Exception as exc:
                self._t.requests.labels(self._service, type(exc).__name__).inc()
                raise
            finally:
                self._t.request_seconds.labels(self._service).observe(self._clock() - start)
            error = getattr(result, "error", None)  # a Prometheus measurement that failed
            self._t.requests.labels(self._service, "error" if isinstance(error, str) else "ok").inc()
            return result

        return call
