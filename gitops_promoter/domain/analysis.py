"""Analysis semantics: Argo Rollouts' AnalysisTemplate metrics, exactly, plus one safety switch.

A measurement is assessed (Argo's EvaluateResult):
* both conditions given: Failed when failureCondition holds (failure wins), Successful when only
  successCondition holds, Inconclusive when neither does;
* only successCondition: Successful when it holds, else Failed;
* only failureCondition: Failed when it holds, else Successful;
* neither: Successful (Argo's rule; the promoter's config refuses such metrics);
* a query error, or a condition that cannot be evaluated: Error.

A metric's measurements are counted (Argo's runMeasurements / assessMetricStatus): Successful,
Failed and Inconclusive add to `count` and reset the consecutive-error counter; Error does not
count and adds to it. After each measurement the metric is Failed when failed > failureLimit,
Inconclusive when inconclusive > inconclusiveLimit, Error when consecutive errors >
consecutiveErrorLimit, Successful when `count` measurements were taken, else Running. It stops at
its first final phase. Defaults: failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit 4;
without `interval` the count is 1; with `interval` and no `count` it runs until a limit trips.

The addition, `emptyResult: error | evaluate` (default `error`): with `error`, an empty vector,
no result (null), or a NaN in the result is an Error measurement before any condition runs —
in Argo `all(result, ...)` over nothing is true and `result[0] < 0.05` on NaN is false, so
missing data could pass. `evaluate` behaves as Argo does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitops_promoter.domain.expr import Condition, ExprError

SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR, RUNNING = "Successful", "Failed", "Inconclusive", "Error", "Running"
_WORSE = {RUNNING: 0, SUCCESSFUL: 1, INCONCLUSIVE: 2, ERROR: 3, FAILED: 4}


@dataclass(frozen=True)
class Metric:
    name: str = "metric"
    success_condition: str | None = None
    failure_condition: str | None = None
    interval: float | None = None
    count: int | None = None
    initial_delay: float | None = None
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4
    empty_result: str = "error"
    query: str = ""

    @property
    def effective_count(self) -> int | None:
        if self.count is not None:
            return self.count
        return 1 if self.interval is None else None

    def conditions(self) -> tuple[Condition | None, Condition | None]:
        return (Condition(self.success_condition) if self.success_condition else None,
                Condition(self.failure_condition) if self.failure_condition else None)


@dataclass(frozen=True)
class Measurement:
    """One query result: a number, a list of numbers (a vector), None (no result), or an error."""

    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Assessed:
    phase: str
    reason: str


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    phase: str
    measurements: tuple[Assessed, ...]
    reason: str

    def describe(self) -> str:
        values = ", ".join(a.phase for a in self.measurements) or "none yet"
        return f"{self.metric}: {self.phase} ({self.reason}; measurements: {values})"


def _missing(value: Any) -> str | None:
    if value is None:
        return "no result"
    if isinstance(value, list):
        if not value:
            return "empty result"
        if any(isinstance(v, float) and math.isnan(v) for v in value):
            return "NaN in result"
    elif isinstance(value, float) and math.isnan(value):
        return "result is NaN"
    return None


def assess_measurement(metric: Metric, m: Measurement) -> Assessed:
    """One measurement's phase, with the reason a person reads."""
    if m.error is not None:
        return Assessed(ERROR, m.error)
    if metric.empty_result == "error":
        missing = _missing(m.value)
        if missing:
            return Assessed(ERROR, f"{missing} (emptyResult: error)")
    try:
        success_c, failure_c = metric.conditions()
        success = success_c.check(m.value) if success_c else False
        failure = failure_c.check(m.value) if failure_c else False
    except ExprError as exc:
        return Assessed(ERROR, str(exc))
    shown = _show(m.value)
    if success_c is None and failure_c is None:
        return Assessed(SUCCESSFUL, f"{shown}: no conditions")
    if success_c is not None and failure_c is None:
        failure = not success
    elif success_c is None:
        success = not failure
    if failure:
        cond = metric.failure_condition if failure_c is not None else f"not ({metric.success_condition})"
        return Assessed(FAILED, f"{shown}: {cond}")
    if not success:
        return Assessed(INCONCLUSIVE, f"{shown}: neither condition holds")
    return Assessed(SUCCESSFUL, f"{shown}: {metric.success_condition or f'not ({metric.failure_condition})'}")


def assess_metric(metric: Metric, measurements: Sequence[Measurement]) -> MetricVerdict:
    """The metric's phase after these measurements, in order; it stops at its first final phase."""
    taken: list[Assessed] = []
    failed = inconclusive = consecutive_errors = count = 0
    phase, reason = RUNNING, "more measurements needed"
    for m in measurements:
        a = assess_measurement(metric, m)
        taken.append(a)
        if a.phase == ERROR:
            consecutive_errors += 1
        else:
            count += 1
            consecutive_errors = 0
            failed += a.phase == FAILED
            inconclusive += a.phase == INCONCLUSIVE
        phase, reason = _phase(metric, failed, inconclusive, consecutive_errors, count)
        if phase != RUNNING:
            break
    if not taken:
        reason = "no measurement yet"
    return MetricVerdict(metric.name, phase, tuple(taken), reason)


