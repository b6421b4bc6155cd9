"""Canary: move an Argo Rollouts canary forward or back by committing to git only.

Per app × environment with a Rollout, a cluster and a `canary` config, each reconcile:

1. rebuild the release from git trailers (the latest live bump and its gate advances);
2. read the canary steps in git and what the cluster runs (Argo CD's revision, the Rollout);
3. decide (domain.canary) and act:
   * at a gate (`pause: {}`): take the analysis' measurements that are due (the run lives in
     the journal, so it spans reconciles and restarts); once it has a verdict: pass → one commit turns that step into
     `pause: {duration: <gate_duration>}` (`Promoter-Action: advance`, `Promoter-Step`); fail →
     one commit that reverts the release's commits, newest first (`Promoter-Action: revert`);
     inconclusive or error → wait, and say so (a person decides with `promote` / `rollback`);
   * the Rollout aborted on its own, or is Degraded (e.g. its progress deadline passed) on this
     release → revert in git too, so git says what runs again;
   * a gate whose pass a person reverted → wait (a person decides; it is never passed again).

Gates are armed by the bump: the bump commit of every release turns each step the promoter ever
passed (known from `Promoter-Step` trailers) back into `pause: {}` in the same commit (`arming`),
so every release walks every gate, whatever state the previous one left.

Argo CD syncs; the promoter never patches workloads (it only asks Argo CD to refresh).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gitops_promoter.config.schema import AnalysisConfig, AppConfig, CanaryConfig, TargetConfig
from gitops_promoter.domain import analysis_run
from gitops_promoter.domain.analysis import (
    FAILED,
    RUNNING,
    SUCCESSFUL,
    Metric,
    MetricVerdict,
    metrics_from_template,
)
from gitops_promoter.domain.canary import Decision, decide
from gitops_promoter.domain.edits import read_running
from gitops_promoter.domain.history import Commit, Release, current_release, known_gates
from gitops_promoter.domain.plan import render_message
from gitops_promoter.domain.proposal import branch_name
from gitops_promoter.domain.rollout import Step, arm, canary_steps, set_pause, with_unit
from gitops_promoter.domain.templating import render_args
from gitops_promoter.errors import PromoterError
from gitops_promoter.ports import Change, Cluster, CodeHost, Committed, DeployRepo, Edit, Journal, Metrics
from gitops_promoter.workflows import rollback
from gitops_promoter.workflows.outcome import Outcome, guarded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Canary:
    app: AppConfig
    env: str
    target: TargetConfig
    canary: CanaryConfig
    repo: DeployRepo
    cluster: Cluster
    metrics_by_name: Mapping[str, Metrics]
    host: CodeHost | None = None  # for pull-request environments: where to say a gate is undecided
    prometheus_urls: Mapping[str, str] = field(default_factory=dict)  # name → URL of configured Prometheus


def arming(app: AppConfig, target: TargetConfig, history: Sequence[Commit], *,
           repo: str) -> tuple[tuple[int, ...], tuple[tuple[str, Edit], ...]]:
    """The gates a release's bump commit arms, and the edit that arms them (for `Change.also`):
    every step the promoter ever passed in this environment that is still a pause of exactly
    `gate_duration`. So a tag that arrives mid-canary, or after a completed one, is analysed at
    every gate, and no separate re-arm commit is ever needed."""
    if app.canary is None or not target.rollout:
        return (), ()
    gates = known_gates(history, app=app.name, env=target.env)
    if not gates:
        return (), ()
    source, duration = f"{repo}:{target.steps_file}", app.canary.gate_duration
    return gates, ((target.steps_file, lambda text: arm(text, steps=gates, duration=duration, source=source)),)


def drive(c: Canary, *, journal: Journal, clock: Callable[[], float] = time.time, force: str | None = None,
          observe: bool = False) -> Outcome:
    """One app × environment with a canary. `force`: "promote" advances the gate the canary waits
    at without analysis; "rollback" reverts the release — a person's decision, e.g. after an
    inconclusive analysis. `observe` decides and reports but neither measures nor writes (for
    `status`). A gate's analysis is resumable: each call takes the measurements that are due,
    keeps the run in the journal and returns `requeue_after` until the gate has a verdict."""
    return guarded(c.app.name, c.env, lambda: _one(c, force=force, observe=observe, journal=journal, clock=clock))


def _one(c: Canary, *, force: str | None, observe: bool, journal: Journal, clock: Callable[[], float]) -> Outcome:
    name, env = c.app.name, c.env
    history = c.repo.history(app=name)
    release = current_release(history, app=name, env=env)
    if force == "rollback" and not observe:  # a person's decision: needs git only, not the cluster
        if release is None:
            return Outcome(name, env, "unchanged", "nothing to roll back: no release of the promoter's here")
        return _revert(c, release, "rolled back by a person (gitops-promoter rollback)", [])
    source = f"{c.repo.name}:{c.target.steps_file}"
    steps = canary_steps(c.repo.read(c.target.steps_file), source=source)
    synced = False
    if release is not None and c.target.application:
        # Argo CD runs the release once a revision it applied (any source of a multi-source
        # Application) contains the release's commit; the compared revision alone is not enough.
        applied = c.cluster.application(c.target.application).applied
        synced = any(c.repo.contains(release.bump, revision) for revision in applied)
    elif release is not None:
        synced = True  # no Application to ask: trust the Rollout's image
    view = c.cluster.rollout(str(c.target.rollout))
    running = read_running(c.repo.read(c.target.file), c.target.edit, source=f"{c.repo.name}:{c.target.file}")
    decision = decide(release=release, steps=steps, synced=synced, rollout=view, git_tag=running.tag)
    tag = release.tag if release else None
    if observe:
        progress = ""
        if decision.action == "analyse" and release is not None:
            run = journal.load_analysis(_gate_key(c, release, decision.step))
            taken = sum(len(ms) for ms in run.taken.values()) if run is not None else 0
            progress = f" ({taken} measurement(s) taken so far)" if run is not None else " (not started)"
        progress += _no_gate_note(c, steps, history)
        return Outcome(name, env, "live", f"canary: {decision.action}: {decision.reason}{progress}", from_tag=tag)
    if decision.step is not None and force == "promote" and steps[decision.step].is_gate:
        assert release is not None
        _forget(journal, _gate_key(c, release, decision.step))  # a person decided: no analysis to resume
        return _advance(c, release, decision, "advanced by a person (gitops-promoter promote)", [])
    if force == "promote":
        return Outcome(name, env, "unchanged", f"nothing to promote: {decision.reason}", from_tag=tag)
    if decision.action == "analyse":
        assert release is not None and decision.step is not None
        return _gate(c, release, decision, journal=journal, clock=clock)
    if decision.action == "revert":
        return _revert(c, release, decision.reason, [])
    status = "waiting" if decision.action == "wait" else "unchanged"
    return Outcome(name, env, status, decision.reason, from_tag=tag, to_tag=tag)  # type: ignore[arg-type]


def _no_gate_note(c: Canary, steps: Sequence[Step], history: Sequence[Commit]) -> str:
    """For `status`: a canary with no gate — no `pause: {}` step, and no step the promoter passed
    (which the next bump arms again) — has nothing to analyse; say so, with its timed pauses."""
    passed = set(known_gates(history, app=c.app.name, env=c.env))
    if any(s.is_gate or (s.index in passed and s.duration == c.canary.gate_duration) for s in steps):
        return ""
    timed = ", ".join(f"step {s.index} {with_unit(s.duration)}" for s in steps if s.kind == "pause" and s.duration)
    return (f"; nothing to analyse: {c.target.steps_file} has no pause: {{}} step (a gate)"
            + (f"; timed pauses: {timed}" if timed else ""))


def _gate(c: Canary, release: Release, decision: Decision, *, journal: Journal,
          clock: Callable[[], float]) -> Outcome:
    """Take the measurements that are due; act once the gate has a verdict, else say when next."""
    name, env, tag = c.app.name, c.env, release.tag
    analysis, metrics, args = _analysis_metrics(c, decision.step)
    sources = {m.name: _prometheus_for(c, m, analysis.prometheus) for m in metrics}
    key = _gate_key(c, release, decision.step)
    fp = analysis_run.fingerprint(metrics, args)
    run = journal.load_analysis(key)
    if run is None or run.fingerprint != fp:
        why = "its metrics changed" if run is not None else "no run of it is in the journal"
        log.info("%s/%s: starting the analysis of gate %s with %d metric(s) (%s)", name, env, decision.step,
                 len(metrics), why, extra={"app": name, "env": env, "tag": tag, "action": "analyse"})
        run = analysis_run.start(metrics, key=key, fingerprint=fp, now=clock())
    run = analysis_run.rebase(run, metrics, now=clock())
    queries = {m.name: render_args(m.query, args) for m in metrics}
    for metric in analysis_run.due_now(run, clock()):
        run = analysis_run.record(run, metrics, metric, sources[metric].query(queries[metric]), now=clock())
    journal.save_analysis(run)
    phase = analysis_run.phase(run, metrics)
    verdicts = analysis_run.verdicts(run, metrics)
    summary = "; ".join(v.describe() for v in verdicts)
    if phase == RUNNING:
        due = analysis_run.next_due(run)
        wait = max(0.0, (due if due is not None else clock()) - clock())
        return Outcome(name, env, "analysing", f"gate {decision.step}: {summary}", from_tag=tag, to_tag=tag,
                       requeue_after=wait)
    if phase == SUCCESSFUL:
        out = _advance(c, release, decision, f"analysis passed at gate {decision.step}", verdicts)
    elif phase == FAILED:
        failed = ", ".join(v.metric for v in verdicts if v.phase == FAILED and not v.dry_run)
        out = _revert(c, release, f"canary analysis failed at gate {decision.step} ({failed})", verdicts)
    else:
        text = (f"gate {decision.step}: {phase}: {summary}; decide with `gitops-promoter promote {name} {env}` "
                f"or `gitops-promoter rollback {name} {env}`")
        _tell_the_pr(c, tag, decision.step, text)
        return Outcome(name, env, "inconclusive", text, from_tag=tag, to_tag=tag)
    _forget(journal, key)  # acted on: the commit is the record now
    return out


def _prometheus_for(c: Canary, metric: Metric, default: str) -> Metrics:
    """The metric's Prometheus: the gate's, or the configured one whose URL its
    `provider.prometheus.address` names. An address the config does not name is refused: a file in
    the deployment repository never makes the promoter contact a server O&M did not configure."""
    name = default
    if metric.address:
        wanted = metric.address.rstrip("/")
        found = [n for n, url in c.prometheus_urls.items() if url.rstrip("/") == wanted]
        if not found:
            raise PromoterError(f"{c.app.name}: metric {metric.name} asks for Prometheus {metric.address}, which is "
                                "not in the config's prometheus list; add it there (name and url)")
        name = found[0]
    prometheus = c.metrics_by_name.get(name)
    if prometheus is None:
        raise PromoterError(f"{c.app.name}: prometheus {name} cannot be used")
    return prometheus


def _gate_key(c: Canary, release: Release, step: int | None) -> str:
    return f"{c.app.name}/{c.env}/{release.bump}/gate-{step}"


def _forget(journal: Journal, key: str) -> None:
    """Drop a gate's analysis run; a journal that cannot do it now changes nothing decided."""
    try:
        journal.drop_analysis(key)
    except PromoterError as exc:
        log.warning("journal: could not drop %s: %s", key, exc)


