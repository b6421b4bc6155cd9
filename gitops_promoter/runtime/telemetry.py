"""What the service tells the world: Prometheus metrics (prometheus-client) and logs (text or
JSON lines, each with app, env, tag and action when it concerns one, secrets masked)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gitops_promoter.workflows.outcome import Outcome

FIELDS = ("app", "env", "tag", "action")
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


# --- logs -----------------------------------------------------------------------------------

class Redact(logging.Filter):
    """Masks every secret value the config resolves to, wherever it would appear in a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.mask(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None) is not None)
        return f"{text} [{extra}]" if extra else text


def setup_logging(*, level: str, fmt: str, secrets: Iterable[str] = ()) -> Redact:
    """Configure the root logger once: stderr, the chosen format, secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    redact = Redact(secrets)
    handler.addFilter(redact)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    for noisy in ("apscheduler", "urllib3", "httpx", "git", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # A run skipped because one is still running is handled by the service (it runs once more).
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))
    return redact
