"""The status page (`GET /` on `server.listen`): per app × environment what runs, what is moving
and why — server-rendered HTML, no script, no build step, refreshed by the browser every 10 s.

Three parts:

* the snapshot (`Snapshot` → `AppStatus` → `EnvStatus`): small frozen dataclasses;
* pure builders (`environment`, `canary_state`, `gate_analysis`, `web_url`) that make it from what
  a reconcile saw: its outcomes, the repository's history (trailers and reverts), the Rollout's
  steps in git and its status in the cluster, the gate's analysis run in the journal;
* `render(snapshot)`: the page. Everything shown is escaped — tags, commit subjects, outcome
  details and metric names come from registries, people and repositories.

`Keeper` is the one stateful piece, used by the service: taps on the reconcile's ports remember
what the reconcile read (history, the steps and template files, the Rollout's status), so the
page costs no git or cluster call of its own — only one history read after a pass that wrote,
and a few journal reads. After each reconcile it rebuilds that app's section; a request joins
the cached sections and never waits for a reconcile.
"""

from __future__ import annotations

import html
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote, urlsplit

from gitops_promoter.config.schema import AppConfig, Config, GitHubConfig, TargetConfig
from gitops_promoter.domain import analysis_run
from gitops_promoter.domain.analysis import (
    Measurement,
    Metric,
    assess_measurement,
    assess_metric,
    metrics_from_template,
)
from gitops_promoter.domain.analysis_run import AnalysisRun
from gitops_promoter.domain.canary import RolloutView
from gitops_promoter.domain.history import Commit, current_release, moved_back_by_hand, rejected_tags
from gitops_promoter.domain.policy import Policy
from gitops_promoter.domain.rollout import canary_steps
from gitops_promoter.domain.yamltext import MappingNode, ScalarNode, compose_documents, get, get_path, items
from gitops_promoter.errors import EditError, PromoterError
from gitops_promoter.ports import Cluster, DeployRepo, Journal, Recorded
from gitops_promoter.workflows.outcome import Outcome

log = logging.getLogger(__name__)

REFRESH = 10  # seconds between the browser's reloads
ACTIONS_SHOWN = 8  # recent actions per environment
OPEN_PR = frozenset({"proposed", "updated", "waiting", "rebuilt"})


# --- the snapshot ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """One measurement of a metric: its number (None for an error, no result or NaN) and phase."""

    value: float | None
    phase: str  # Successful | Failed | Inconclusive | Error | Unknown (the metric is not known here)
    reason: str
    at: float | None = None


@dataclass(frozen=True)
class Chart:
    metric: str
    phase: str
    reason: str
    points: tuple[Point, ...]
    dry_run: bool = False


@dataclass(frozen=True)
class GateAnalysis:
    step: int
    phase: str
    started: float
    charts: tuple[Chart, ...]


@dataclass(frozen=True)
class CanaryState:
    step: int | None  # the Rollout's currentStepIndex
    steps: int  # how many steps its canary has in git
    weight: int | None  # percent of traffic on the canary (Argo Rollouts' GetCurrentSetWeight)
    phase: str | None  # the Rollout's phase: Progressing | Paused | Healthy | Degraded
    at_gate: bool  # it waits at a pause: {} step
    message: str = ""
    gate: GateAnalysis | None = None


@dataclass(frozen=True)
class Action:
    sha: str
    kind: str  # bump | merge | advance | revert | reverted by a person
    subject: str
    tag: str | None = None
    pr: int | None = None
    at: float | None = None


@dataclass(frozen=True)
class Rejection:
    tag: str
    why: str
    lift: str


@dataclass(frozen=True)
class Line:
    """What the last pass said for one stage (write-back or canary)."""

    stage: str
    status: str
    detail: str
    pr: int | None = None
    sha: str | None = None


@dataclass(frozen=True)
class EnvStatus:
    app: str
    env: str
    mode: str  # direct | pull-request
    live: str | None
    digest: str | None = None  # from the release's Promoter-Digest, when the live tag is the promoter's
    release: str | None = None  # the live release's bump commit
    rollback: str | None = None  # the git command that rolls the live release back
    lines: tuple[Line, ...] = ()
    pull: Line | None = None  # the open pull request's line
    canary: CanaryState | None = None
    rejected: tuple[Rejection, ...] = ()
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class AppStatus:
    name: str
    image: str
    repository: str
    web: str | None  # the repository's web address (GitHub, GHE), for commit and PR links
    envs: tuple[EnvStatus, ...]
    at: float  # when its last reconcile ended (epoch seconds)


