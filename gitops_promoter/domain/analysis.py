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
without `interval` the count is 1.

Argo ≥ 1.8's `consecutiveSuccessLimit` (default 0, off) and `failureLimit: -1` (off): after the
failure/inconclusive/error checks, the metric is Successful once that many Successful measurements
came in a row (Failed, Inconclusive and Error break the streak); when `count` is reached first it is
Inconclusive if failureLimit is on too, Failed if only consecutiveSuccessLimit is on (the docs'
"ConsecutiveSuccessLimit and FailureLimit", argoproj/argo-rollouts#3996). One of the two must be on.

Argo's background-analysis shape, `interval` and no `count`, runs until it fails or the run is
terminated, then it is Successful (analysis/analysis.go, assessMetricStatus). A gate has no such
end, so the promoter bounds it with `canary.gate_window` (`Metric.gate_window`): it is measured
every interval, ⌊(gate_window − initialDelay) / interval⌋ + 1 times (the last when the window has
passed), and is Successful then unless a limit tripped.

`dryRun` metrics (AnalysisTemplate `spec.dryRun[].metricName`, a regular expression as Argo reads
it) are measured and reported, and never decide the gate (`gate_phase`).

The addition, `emptyResult: error | evaluate` (default `error`): with `error`, an empty vector,
or a NaN or ±Inf in the result is an Error measurement before any condition runs — in Argo
`all(result, ...)` over nothing is true and `result[0] < 0.05` on NaN is false, so missing data
could pass. `evaluate` behaves as Argo does, except that no result at all (null) is an Error
either way: there is nothing to evaluate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gitops_promoter.domain.durations import parse_duration
from gitops_promoter.domain.expr import Condition, ExprError

__all__ = ["parse_duration"]  # re-exported: Argo's durations, read here and by the config

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
    failure_limit: int = 0  # -1: off (Argo >= 1.8)
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4
    empty_result: str = "error"
    query: str = ""
    consecutive_success_limit: int = 0  # 0: off (Argo >= 1.8)
    address: str | None = None  # provider.prometheus.address: this metric's own Prometheus
    dry_run: bool = False  # measured and reported, never deciding the gate
    gate_window: float | None = None  # bounds `interval` without `count` at a gate (seconds)

    @property
    def effective_count(self) -> int | None:
        """How many measurements end the metric: `count`; 1 without an interval; with an interval
        and no count, as many as fit in the gate window (the last when it has passed); else None."""
        if self.count is not None:
            return self.count
        if self.interval is None:
            return 1
        if self.gate_window is None or self.interval <= 0:
            return None
        return max(0, math.floor((self.gate_window - (self.initial_delay or 0.0)) / self.interval)) + 1

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
    dry_run: bool = False

    def describe(self) -> str:
        values = ", ".join(a.phase for a in self.measurements) or "none yet"
        name = f"{self.metric} (dryRun, not deciding)" if self.dry_run else self.metric
        return f"{name}: {self.phase} ({self.reason}; measurements: {values})"


def _no_number(v: Any) -> str | None:
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, float) and math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return None


def _missing(value: Any) -> str | None:
    if isinstance(value, list):
        if not value:
            return "empty result"
        found = next((n for n in map(_no_number, value) if n), None)
        return f"{found} in result" if found else None
    found = _no_number(value)
    return f"result is {found}" if found else None


def assess_measurement(metric: Metric, m: Measurement) -> Assessed:
    """One measurement's phase, with the reason a person reads."""
    if m.error is not None:
        return Assessed(ERROR, m.error)
    if m.value is None or (isinstance(m.value, list) and any(v is None for v in m.value)):
        return Assessed(ERROR, "no result (null): nothing to evaluate, whatever emptyResult says")
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
    c = _Counts()
    phase, reason = RUNNING, "more measurements needed"
    for m in measurements:
        a = assess_measurement(metric, m)
        taken.append(a)
        if a.phase == ERROR:
            c.errors += 1
            c.successes = 0
        else:
            c.count += 1
            c.errors = 0
            c.failed += a.phase == FAILED
            c.inconclusive += a.phase == INCONCLUSIVE
            c.successes = c.successes + 1 if a.phase == SUCCESSFUL else 0
        phase, reason = _phase(metric, c)
        if phase != RUNNING:
            break
    if not taken:
        reason = "no measurement yet"
    return MetricVerdict(metric.name, phase, tuple(taken), reason, dry_run=metric.dry_run)


