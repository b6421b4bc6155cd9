"""A gate's analysis as a resumable state machine: what was measured so far and when each metric
is due next. It spans many reconciles; the journal keeps it, so a restart resumes it.

Pure: the caller passes `now` (epoch seconds) and the measurements it took. Like an Argo
AnalysisRun, each metric is measured on its own `interval` (after its `initialDelay`) until it
reaches a final phase, and the whole gate stops at the first metric that reaches Failed (Argo
terminates the run's other metrics then). A metric without `interval` whose measurement errored
is measured again after Argo's DefaultErrorRetryInterval (10 s).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gitops_promoter.domain.analysis import (
    FAILED,
    RUNNING,
    Measurement,
    Metric,
    MetricVerdict,
    assess_metric,
    gate_phase,
)

ERROR_RETRY = 10.0  # Argo Rollouts' DefaultErrorRetryInterval, for a metric without an interval


@dataclass(frozen=True)
class AnalysisRun:
    key: str  # app/env/release commit/gate: one run per gate of one release
    fingerprint: str  # the metrics it runs; a different set of metrics starts a new run
    started: float
    taken: Mapping[str, tuple[Measurement, ...]] = field(default_factory=dict)
    times: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # when each measurement was taken
    due: Mapping[str, float] = field(default_factory=dict)  # metric → next measurement; absent once final


def fingerprint(metrics: Sequence[Metric], args: Mapping[str, str]) -> str:
    """A short digest of what the gate measures (metrics and their rendered arguments)."""
    text = json.dumps([[repr(m) for m in metrics], sorted(args.items())], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def start(metrics: Sequence[Metric], *, key: str, fingerprint: str, now: float) -> AnalysisRun:
    return AnalysisRun(key=key, fingerprint=fingerprint, started=now,
                       taken={m.name: () for m in metrics}, times={m.name: () for m in metrics},
                       due={m.name: now + (m.initial_delay or 0.0) for m in metrics})


def rebase(run: AnalysisRun, metrics: Sequence[Metric], *, now: float) -> AnalysisRun:
    """The run with any due time further ahead than its metric can ever wait brought to `now`:
    the wall clock stepped back (NTP, a VM restored) and must not stall a gate for hours."""
    longest = {m.name: (m.interval if m.interval is not None else ERROR_RETRY) + (m.initial_delay or 0.0)
               for m in metrics}
    due = {name: (now if when > now + longest.get(name, ERROR_RETRY) else when) for name, when in run.due.items()}
    return replace(run, due=due) if due != dict(run.due) else run


def due_now(run: AnalysisRun, now: float) -> list[str]:
    """The metrics to measure now, in their order (none once the gate has failed)."""
    return [name for name, when in run.due.items() if when <= now]


def record(run: AnalysisRun, metrics: Sequence[Metric], name: str, measurement: Measurement, *,
           now: float) -> AnalysisRun:
    """The run after one more measurement of metric `name`, taken at `now`. When that metric
    fails, nothing else is measured: the gate has failed (Argo terminates the run)."""
    metric = next(m for m in metrics if m.name == name)
    taken = {**run.taken, name: (*run.taken.get(name, ()), measurement)}
    times = {**run.times, name: (*run.times.get(name, ()), now)}
    due = dict(run.due)
    verdict = assess_metric(metric, taken[name])
    if verdict.phase == FAILED and not metric.dry_run:  # a dryRun metric's failure decides nothing
        due = {}
    elif verdict.phase != RUNNING:
        due.pop(name, None)
    else:
        due[name] = now + (metric.interval if metric.interval is not None else ERROR_RETRY)
    return replace(run, taken=taken, times=times, due=due)


def verdicts(run: AnalysisRun, metrics: Sequence[Metric]) -> list[MetricVerdict]:
    return [assess_metric(m, run.taken.get(m.name, ())) for m in metrics]


def phase(run: AnalysisRun, metrics: Sequence[Metric]) -> str:
    """Failed as soon as one metric failed; else the gate's combined phase (Running while any runs)."""
    found = verdicts(run, metrics)
    if any(v.phase == FAILED and not v.dry_run for v in found):
        return FAILED
    return gate_phase(found)


def next_due(run: AnalysisRun) -> float | None:
    """When the next measurement is due (epoch seconds), or None when nothing is left to measure."""
    return min(run.due.values()) if run.due else None


# --- persistence (JSON text, NaN and infinities kept) --------------------------------------

def dumps(run: AnalysisRun) -> str:
    return json.dumps({
        "key": run.key, "fingerprint": run.fingerprint, "started": run.started,
        "taken": {name: [_m_out(m) for m in ms] for name, ms in run.taken.items()},
        "times": {name: list(ts) for name, ts in run.times.items()},
        "due": dict(run.due),
    }, sort_keys=True)


def loads(text: str) -> AnalysisRun:
    """A run from `dumps`; ValueError when the text is not one."""
    try:
        raw = json.loads(text)
        return AnalysisRun(
            key=str(raw["key"]), fingerprint=str(raw["fingerprint"]), started=float(raw["started"]),
            taken={str(n): tuple(_m_in(m) for m in ms) for n, ms in raw["taken"].items()},
            times={str(n): tuple(float(t) for t in ts) for n, ts in raw["times"].items()},
            due={str(n): float(t) for n, t in raw["due"].items()})
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an analysis run: {exc}") from None


def _m_out(m: Measurement) -> dict[str, Any]:
    return {"error": m.error} if m.error is not None else {"value": _v_out(m.value)}


def _m_in(raw: Mapping[str, Any]) -> Measurement:
    if "error" in raw:
        return Measurement(error=str(raw["error"]))
    return Measurement(value=_v_in(raw.get("value")))


def _v_out(v: Any) -> Any:
    if isinstance(v, list):
        return [_v_out(x) for x in v]
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return {"float": repr(v)}
    return v


def _v_in(v: Any) -> Any:
    if isinstance(v, list):
        return [_v_in(x) for x in v]
    if isinstance(v, dict):
        return float(v["float"])
    return v