@dataclass(frozen=True)
class Snapshot:
    apps: tuple[AppStatus, ...]
    at: float
    state: str = "single"  # single | leader | standby | unknown


# --- building it (pure) -------------------------------------------------------------------------

def web_url(github: GitHubConfig | None) -> str | None:
    """The repository's web address from its github section: github.com for api.github.com, the
    host (without /api/v3) for GitHub Enterprise Server; None without a github section."""
    if github is None:
        return None
    api = urlsplit(github.api_url.strip())
    if api.scheme not in ("http", "https") or not api.netloc:
        return None
    if api.netloc.lower() == "api.github.com":
        base = "https://github.com"
    else:
        path = api.path.rstrip("/")
        if path.endswith("/api/v3"):
            path = path[: -len("/api/v3")]
        base = f"{api.scheme}://{api.netloc}{path}"
    return f"{base}/{quote(github.repo.strip('/'), safe='/')}"


def commit_url(web: str | None, sha: str) -> str | None:
    return f"{web}/commit/{quote(sha, safe='')}" if web else None


def pull_url(web: str | None, number: int) -> str | None:
    return f"{web}/pull/{int(number)}" if web else None


def short_digest(digest: str) -> str:
    """`sha256:4b9f0c1d2e3f` — the algorithm and the first 12 hex digits."""
    algo, sep, hexa = digest.partition(":")
    return f"{algo}:{hexa[:12]}" if sep else digest[:12]


def gate_key(app: str, env: str, bump: str, step: int) -> str:
    """The journal key of a gate's analysis run (as workflows/canary.py writes it)."""
    return f"{app}/{env}/{bump}/gate-{step}"


def set_weights(text: str, *, source: str = "<input>") -> list[int | None]:
    """Each canary step's `setWeight` (None for other steps); [] when the file has no Rollout."""
    try:
        docs = compose_documents(text, source=source)
    except EditError:
        return []
    for doc in docs:
        if isinstance(doc, MappingNode) and getattr(get(doc, "kind"), "value", None) == "Rollout":
            out: list[int | None] = []
            for step in items(get_path(doc, ("spec", "strategy", "canary", "steps"))):
                weight = get(step, "setWeight")
                value = weight.value if isinstance(weight, ScalarNode) else None
                # A weight is 0-100 in ASCII digits: `²` or 5,000 digits are no weight (int() would refuse).
                ok = value is not None and value.isascii() and value.isdigit() and len(value) <= 3
                out.append(int(value) if ok and value is not None else None)
            return out
    return []


def current_weight(weights: Sequence[int | None], view: RolloutView) -> int:
    """Argo Rollouts' GetCurrentSetWeight: 0 once aborted; 100 past the last step (or without
    steps); else the nearest setWeight at or before the current step, 0 when there is none."""
    if view.aborted:
        return 0
    index = view.step_index or 0
    if index >= len(weights):
        return 100
    return next((w for w in reversed(weights[: index + 1]) if w is not None), 0)


def canary_state(steps_text: str | None, view: RolloutView | None, *, gate: GateAnalysis | None = None,
                 source: str = "<input>") -> CanaryState | None:
    """Where the canary is: its step of how many, the weight there, its phase; None when the
    Rollout was not seen yet."""
    if view is None:
        return None
    try:
        steps = canary_steps(steps_text, source=source) if steps_text else []
    except EditError:
        steps = []
    weights = set_weights(steps_text, source=source) if steps_text else []
    index = view.step_index
    at_gate = index is not None and 0 <= index < len(steps) and steps[index].is_gate and view.paused_at_step
    return CanaryState(step=index, steps=len(steps), weight=current_weight(weights, view) if steps else None,
                       phase=view.phase, at_gate=at_gate, message=view.message, gate=gate)