def _tell_the_pr(c: Canary, tag: str | None, step: int | None, text: str) -> None:
    """In a pull-request environment, say it once on the PR that brought the release."""
    if c.host is None or tag is None:
        return
    try:
        merged = [p for p in c.host.pulls(head_branch=branch_name(c.env, c.app.name), state="closed") if p.merged]
        if not merged:
            return
        number = max(p.number for p in merged)
        mark = f"<!-- gitops-promoter undecided {tag} gate {step} -->"
        if not any(mark in body for body in c.host.comments(number)):
            c.host.comment(number, f"The canary of {tag} in {c.env} is undecided at {text}\n\n{mark}")
    except PromoterError as exc:  # saying so is best effort; status and logs say it too
        log.warning("%s/%s: could not comment on the pull request: %s", c.app.name, c.env, exc)


def _analysis_metrics(c: Canary, step: int | None) -> tuple[AnalysisConfig, list[Metric], dict[str, str]]:
    analysis = c.canary.gates.get(step, c.canary.analysis) if step is not None else c.canary.analysis
    if analysis is None:
        raise PromoterError(f"{c.app.name}: canary.analysis is not configured; a gate never passes without one")
    if analysis.template:
        path = analysis.template.replace("{env}", c.env)
        try:
            metrics, defaults = metrics_from_template(c.repo.read(path), source=f"{c.repo.name}:{path}",
                                                      gate_window=c.canary.gate_window)
        except ValueError as exc:
            raise PromoterError(str(exc)) from None
        return analysis, metrics, {**defaults, **analysis.args}
    return analysis, list(analysis.metrics), dict(analysis.args)


