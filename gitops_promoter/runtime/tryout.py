"""`analysis run` and `analysis evaluate`: try a gate's metrics before a rollout.

`analysis run` takes one measurement of each metric on the real Prometheus — the gate's metrics as
the canary resolves them (workflows.canary: inline or the repository's AnalysisTemplate, the
metric's own `provider.prometheus.address` when it names a configured Prometheus), or a template
file with a Prometheus URL — and prints each value, its phase and the reason (domain.analysis).
`analysis evaluate` runs the same semantics on measurements given on stdin.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from gitops_promoter.config.schema import PrometheusConfig
from gitops_promoter.domain.analysis import (
    SUCCESSFUL,
    Measurement,
    Metric,
    assess_measurement,
    assess_metric,
    metric_from,
    metrics_from_template,
    parse_duration,
    parse_value,
)
from gitops_promoter.domain.expr import ExprError
from gitops_promoter.domain.templating import render_args
from gitops_promoter.errors import ConfigError, PromoterError
from gitops_promoter.ports import Cluster, Metrics

MAX_TEMPLATE = 1 << 20  # bytes: an AnalysisTemplate is small


def measure(metrics: Sequence[Metric], args: Mapping[str, str], source: Callable[[Metric], tuple[Metrics, str]]) -> int:
    """One measurement per metric, printed; 0 when every deciding metric is Successful. `source`
    gives a metric's Prometheus and how to name it."""
    ok = True
    for m in metrics:
        try:
            query = render_args(m.query, args)
        except PromoterError as exc:
            print(f"{m.name}: Error: {exc}")
            ok = ok and m.dry_run
            continue
        prometheus, where = source(m)
        a = assess_measurement(m, prometheus.query(query))
        name = f"{m.name} (dryRun, not deciding)" if m.dry_run else m.name
        print(f"{name}: {a.phase}: {a.reason}")
        print(f"  on {where}: {' '.join(query.split())}")
        ok = ok and (a.phase == SUCCESSFUL or m.dry_run)
    print("every deciding metric passes on this measurement" if ok else
          "a deciding metric does not pass on this measurement")
    return 0 if ok else 1


def run_template(path: str, *, prometheus: str, args: Mapping[str, str], gate_window: str) -> int:
    """`analysis run --template FILE --prometheus URL [--arg k=v]`."""
    from gitops_promoter.adapters.prometheus import PrometheusMetrics

    url = urlsplit(prometheus)
    if url.scheme not in ("http", "https") or not url.hostname:
        print(f"error: --prometheus {prometheus!r}: an http:// or https:// URL", file=sys.stderr)
        return 2
    try:
        window = parse_duration(gate_window, "--gate-window")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TEMPLATE + 1)
        if len(raw) > MAX_TEMPLATE:
            raise ValueError(f"{path}: larger than {MAX_TEMPLATE} bytes")
        metrics, defaults = metrics_from_template(raw.decode("utf-8"), source=path, gate_window=window)
    except OSError as exc:
        print(f"error: {path}: {exc.strerror}", file=sys.stderr)
        return 1
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for m in metrics:
        if m.address and m.address.rstrip("/") != prometheus.rstrip("/"):
            print(f"note: {m.name} names Prometheus {m.address}; queried on {prometheus} here", file=sys.stderr)
    try:
        prom = PrometheusMetrics(PrometheusConfig(name="cli", url=prometheus))
    except ConfigError as exc:
        print(f"error: {'; '.join(exc.problems)}", file=sys.stderr)
        return 1
    return measure(metrics, {**defaults, **args}, lambda m: (prom, prometheus))


def run_gate(*, config_path: str, app: str, env: str, gate: int | None, workdir: str | None) -> int:
    """`analysis run [--config FILE] APP ENV [--gate N]`: the gate's metrics as the canary runs them."""
    from gitops_promoter.runtime.commands import _guarded_cli, _with_workdir
    from gitops_promoter.runtime.wiring import Wired, load
    from gitops_promoter.workflows import canary

    config = load(config_path, frozenset({app}))
    if config is None:
        return 1
    chosen = next(a for a in config.apps if a.name == app)
    target = chosen.targets.get(env)
    if target is None:
        print(f"{app} has no target in {env} (its environments: {', '.join(chosen.targets)})", file=sys.stderr)
        return 1
    if chosen.canary is None:
        print(f"{app} has no canary: nothing to analyse", file=sys.stderr)
        return 1

    def work(root: Path) -> int:
        wired = Wired(config, workdir=root)
        try:
            assert chosen.canary is not None
            # The analysis needs no cluster: only the repository (for a template) and Prometheus.
            c = canary.Canary(chosen, env, target, chosen.canary, wired.repos[chosen.repository],
                              cast(Cluster, None), wired.metrics,
                              prometheus_urls={n: p.url for n, p in config.prometheus.items()})
            analysis, metrics, args = canary._analysis_metrics(c, gate)

            def source(m: Metric) -> tuple[Metrics, str]:
                prom = canary._prometheus_for(c, m, analysis.prometheus)
                name = next((n for n, p in wired.metrics.items() if p is prom), analysis.prometheus)
                return prom, f"prometheus {name} ({config.prometheus[name].url})"

            which = f"gate {gate}" if gate is not None and gate in chosen.canary.gates else "canary.analysis"
            print(f"{app}/{env}: {which}, {len(metrics)} metric(s), one measurement each")
            return measure(metrics, args, source)
        finally:
            wired.close()

    return _guarded_cli(lambda: _with_workdir(config, workdir, writes=False, work=work))


def evaluate_stdin(text: str) -> int:
    """`analysis evaluate`: {metric: {...}, measurements: [{value: ...} | {error: ...}]} as YAML or
    JSON; prints the phase, each measurement's phase and the reasons, as JSON."""
    try:
        data = _load(text)
        if not isinstance(data, dict):
            raise ValueError("input must be a mapping with metric and measurements")
        metric = metric_from(dict(data.get("metric") or {}))
        measurements = []
        for raw in data.get("measurements") or []:
            if not isinstance(raw, dict) or not ({"value", "error"} & set(raw)):
                raise ValueError(f'each measurement is {{"value": ...}} or {{"error": "..."}}, not {raw!r}')
            if "error" in raw and raw["error"] is not None:
                measurements.append(Measurement(error=str(raw["error"])))
            else:
                measurements.append(Measurement(value=parse_value(raw.get("value"))))
        verdict = assess_metric(metric, measurements)
    except (ValueError, ExprError) as exc:
        print(json.dumps({"phase": None, "error": str(exc)}))
        return 2
    print(json.dumps({"phase": verdict.phase, "measurements": [a.phase for a in verdict.measurements],
                      "reason": verdict.reason, "reasons": [a.reason for a in verdict.measurements]}))
    return 0


def _load(text: str) -> Any:
    """YAML (JSON is YAML too), safely: plain data, no aliases, no tags."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from gitops_promoter.domain.yamltext import compose_documents
    from gitops_promoter.errors import EditError

    try:
        compose_documents(text, source="<stdin>", aliases=False)
        return YAML(typ="safe", pure=True).load(text)
    except EditError as exc:
        raise ValueError(str(exc)) from None
    except YAMLError as exc:
        raise ValueError(f"<stdin>: not valid YAML or JSON: {exc}") from None