def gate_step(steps_text: str | None, view: RolloutView | None, *, source: str = "<input>") -> int | None:
    """The step the Rollout stands at when it is a gate (`pause: {}`), else None."""
    if not steps_text or view is None or view.step_index is None:
        return None
    try:
        steps = canary_steps(steps_text, source=source)
    except EditError:
        return None
    index = view.step_index
    return index if 0 <= index < len(steps) and steps[index].is_gate else None


def _number(value: Any) -> float | None:
    """A measurement's number: the value, or the first element of a vector; None when not finite."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def gate_analysis(run: AnalysisRun, metrics: Sequence[Metric], *, step: int) -> GateAnalysis:
    """The run's measurements per metric, each with the phase its metric's conditions give it.
    A metric the run has but `metrics` does not (its template was not read yet) shows values only."""
    known = {m.name: m for m in metrics}
    charts = []
    for name, taken in run.taken.items():
        metric = known.get(name)
        times = run.times.get(name, ())
        points = []
        for i, m in enumerate(taken):
            at = times[i] if i < len(times) else None
            if metric is not None:
                a = assess_measurement(metric, m)
                points.append(Point(_number(m.value) if m.error is None else None, a.phase, a.reason, at))
            else:
                points.append(_unassessed(m, at))
        if metric is not None:
            v = assess_metric(metric, taken)
            charts.append(Chart(name, v.phase, v.reason, tuple(points), dry_run=metric.dry_run))
        else:
            charts.append(Chart(name, "Unknown", "its conditions are not known here", tuple(points)))
    if all(name in known for name in run.taken) and metrics:
        phase = analysis_run.phase(run, [known[n] for n in run.taken])
    else:
        phase = "Unknown"
    return GateAnalysis(step=step, phase=phase, started=run.started, charts=tuple(charts))


def _unassessed(m: Measurement, at: float | None) -> Point:
    if m.error is not None:
        return Point(None, "Error", m.error, at)
    return Point(_number(m.value), "Unknown", "", at)


def _live(outcomes: Sequence[Outcome]) -> str | None:
    """What the environment's file names now, as the write-back saw it."""
    write = next((o for o in outcomes if o.stage == "write-back" and o.status != "error"), None)
    if write is None:
        return None
    if write.status in ("bumped", "merged"):
        return write.to_tag
    return write.from_tag


def _trailers_of(c: Commit, app: str, env: str) -> dict[str, str] | None:
    t = c.trailers
    return t if t.get("Promoter-App") == app and t.get("Promoter-Env") == env else None


def _same(short: str, sha: str) -> bool:
    return sha.startswith(short) or short.startswith(sha)


def actions(history: Sequence[Commit], *, app: str, env: str, mode: str,
            recorded: Sequence[Recorded] = (), limit: int = ACTIONS_SHOWN) -> tuple[Action, ...]:
    """The environment's recent commits, newest first: the promoter's bumps (merges, in a
    pull-request environment), gate advances and reverts, and a person's reverts of them. The
    journal's rows add the pull request number and the time, where it has them."""
    by_sha = {r.sha: r for r in recorded if r.sha}
    mine = [c.sha for c in history if _trailers_of(c, app, env) is not None]
    out: list[Action] = []
    for c in history:
        row = by_sha.get(c.sha)
        pr, at = (row.pr, row.at) if row is not None else (None, None)
        t = _trailers_of(c, app, env)
        if t is not None:
            kind = t.get("Promoter-Action", "")
            if kind == "bump" and mode == "pull-request":
                kind = "merge"
            elif kind == "advance" and t.get("Promoter-Step"):
                kind = f"advance gate {t['Promoter-Step']}"
            # A merge commit (merge_method: merge) repeats the message of the promoter's commit it
            # merged, which is in the history too: one action.
            same = out and (out[-1].kind, out[-1].tag, out[-1].subject) == (kind, t.get("Promoter-Tag"), c.subject)
            if kind and not same:
                out.append(Action(c.sha, kind, c.subject, t.get("Promoter-Tag"), pr, at))
        elif any(_same(short, sha) for short in c.reverts for sha in mine):
            out.append(Action(c.sha, "reverted by a person", c.subject, None, pr, at))
        if len(out) >= limit:
            break
    return tuple(out)