def _message(subject: str, body: list[str], *, app: str, env: str, action: str, tag: str,
             extra: Mapping[str, str] | None = None) -> str:
    return render_message(subject, body, {"Promoter-App": app, "Promoter-Env": env, "Promoter-Action": action,
                                          "Promoter-Tag": tag, **(extra or {})})


def _refresh(c: Canary) -> None:
    if c.target.application:
        try:
            c.cluster.refresh(c.target.application)
        except PromoterError as exc:  # Argo CD will still sync on its own poll
            log.warning("%s/%s: could not ask Argo CD to refresh: %s", c.app.name, c.env, exc)


def _advance(c: Canary, release: Release | None, decision: Decision, why: str,
             verdicts: list[MetricVerdict]) -> Outcome:
    assert release is not None and decision.step is not None
    step, gate = decision.step, c.canary.gate_duration
    source = f"{c.repo.name}:{c.target.steps_file}"
    body = [f"{why[0].upper()}{why[1:]}: step {step} becomes pause: {{duration: {gate}}}."]
    for v in verdicts:
        body.append(v.describe())
        body += [f"  - {a.phase}: {a.reason}" for a in v.measurements]
    message = _message(f"advance({c.env}): {c.app.name} {release.tag} gate {step}", body, app=c.app.name,
                       env=c.env, action="advance", tag=release.tag, extra={"Promoter-Step": str(step)})
    change = Change(c.target.steps_file, lambda t: set_pause(t, step=step, duration=gate, source=source), message)
    result = c.repo.commit(change)
    _refresh(c)
    sha = result.sha if isinstance(result, Committed) else None
    return Outcome(c.app.name, c.env, "advanced", f"gate {step}: {why}", from_tag=release.tag, to_tag=release.tag,
                   sha=sha)


def _revert(c: Canary, release: Release | None, why: str, verdicts: list[MetricVerdict]) -> Outcome:
    """Revert the release (gate advances, then the bump) with one commit; where the branch refuses
    the push, the same commit in a revert pull request (workflows.rollback)."""
    assert release is not None
    details: list[str] = []
    for v in verdicts:
        details.append(v.describe())
        details += [f"  - {a.phase}: {a.reason}" for a in v.measurements]
    r = rollback.Rollback(c.app.name, c.env, c.repo, c.host)
    out = rollback.revert_release(r, release, why=why, details=details)
    if out.status == "reverted":
        _refresh(c)
    return out