@dataclass
class _Counts:
    """Argo's MetricResult counters: count, failed, inconclusive, consecutiveError, consecutiveSuccess."""

    count: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    successes: int = 0


def _phase(metric: Metric, c: _Counts) -> tuple[str, str]:
    if metric.failure_limit >= 0 and c.failed > metric.failure_limit:
        return FAILED, f"failed ({c.failed}) > failureLimit ({metric.failure_limit})"
    if c.inconclusive > metric.inconclusive_limit:
        return INCONCLUSIVE, f"inconclusive ({c.inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
    if c.errors > metric.consecutive_error_limit:
        return ERROR, f"consecutiveErrors ({c.errors}) > consecutiveErrorLimit ({metric.consecutive_error_limit})"
    limit = metric.consecutive_success_limit
    if limit > 0 and c.successes >= limit:
        return SUCCESSFUL, f"consecutiveSuccessLimit ({limit}) reached"
    wanted = metric.effective_count
    if wanted is not None and c.count >= wanted:
        if limit > 0 and metric.failure_limit >= 0:
            return INCONCLUSIVE, (f"count ({wanted}) reached without {limit} successes in a row "
                                  f"(consecutiveSuccessLimit) nor failed > failureLimit ({metric.failure_limit})")
        if limit > 0:
            return FAILED, f"count ({wanted}) reached without {limit} successes in a row (consecutiveSuccessLimit)"
        if metric.count is None and metric.interval is not None and metric.gate_window is not None:
            return SUCCESSFUL, (f"gate_window ({_duration(metric.gate_window)}) passed: {wanted} measurements "
                                f"every {_duration(metric.interval)}, failureLimit not exceeded")
        return SUCCESSFUL, f"count ({wanted}) reached"
    return RUNNING, "more measurements needed"


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def gate_phase(verdicts: Sequence[MetricVerdict]) -> str:
    """A gate passes only when every deciding metric is Successful; otherwise the worst phase, as
    Argo combines metrics (Failed > Error > Inconclusive > Successful), Running while any runs
    (dryRun metrics included: Argo waits for them too). dryRun metrics never decide
    (analysis/analysis.go, assessRunStatus); a gate of dryRun metrics only is Successful, as in
    Argo — the loaders refuse such a gate."""
    if not verdicts or any(v.phase == RUNNING for v in verdicts):
        return RUNNING
    deciding = [v.phase for v in verdicts if not v.dry_run]
    return max(deciding, key=lambda p: _WORSE[p]) if deciding else SUCCESSFUL


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
                "consecutiveSuccessLimit": "consecutive_success_limit", "name": "name", "query": "query",
                "dryRun": "dry_run"}
_KEY_OF = {field: key for key, field in _METRIC_KEYS.items()}