def lift_command(app: str, env: str, tag: str) -> str:
    """How a person lets a rejected tag be promoted there again."""
    return f"gitops-promoter allow {app} {env} {tag}"


def rejections(history: Sequence[Commit], *, app: str, env: str, live: str | None,
               policy: Policy) -> tuple[Rejection, ...]:
    """Tags never promoted here again, why (from git), and how to lift each."""
    found = rejected_tags(history, app=app, env=env)
    for tag, why in moved_back_by_hand(history, app=app, env=env, running_tag=live, policy=policy).items():
        found.setdefault(tag, why)
    return tuple(Rejection(tag, why, lift_command(app, env, tag)) for tag, why in found.items())


def environment(*, app: str, env: str, mode: str, outcomes: Sequence[Outcome], history: Sequence[Commit] | None,
                policy: Policy, canary: CanaryState | None = None, recorded: Sequence[Recorded] = (),
                previous: EnvStatus | None = None) -> EnvStatus:
    """One app × environment after a pass. What the pass did not look at (a parked stage, a
    history not read yet) is kept from `previous`."""
    live = _live(outcomes) or (previous.live if previous else None) or \
        next((o.from_tag for o in outcomes if o.from_tag), None)
    lines = tuple(Line(o.stage, o.status, o.detail, o.pr, o.sha) for o in outcomes)
    write = next((o for o in outcomes if o.stage == "write-back" and o.status != "error"), None)
    if write is None:  # not looked at this pass (parked, or a fault): what was seen last stands
        pull = previous.pull if previous is not None else None
    else:
        pull = Line(write.stage, write.status, write.detail, write.pr, write.sha) \
            if write.pr is not None and write.status in OPEN_PR else None
    if not lines and previous is not None:
        lines = previous.lines
    if history is None:
        if previous is None:
            return EnvStatus(app, env, mode, live, lines=lines, pull=pull, canary=canary)
        return EnvStatus(app, env, mode, live, previous.digest, previous.release, previous.rollback, lines, pull,
                         canary or previous.canary, previous.rejected, previous.actions)
    release = current_release(history, app=app, env=env)
    ours = release is not None and release.tag == live
    return EnvStatus(
        app, env, mode, live,
        digest=release.digest if ours and release is not None else None,
        release=release.bump if ours and release is not None else None,
        rollback=("git revert --no-edit " + " ".join(sha[:12] for sha in release.commits))
        if ours and release is not None else None,
        lines=lines, pull=pull, canary=canary,
        rejected=rejections(history, app=app, env=env, live=live, policy=policy),
        actions=actions(history, app=app, env=env, mode=mode, recorded=recorded))


# --- rendering (pure) ---------------------------------------------------------------------------

def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S") if epoch is not None else ""


def _link(url: str | None, text: str, *, cls: str = "") -> str:
    klass = f' class="{_e(cls)}"' if cls else ""
    if url is None:
        return f"<span{klass}>{_e(text)}</span>"
    return f'<a{klass} href="{_e(url)}" rel="noreferrer noopener">{_e(text)}</a>'


_PHASE_CLASS = {"Successful": "ok", "Failed": "fail", "Inconclusive": "inc", "Error": "err", "Running": "run"}


def _phase(phase: str) -> str:
    return f'<span class="phase {_PHASE_CLASS.get(phase, "unknown")}">{_e(phase)}</span>'


def _num(value: float) -> str:
    return f"{value:.4g}"


SPARK_W, SPARK_H, SPARK_PAD = 240, 44, 5