def _phase(metric: Metric, failed: int, inconclusive: int, errors: int, count: int) -> tuple[str, str]:
    if failed > metric.failure_limit:
        return FAILED, f"failed ({failed}) > failureLimit ({metric.failure_limit})"
    if inconclusive > metric.inconclusive_limit:
        return INCONCLUSIVE, f"inconclusive ({inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
    if errors > metric.consecutive_error_limit:
        return ERROR, f"consecutiveErrors ({errors}) > consecutiveErrorLimit ({metric.consecutive_error_limit})"
    wanted = metric.effective_count
    if wanted is not None and count >= wanted:
        return SUCCESSFUL, f"count ({wanted}) reached"
    return RUNNING, "more measurements needed"


def gate_phase(verdicts: Sequence[MetricVerdict]) -> str:
    """A gate passes only when every metric is Successful; otherwise the worst phase, as Argo
    combines metrics (Failed > Error > Inconclusive > Successful), Running while any runs."""
    if not verdicts or any(v.phase == RUNNING for v in verdicts):
        return RUNNING
    return max((v.phase for v in verdicts), key=lambda p: _WORSE[p])


def parse_value(raw: Any) -> Any:
    """A measurement value as Prometheus writes it: numbers, "NaN", "+Inf", "-Inf", lists, null."""
    if raw is None:
        return None
    if isinstance(raw, list):
        return [parse_value(v) for v in raw]
    if isinstance(raw, bool):
        raise ValueError(f"not a measurement value: {raw!r}")
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text in ("NaN", "+Inf", "-Inf", "Inf"):
            return float(text.replace("Inf", "inf").replace("NaN", "nan"))
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"not a number: {raw!r}") from None
    raise ValueError(f"not a measurement value: {raw!r}")


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_num(v) for v in value) + "]"
    return _num(value)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else ("+Inf" if v == math.inf else "-Inf" if v == -math.inf else f"{v:g}")
    return "nil" if v is None else str(v)


_METRIC_KEYS = {"successCondition": "success_condition", "failureCondition": "failure_condition",
                "interval": "interval", "count": "count", "initialDelay": "initial_delay",
                "failureLimit": "failure_limit", "inconclusiveLimit": "inconclusive_limit",
                "consecutiveErrorLimit": "consecutive_error_limit", "emptyResult": "empty_result",
                "name": "name", "query": "query"}


def metric_from(raw: dict[str, Any]) -> Metric:
    """A Metric from Argo's AnalysisTemplate keys; ValueError names a bad key."""
    unknown = set(raw) - set(_METRIC_KEYS)
    if unknown:
        raise ValueError(f"unknown metric keys: {', '.join(sorted(unknown))}")
    args: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        field = _METRIC_KEYS[key]
        if field in ("interval", "initial_delay"):
            args[field] = parse_duration(value, key)
        elif field in ("count", "failure_limit", "inconclusive_limit", "consecutive_error_limit"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a whole number >= 0, not {value!r}")
            args[field] = value
        elif field == "empty_result":
            if value not in ("error", "evaluate"):
                raise ValueError(f"emptyResult must be error or evaluate, not {value!r}")
            args[field] = value
        else:
            if not isinstance(value, str):
                raise ValueError(f"{key} must be a string, not {value!r}")
            args[field] = value
    metric = Metric(**args)
    metric.conditions()  # parse now: a bad condition is a configuration error, not a measurement error
    return metric


def parse_duration(value: Any, key: str = "duration") -> float:
    """Argo durations: `30s`, `5m`, `1h`, `500ms`, `1h30m`, or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    if not isinstance(value, str) or not re.fullmatch(r"(\d+(\.\d+)?(ms|s|m|h))+", value.strip()):
        raise ValueError(f"{key} must be a duration such as 30s, 5m or 1h, not {value!r}")
    return sum(float(n) * units[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ms|s|m|h)", value))


def metrics_from_template(text: str, *, source: str) -> tuple[list[Metric], dict[str, str]]:
    """The Prometheus metrics and the argument defaults of an Argo AnalysisTemplate document."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        docs = [d for d in YAML(typ="safe").load_all(text) if isinstance(d, dict)]
    except YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from None
    template = next((d for d in docs if d.get("kind") in ("AnalysisTemplate", "ClusterAnalysisTemplate")), None)
    if template is None:
        raise ValueError(f"{source}: no AnalysisTemplate in the file")
    spec = template.get("spec") or {}
    defaults = {str(a["name"]): str(a["value"]) for a in spec.get("args") or [] if "value" in a}
    metrics = []
    for raw in spec.get("metrics") or []:
        provider = (raw.get("provider") or {})
        if "prometheus" not in provider:
            raise ValueError(f"{source}: metric {raw.get('name')!r} uses provider "
                             f"{', '.join(provider) or 'none'}; the promoter runs prometheus metrics only")
        fields = {k: v for k, v in raw.items() if k in _METRIC_KEYS}
        fields["query"] = provider["prometheus"].get("query", "")
        metrics.append(metric_from(fields))
    if not metrics:
        raise ValueError(f"{source}: the AnalysisTemplate has no metrics")
    return metrics, defaults