class MetricError(ValueError):
    """A metric that cannot run as written; `key` names the offending key when there is one."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def metric_from(raw: dict[str, Any], *, gate_window: float | None = None) -> Metric:
    """A Metric from Argo's AnalysisTemplate keys, checked by `metric_problems`; MetricError names
    the first bad key. `gate_window` bounds a metric with `interval` and no `count`."""
    metric = parse_metric(raw, gate_window=gate_window)
    problems = metric_problems(metric)
    if problems:
        key, message = problems[0]
        raise MetricError(message, key=key)
    return metric


def parse_metric(raw: dict[str, Any], *, gate_window: float | None = None) -> Metric:
    """A Metric from Argo's keys with each value's type checked and its conditions parsed, not yet
    held to `metric_problems` (so a caller can report them all)."""
    unknown = set(raw) - set(_METRIC_KEYS)
    if unknown:
        raise MetricError(f"unknown metric keys: {', '.join(sorted(unknown))}", key=sorted(unknown)[0])
    args: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        field = _METRIC_KEYS[key]
        if field in ("interval", "initial_delay"):
            try:
                args[field] = parse_duration(value, key)
            except ValueError as exc:
                raise MetricError(str(exc), key=key) from None
        elif field in ("count", "failure_limit", "inconclusive_limit", "consecutive_error_limit",
                       "consecutive_success_limit"):
            lowest = -1 if field == "failure_limit" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                extra = " (-1 turns it off)" if lowest < 0 else ""
                raise MetricError(f"{key} must be a whole number >= {lowest}{extra}, not {value!r}", key=key)
            args[field] = int(value)
        elif field == "empty_result":
            if value not in ("error", "evaluate"):
                raise MetricError(f"emptyResult must be error or evaluate, not {value!r}", key=key)
            args[field] = value
        elif field == "dry_run":
            if not isinstance(value, bool):
                raise MetricError(f"dryRun must be true or false, not {value!r}", key=key)
            args[field] = value
        else:
            if not isinstance(value, str):
                raise MetricError(f"{key} must be a string, not {value!r}", key=key)
            args[field] = str(value)
    metric = Metric(**args, gate_window=gate_window)
    for field in ("success_condition", "failure_condition"):
        text = getattr(metric, field)
        if text:
            try:
                Condition(text)  # parse now: a bad condition is a configuration error, not a measurement error
            except ExprError as exc:
                raise MetricError(str(exc), key=_KEY_OF[field]) from None
    return metric


def metric_problems(metric: Metric) -> list[tuple[str | None, str]]:
    """Why a metric cannot decide a gate, as (key, message): the same rules for the config's
    metrics and for AnalysisTemplates. Argo's own (utils/analysis ValidateMetric: count >= each
    limit, count > 1 needs an interval; failureLimit -1 needs consecutiveSuccessLimit) and the
    promoter's (a condition, count >= 1, positive intervals: a gate must end on evidence)."""
    out: list[tuple[str | None, str]] = []
    if not metric.success_condition and not metric.failure_condition:
        out.append((None, "needs successCondition or failureCondition (a metric with neither always passes)"))
    if metric.count is not None and metric.count < 1:
        out.append(("count", f"count must be at least 1, not {metric.count} (count: 0 would pass on no data)"))
    if metric.interval is not None and metric.interval <= 0:
        out.append(("interval", "interval must be greater than 0"))
    if metric.initial_delay is not None and metric.initial_delay < 0:
        out.append(("initialDelay", "initialDelay must not be negative"))
    if metric.count is not None and metric.count > 1 and metric.interval is None:
        out.append(("count", f"count ({metric.count}) > 1 needs an interval"))
    if metric.failure_limit < 0 and metric.consecutive_success_limit <= 0:
        out.append(("failureLimit", "failureLimit -1 turns failures off: give consecutiveSuccessLimit > 0 then, "
                                    "or the metric can neither fail nor succeed on evidence"))
    if metric.count is not None and metric.count >= 1:
        for key, limit in (("failureLimit", metric.failure_limit), ("inconclusiveLimit", metric.inconclusive_limit),
                           ("consecutiveSuccessLimit", metric.consecutive_success_limit)):
            if limit > metric.count:
                out.append((key, f"count ({metric.count}) must be >= {key} ({limit})"))
    if metric.gate_window is not None and metric.gate_window <= 0:
        out.append((None, "canary.gate_window must be greater than 0"))
    return out


_PROMETHEUS_KEYS = ("query", "address")
_SPEC_KEYS = ("metrics", "args", "dryRun", "measurementRetention")