def sparkline(chart: Chart) -> str:
    """An inline SVG: one circle per measurement, coloured by its phase (a measurement without a
    number sits on the bottom edge), a line through the numbers; each point's tooltip says it."""
    points = chart.points
    n = len(points)
    numbers = [p.value for p in points if p.value is not None]
    lo, hi = (min(numbers), max(numbers)) if numbers else (0.0, 1.0)
    inner_w, inner_h = SPARK_W - 2 * SPARK_PAD, SPARK_H - 2 * SPARK_PAD

    def x(i: int) -> float:
        return SPARK_PAD + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float | None) -> float:
        if v is None:
            return SPARK_H - SPARK_PAD
        if hi == lo:
            return SPARK_H / 2
        return SPARK_H - SPARK_PAD - (v - lo) / (hi - lo) * inner_h

    line = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points) if p.value is not None)
    last = next((p for p in reversed(points)), None)
    label = f"{chart.metric}: {n} measurement(s)" + \
        (f", last {_num(last.value)}" if last is not None and last.value is not None else "")
    parts = [f'<svg class="spark" width="{SPARK_W}" height="{SPARK_H}" viewBox="0 0 {SPARK_W} {SPARK_H}" '
             f'role="img" aria-label="{_e(label)}">']
    if line:
        parts.append(f'<polyline class="trend" points="{line}"/>')
    for i, p in enumerate(points):
        shown = _num(p.value) if p.value is not None else "no number"
        tip = f"#{i + 1} {_clock(p.at)} {shown}: {p.phase}" + (f" ({p.reason})" if p.reason else "")
        parts.append(f'<circle class="pt {_PHASE_CLASS.get(p.phase, "unknown")}" cx="{x(i):.1f}" '
                     f'cy="{y(p.value):.1f}" r="3"><title>{_e(tip.strip())}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _gate(gate: GateAnalysis) -> str:
    out = [f'<div class="gate"><div class="gate-line">gate {gate.step}: analysis {_phase(gate.phase)} '
           f'<span class="muted">since {_e(_clock(gate.started))} UTC</span></div>']
    for chart in gate.charts:
        numbers = [p.value for p in chart.points if p.value is not None]
        scale = f"min {_num(min(numbers))} · max {_num(max(numbers))}" if numbers else "no number yet"
        dry = " (dryRun, not deciding)" if chart.dry_run else ""
        out.append(f'<div class="metric"><div><b>{_e(chart.metric)}</b>{_e(dry)}: {_phase(chart.phase)} '
                   f'<span class="muted">{_e(chart.reason)}; {len(chart.points)} measurement(s); {_e(scale)}'
                   f'</span></div>{sparkline(chart)}</div>')
    out.append("</div>")
    return "".join(out)


def _canary(c: CanaryState) -> str:
    where = f"step {c.step} of {c.steps}" if c.step is not None else "no step yet"
    weight = f" · weight {c.weight}%" if c.weight is not None else ""
    gate = " · waiting at a gate" if c.at_gate else ""
    message = f' <span class="muted">{_e(c.message)}</span>' if c.message else ""
    return f'<span class="canary">{_e(where)}{_e(weight)} · {_e(c.phase or "unknown")}{_e(gate)}</span>{message}'


def _pull(line: Line, web: str | None) -> str:
    assert line.pr is not None
    return (f'{_link(pull_url(web, line.pr), f"#{line.pr}", cls="pr")} <span class="status">{_e(line.status)}'
            f'</span>: {_e(line.detail)}')


def _env(s: EnvStatus, web: str | None) -> str:
    rows = []
    live = f'<code class="tag">{_e(s.live or "(none)")}</code>'
    if s.digest:
        live += f' <code class="digest" title="{_e(s.digest)}">{_e(short_digest(s.digest))}</code>'
    if s.release:
        live += f' <span class="muted">release</span> {_link(commit_url(web, s.release), s.release[:10], cls="sha")}'
    elif s.live:
        live += ' <span class="muted">(not a release of the promoter\'s)</span>'
    rows.append(("Live", live))
    if s.pull is not None:
        rows.append(("Pull request", _pull(s.pull, web)))
    if s.canary is not None:
        rows.append(("Canary", _canary(s.canary)))
        if s.canary.gate is not None:
            rows.append(("Gate", _gate(s.canary.gate)))
    if s.lines:
        items_ = "".join(
            f'<li><span class="stage">{_e(line.stage or "pass")}</span> <span class="status">{_e(line.status)}'
            f'</span>: {_e(line.detail)}'
            + (f' {_link(commit_url(web, line.sha), line.sha[:10], cls="sha")}' if line.sha else "") + "</li>"
            for line in s.lines)
        rows.append(("Last pass", f'<ul class="lines">{items_}</ul>'))
    if s.rollback:
        rows.append(("Roll back", f"<code>{_e(s.rollback)}</code>"))
    body = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    out = [f'<article class="env" id="{_e(s.app)}-{_e(s.env)}"><h3>{_e(s.env)} <span class="mode">{_e(s.mode)}'
           f'</span></h3><dl>{body}</dl>']
    if s.rejected:
        trs = "".join(f'<tr class="rejected"><td><code class="tag">{_e(r.tag)}</code></td><td>{_e(r.why)}</td>'
                      f'<td><code>{_e(r.lift)}</code> <span class="muted">(a newer tag still moves on)</span>'
                      "</td></tr>" for r in s.rejected)
        out.append('<h4>Rejected tags</h4><table class="rejections"><thead><tr><th>tag</th><th>why</th>'
                   f"<th>to lift it</th></tr></thead><tbody>{trs}</tbody></table>")
    if s.actions:
        lis = "".join(
            f'<li>{_link(commit_url(web, a.sha), a.sha[:10], cls="sha")} <span class="kind">{_e(a.kind)}</span>'
            + (f' <code class="tag">{_e(a.tag)}</code>' if a.tag else "")
            + (f" {_link(pull_url(web, a.pr), f'#{a.pr}', cls='pr')}" if a.pr is not None else "")
            + f' <span class="muted">{_e(a.subject)}</span>'
            + (f' <span class="muted">{_e(_when(a.at))}</span>' if a.at is not None else "") + "</li>"
            for a in s.actions)
        out.append(f'<h4>Recent actions</h4><ol class="actions">{lis}</ol>')
    out.append("</article>")
    return "".join(out)


def app_section(app: AppStatus) -> str:
    """One app's section of the page (the service caches it between reconciles)."""
    envs = "".join(_env(s, app.web) for s in app.envs)
    return (f'<section class="app" id="app-{_e(app.name)}"><h2>{_e(app.name)} <span class="image">{_e(app.image)}'
            f'</span> <span class="muted">repository {_e(app.repository)} · last pass {_e(_clock(app.at))} UTC'
            f'</span></h2><div class="envs">{envs}</div></section>')


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f8fa;color:#1f2328}
header{background:#24292f;color:#fff;padding:10px 20px}header h1{font-size:18px;margin:0}
header p{margin:2px 0 0;color:#d0d7de;font-size:12px}main{padding:12px 20px}
.app{margin-bottom:18px}.app h2{font-size:17px;margin:6px 0}.image{font:12px ui-monospace,monospace;color:#57606a}
.envs{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.env{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px}
.env h3{margin:0 0 6px;font-size:16px}.mode{font-size:11px;font-weight:normal;background:#ddf4ff;color:#0969da;
border-radius:10px;padding:1px 7px}
dl{display:grid;grid-template-columns:110px 1fr;gap:4px 10px;margin:0}dt{color:#57606a}dd{margin:0}
code{font:12px ui-monospace,SFMono-Regular,monospace;background:#eff1f3;border-radius:4px;padding:1px 4px}
code.tag{font-weight:600}.muted{color:#57606a;font-size:12px}a{color:#0969da}
ul.lines{margin:0;padding-left:16px}.stage{color:#57606a}.status{font-weight:600}
.phase{font-weight:600;border-radius:4px;padding:0 4px}.phase.ok{color:#1a7f37}.phase.fail{color:#cf222e}
.phase.inc{color:#9a6700}.phase.err{color:#6e7781}.phase.run{color:#0969da}
.metric{margin:4px 0}.spark{background:#f6f8fa;border:1px solid #eaeef2;border-radius:4px;display:block}
.trend{fill:none;stroke:#8c959f;stroke-width:1.2}.pt{stroke:#fff;stroke-width:.8}
.pt.ok{fill:#1a7f37}.pt.fail{fill:#cf222e}.pt.inc{fill:#bf8700}.pt.err,.pt.unknown{fill:#6e7781}.pt.run{fill:#0969da}
h4{margin:10px 0 4px;font-size:13px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;border-top:1px solid #eaeef2;padding:3px 6px;vertical-align:top;font-size:13px}
ol.actions{margin:0;padding-left:20px}.kind{font-weight:600}
.empty{background:#fff;border:1px dashed #d0d7de;border-radius:6px;padding:14px}
"""


def page(sections: Sequence[str], *, at: float, state: str, waiting: Sequence[str] = ()) -> str:
    """The whole page around the apps' sections. `waiting`: apps with no finished pass yet."""
    body = "".join(sections)
    if waiting:
        body += (f'<p class="empty">No pass has finished yet for {_e(", ".join(waiting))}'
                 + (" (this replica is standby: the leader's page shows the state)" if state == "standby" else "")
                 + ".</p>")
    return ("<!doctype html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="{REFRESH}">'
            '<meta name="referrer" content="no-referrer">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>gitops-promoter status</title><style>{STYLE}</style></head><body>"
            f"<header><h1>gitops-promoter</h1><p>as of {_e(_when(at))} · {_e(state)} · "
            f"this page reloads every {REFRESH} s</p></header><main>{body}</main></body></html>\n")


def render(snapshot: Snapshot, *, waiting: Sequence[str] = ()) -> str:
    return page([app_section(a) for a in snapshot.apps], at=snapshot.at, state=snapshot.state, waiting=waiting)


# --- keeping it between reconciles (the service) ------------------------------------------------

class _RepoTap:
    """A DeployRepo that tells the keeper what the reconcile read through it."""

    def __init__(self, target: DeployRepo, name: str, keeper: Keeper) -> None:
        self._target, self._name, self._keeper = target, name, keeper

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def history(self, *, app: str, limit: int = 500) -> list[Commit]:
        found = self._target.history(app=app, limit=limit)
        self._keeper.saw_history(self._name, app, found)
        return found

    def read(self, path: str) -> str:
        text = self._target.read(path)
        self._keeper.saw_text(self._name, path, text)
        return text


class _ClusterTap:
    def __init__(self, target: Cluster, name: str, keeper: Keeper) -> None:
        self._target, self._name, self._keeper = target, name, keeper

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def rollout(self, ref: str) -> RolloutView:
        view = self._target.rollout(ref)
        self._keeper.saw_rollout(self._name, ref, view)
        return view


class Keeper:
    """The page between reconciles. `tap_repo` / `tap_cluster` wrap the service's ports; `after`
    runs at the end of each reconcile (it never raises); `html` answers a request from the cache."""

    def __init__(self, config: Config, *, journal: Journal, clock: Callable[[], float] = time.time) -> None:
        self.config, self.journal, self.clock = config, journal, clock
        self._lock = threading.Lock()
        self._history: dict[tuple[str, str], list[Commit]] = {}  # (repository, app) → newest history seen
        self._texts: dict[tuple[str, str], str] = {}  # (repository, path) → text, for the files the page reads
        self._views: dict[tuple[str, str], RolloutView] = {}  # (cluster, rollout ref) → status seen
        self._apps: dict[str, AppStatus] = {}
        self._sections: dict[str, str] = {}
        self._wanted = self._files_wanted(config)

    @staticmethod
    def _files_wanted(config: Config) -> set[tuple[str, str]]:
        """The files whose text the page uses: canary steps and analysis templates."""
        out: set[tuple[str, str]] = set()
        for app in config.apps:
            if app.canary is None:
                continue
            analyses = [a for a in (app.canary.analysis, *app.canary.gates.values()) if a is not None]
            for env, target in app.targets.items():
                if target.rollout:
                    out.add((app.repository, target.steps_file))
                out.update((app.repository, a.template.replace("{env}", env)) for a in analyses if a.template)
        return out

    # taps
    def tap_repo(self, name: str, repo: DeployRepo) -> DeployRepo:
        return cast(DeployRepo, _RepoTap(repo, name, self))

    def tap_cluster(self, name: str, cluster: Cluster) -> Cluster:
        return cast(Cluster, _ClusterTap(cluster, name, self))

    def saw_history(self, repository: str, app: str, history: list[Commit]) -> None:
        with self._lock:
            self._history[(repository, app)] = history

    def saw_text(self, repository: str, path: str, text: str) -> None:
        if (repository, path) in self._wanted:
            with self._lock:
                self._texts[(repository, path)] = text

    def saw_rollout(self, cluster: str, ref: str, view: RolloutView) -> None:
        with self._lock:
            self._views[(cluster, ref)] = view

    # after a reconcile
    def after(self, app: AppConfig, outcomes: Sequence[Outcome], *, repo: DeployRepo) -> None:
        """Rebuild `app`'s section from what its reconcile saw. A pass that committed reads the
        history once more (through the tap), so the page shows its own commit."""
        try:
            if any(o.sha for o in outcomes):
                try:
                    repo.history(app=app.name)
                except PromoterError as exc:
                    log.debug("status page: %s: history not read again: %s", app.name, exc)
            status = self._build(app, outcomes)
            section = app_section(status)
        except Exception:  # noqa: BLE001 - the page must never break a reconcile
            log.exception("status page: %s: could not build its section", app.name)
            return
        with self._lock:
            self._apps[app.name] = status
            self._sections[app.name] = section

    def _build(self, app: AppConfig, outcomes: Sequence[Outcome]) -> AppStatus:
        with self._lock:
            history = self._history.get((app.repository, app.name))
            previous = self._apps.get(app.name)
        try:
            recorded = self.journal.recent(app=app.name, limit=100)
        except PromoterError as exc:
            log.debug("status page: %s: journal: %s", app.name, exc)
            recorded = []
        envs = []
        before = {s.env: s for s in previous.envs} if previous else {}
        for env in self.config.environments:
            target = app.targets.get(env.name)
            if target is None:
                continue
            canary = self._canary(app, env.name, target, history)
            envs.append(environment(app=app.name, env=env.name, mode=env.mode,
                                    outcomes=[o for o in outcomes if o.env == env.name], history=history,
                                    policy=app.policy, canary=canary,
                                    recorded=[r for r in recorded if r.env == env.name],
                                    previous=before.get(env.name)))
        repository = self.config.repositories.get(app.repository)
        return AppStatus(app.name, app.image, app.repository, web_url(repository.github if repository else None),
                         tuple(envs), at=self.clock())

    def _canary(self, app: AppConfig, env: str, target: TargetConfig,
                history: Sequence[Commit] | None) -> CanaryState | None:
        if app.canary is None or not target.rollout or not target.cluster:
            return None
        source = f"{app.repository}:{target.steps_file}"
        with self._lock:
            text = self._texts.get((app.repository, target.steps_file))
            view = self._views.get((target.cluster, target.rollout))
        release = current_release(history, app=app.name, env=env) if history is not None else None
        step = gate_step(text, view, source=source)
        gate = None
        if release is not None and step is not None:
            try:
                run = self.journal.load_analysis(gate_key(app.name, env, release.bump, step))
            except PromoterError as exc:
                log.debug("status page: %s/%s: journal: %s", app.name, env, exc)
                run = None
            if run is not None:
                gate = gate_analysis(run, self._metrics(app, env, step), step=step)
        return canary_state(text, view, gate=gate, source=source)

    def _metrics(self, app: AppConfig, env: str, step: int) -> list[Metric]:
        """The gate's metrics, as workflows/canary.py resolves them (inline, or the template read)."""
        assert app.canary is not None
        analysis = app.canary.gates.get(step, app.canary.analysis)
        if analysis is None:
            return []
        if not analysis.template:
            return list(analysis.metrics)
        path = analysis.template.replace("{env}", env)
        with self._lock:
            text = self._texts.get((app.repository, path))
        if text is None:
            return []
        try:
            metrics, _ = metrics_from_template(text, source=f"{app.repository}:{path}",
                                               gate_window=app.canary.gate_window)
        except ValueError:
            return []
        return list(metrics)

    # a request
    def snapshot(self, *, state: str) -> Snapshot:
        with self._lock:
            apps = tuple(self._apps[a.name] for a in self.config.apps if a.name in self._apps)
        return Snapshot(apps, at=self.clock(), state=state)

    def html(self, *, state: str) -> bytes:
        """The page from the cached sections: no git, no journal, no reconcile's lock."""
        with self._lock:
            sections = [self._sections[a.name] for a in self.config.apps if a.name in self._sections]
            waiting = [a.name for a in self.config.apps if a.name not in self._sections]
        return page(sections, at=self.clock(), state=state, waiting=waiting).encode()
