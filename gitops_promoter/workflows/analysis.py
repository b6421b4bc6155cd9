"""Run a gate's analysis: measure every metric on its own interval until each reaches a final
phase (as an AnalysisRun does), with the clock and sleep injected."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from gitops_promoter.domain.analysis import Measurement, Metric, MetricVerdict, assess_metric
from gitops_promoter.domain.templating import render_args
from gitops_promoter.ports import Metrics

ERROR_RETRY = 10.0  # Argo's DefaultErrorRetryInterval, for metrics without an interval


def run_analysis(metrics: Sequence[Metric], *, args: Mapping[str, str], prometheus: Metrics,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> list[MetricVerdict]:
    start = clock()
    taken: dict[str, list[Measurement]] = {m.name: [] for m in metrics}
    due = {m.name: start + (m.initial_delay or 0.0) for m in metrics}
    done: dict[str, MetricVerdict] = {}
    queries = {m.name: render_args(m.query, args) for m in metrics}
    while len(done) < len(metrics):
        now = clock()
        for m in metrics:
            if m.name in done or due[m.name] > now:
                continue
            measurement = prometheus.query(queries[m.name])
            taken[m.name].append(measurement)
            verdict = assess_metric(m, taken[m.name])
            if verdict.phase != "Running":
                done[m.name] = verdict
            else:
                wait = m.interval if m.interval is not None else ERROR_RETRY
                due[m.name] = now + wait
        pending = [due[m.name] for m in metrics if m.name not in done]
        if pending:
            sleep(max(0.0, min(pending) - clock()))
    return [done[m.name] for m in metrics]