class TemplateError(ValueError):
    """An AnalysisTemplate the promoter cannot run; every problem is `file:line:col: path: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def metrics_from_template(text: str, *, source: str,
                          gate_window: float | None = None) -> tuple[list[Metric], dict[str, str]]:
    """The Prometheus metrics and the argument defaults of an Argo AnalysisTemplate document, held
    to the same rules as the config's metrics (`metric_problems`). TemplateError lists every
    problem with its `file:line:col` inside the template and the metric's name. `gate_window`
    (seconds, `canary.gate_window`) bounds metrics with `interval` and no `count`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from gitops_promoter.domain.yamltext import compose_documents
    from gitops_promoter.errors import EditError

    try:  # size, control characters, nesting, repeated keys, aliases: checked before anything is built
        compose_documents(text, source=source, aliases=False)
    except EditError as exc:
        raise TemplateError([str(exc)]) from None
    try:
        docs = list(YAML(typ="rt").load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise TemplateError([f"{where}: not valid YAML: {exc.problem or exc.context}"]) from None
    except YAMLError as exc:
        raise TemplateError([f"{source}: not valid YAML: {exc}"]) from None
    template = next((d for d in docs if isinstance(d, dict)
                     and d.get("kind") in ("AnalysisTemplate", "ClusterAnalysisTemplate")), None)
    if template is None:
        raise TemplateError([f"{source}: no AnalysisTemplate in the file"])
    t = _Template(source)
    spec = template.get("spec")
    if not isinstance(spec, dict):
        raise TemplateError([f"{t.at(template, 'spec')}: spec: the AnalysisTemplate has no spec"])
    for key in spec:
        if key not in _SPEC_KEYS:
            t.add(spec, key, f"spec.{key}", f"not supported (the promoter reads {', '.join(_SPEC_KEYS)})")
    defaults = t.args(spec.get("args"))
    metrics = t.metrics(spec.get("metrics"), gate_window=gate_window)
    if not metrics and not t.problems:
        t.add(spec, "metrics" if "metrics" in spec else None, "spec.metrics", "the AnalysisTemplate has no metrics")
    metrics = t.dry_run(spec, metrics)
    if metrics and all(m.dry_run for m in metrics):
        t.add(spec, "dryRun", "spec.dryRun", "every metric is dryRun: nothing would decide the gate")
    if t.problems:
        raise TemplateError(t.problems)
    return metrics, defaults


class _Template:
    """Problems in an AnalysisTemplate, placed at ruamel.yaml round-trip positions (1-based)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def at(self, node: Any, key: Any = None) -> str:
        lc: Any = getattr(node, "lc", None)
        try:
            if key is None:
                line, col = lc.line, lc.col
            elif isinstance(node, list):  # a CommentedSeq
                line, col = lc.item(key)
            elif key in node:
                line, col = lc.key(key)
            else:
                line, col = lc.line, lc.col
        except (AttributeError, KeyError, TypeError, IndexError):
            return self.source
        return f"{self.source}:{line + 1}:{col + 1}"

    def add(self, node: Any, key: Any, path: str, message: str) -> None:
        self.problems.append(f"{self.at(node, key)}: {path}: {message}")

    def args(self, raw: Any) -> dict[str, str]:
        defaults: dict[str, str] = {}
        for i, arg in enumerate(raw or []):
            path = f"spec.args[{i}]"
            if not isinstance(arg, dict) or "name" not in arg:
                self.add(raw, i, path, "an argument needs a name")
                continue
            name = str(arg["name"])
            if "valueFrom" in arg:
                self.add(arg, "valueFrom", f"{path}.valueFrom",
                         f"argument {name!r}: valueFrom (secretKeyRef/fieldRef) is not supported; give a value "
                         "(in the template or in the config's analysis.args)")
            elif arg.get("value") is not None:
                defaults[name] = str(arg["value"])
        return defaults

    def metrics(self, raw: Any, *, gate_window: float | None) -> list[Metric]:
        out: list[Metric] = []
        if raw is not None and not isinstance(raw, list):
            self.problems.append(f"{self.source}: spec.metrics: must be a list")
            return out
        seen: set[str] = set()
        for i, item in enumerate(raw or []):
            path = f"spec.metrics[{i}]"
            if not isinstance(item, dict):
                self.add(raw, i, path, "a metric must be a mapping")
                continue
            name = str(item.get("name") or "")
            label = f"metric {name!r}" if name else "metric"
            if not name:
                self.add(raw, i, path, "a metric needs a name")
            elif name in seen:
                self.add(item, "name", f"{path}.name", f"{label}: two metrics have the same name")
            seen.add(name)
            fields = {k: _plain(v) for k, v in item.items() if k != "provider"}
            query, address = self.provider(item, path, label)
            try:
                metric = parse_metric({**fields, "query": query or ""}, gate_window=gate_window)
            except MetricError as exc:
                self.metric_problem(raw, i, item, exc.key, f"{label}: {exc}")
                continue
            problems = metric_problems(metric)
            for key, message in problems:
                self.metric_problem(raw, i, item, key, f"{label}: {message}")
            if query is not None and not problems:
                out.append(replace(metric, address=address))
        return out

    def metric_problem(self, raw: Any, i: int, item: Any, key: str | None, message: str) -> None:
        path = f"spec.metrics[{i}]"
        if key is not None and key in item:
            self.add(item, key, f"{path}.{key}", message)
        else:
            self.add(raw, i, path, message)

    def provider(self, item: Any, path: str, label: str) -> tuple[str | None, str | None]:
        provider = item.get("provider")
        if not isinstance(provider, dict) or "prometheus" not in provider:
            kinds = ", ".join(map(str, provider)) if isinstance(provider, dict) and provider else "none"
            self.add(item, "provider" if "provider" in item else None, f"{path}.provider",
                     f"{label} uses provider {kinds}; the promoter runs prometheus metrics only")
            return None, None
        prom = provider["prometheus"]
        ppath = f"{path}.provider.prometheus"
        if not isinstance(prom, dict):
            self.add(provider, "prometheus", ppath, f"{label}: must be a mapping with query")
            return None, None
        for key in prom:
            if key not in _PROMETHEUS_KEYS:
                self.add(prom, key, f"{ppath}.{key}",
                         f"{label}: not supported (the promoter reads query and address; authentication, "
                         "headers and timeouts come from the promoter's prometheus config)")
        query = prom.get("query")
        if not isinstance(query, str) or not query.strip():
            self.add(prom, "query" if "query" in prom else None, f"{ppath}.query", f"{label}: needs a query")
            return None, None
        address = prom.get("address")
        if address is not None:
            # metricproviders/prometheus/prometheus.go (NewPrometheusAPI, IsUrl): scheme and host
            if not isinstance(address, str) or not re.match(r"^https?://[^/\s]+", address):
                self.add(prom, "address", f"{ppath}.address",
                         f"{label}: address must be a URL such as http://prometheus:9090, not {address!r}")
                return None, None
            address = str(address)
        return str(query), address

    def dry_run(self, spec: Any, metrics: list[Metric]) -> list[Metric]:
        """Argo's `spec.dryRun[].metricName`: a regular expression searched in each metric's name
        (utils/analysis/helpers.go, GetDryRunMetrics); a rule matching no metric is an error there."""
        rules = spec.get("dryRun")
        if rules is None:
            return metrics
        if not isinstance(rules, list):
            self.add(spec, "dryRun", "spec.dryRun", "must be a list of {metricName: ...}")
            return metrics
        dry: set[str] = set()
        for i, rule in enumerate(rules):
            path = f"spec.dryRun[{i}]"
            pattern = rule.get("metricName") if isinstance(rule, dict) else None
            if not isinstance(pattern, str) or not pattern:
                self.add(rules, i, path, "needs metricName")
                continue
            try:
                regex = re.compile(".*" if pattern == "*" else pattern)
            except re.error as exc:
                self.add(rule, "metricName", f"{path}.metricName", f"not a regular expression: {exc}")
                continue
            matched = {m.name for m in metrics if regex.search(m.name)}
            if not matched and metrics:
                self.add(rule, "metricName", f"{path}.metricName", f"{pattern!r} matches no metric name")
            dry |= matched
        return [replace(m, dry_run=True) if m.name in dry else m for m in metrics]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value
