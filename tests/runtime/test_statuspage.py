"""The status page, pure: what a person reads for each app × environment (live tag and digest,
the open PR, the canary's step and weight, the gate's measurements, rejected tags with how to
lift them, recent actions), every outside string escaped, one chart point per measurement, links
for github.com and GitHub Enterprise only; and the service's keeper, which builds it from what a
reconcile read and serves it from a cache."""

import re
import threading
from html.parser import HTMLParser

import pytest

from gitops_promoter.config import parse_config
from gitops_promoter.config.schema import GitHubConfig
from gitops_promoter.domain.analysis import Measurement, Metric
from gitops_promoter.domain.analysis_run import AnalysisRun
from gitops_promoter.domain.canary import RolloutView
from gitops_promoter.domain.history import Commit
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.errors import GitUnavailable
from gitops_promoter.ports import Recorded
from gitops_promoter.runtime import statuspage as sp
from gitops_promoter.runtime.service import Service
from gitops_promoter.runtime.telemetry import Telemetry
from gitops_promoter.workflows.outcome import Outcome
from gitops_promoter.workflows.reconcile import Ports, reconcile
from tests.conftest import FIXTURES
from tests.fakes import MemoryJournal, MemoryRegistry, MemoryRepo
from tests.support.net import eventually

DIGEST = "sha256:4b9f0c1d2e3f" + "a" * 52
BUMP, ADVANCE, OLD_BUMP, PERSON_REVERT = "b" * 40, "c" * 40, "d" * 40, "e" * 40
ROLLOUT_TEXT = (FIXTURES / "repos" / "deploy" / "envs" / "dev" / "web" / "rollout.yaml").read_text()


class Text(HTMLParser):
    """The page as a person reads it: the text outside tags (no style, no tooltips), and the
    elements with their attributes."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self._skip = 0
        self.feed(page)

    INLINE = frozenset({"a", "span", "code", "b"})

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag in ("style", "title"):
            self._skip += 1
        if tag not in self.INLINE:
            self.parts.append(" ")  # a block starts: a browser breaks the line there

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._skip -= 1
        if tag not in self.INLINE:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts))

    def links(self) -> list[str]:
        return [a["href"] or "" for tag, a in self.elements if tag == "a"]

    def count(self, tag: str, cls: str | None = None) -> int:
        return sum(1 for t, a in self.elements if t == tag and (cls is None or cls in (a.get("class") or "").split()))


def commit(sha, subject, *, app="web", env="dev", action=None, tag=None, body="", **more):
    trailers = {"Promoter-App": app, "Promoter-Env": env, "Promoter-Action": action, "Promoter-Tag": tag, **more}
    lines = "".join(f"{k}: {v}\n" for k, v in trailers.items() if v is not None) if action else ""
    return Commit(sha, subject, f"{subject}\n\n{body}\n\n{lines}" if lines else f"{subject}\n\n{body}\n")


def gate(points=((0.99, "Successful"), (0.97, "Successful"), (None, "Error"))):
    return sp.GateAnalysis(step=1, phase="Running", started=1_790_000_000.0, charts=(
        sp.Chart("success-rate", "Running", "more measurements needed",
                 tuple(sp.Point(v, phase, "why", 1_790_000_000.0 + i) for i, (v, phase) in enumerate(points))),))


def full_env(**changes):
    base = dict(
        app="web", env="dev", mode="direct", live="v1.2.0", digest=DIGEST, release=BUMP,
        rollback=f"git revert --no-edit {ADVANCE[:12]} {BUMP[:12]}",
        lines=(sp.Line("write-back", "unchanged", "already at v1.2.0"),
               sp.Line("canary", "analysing", "gate 1: success-rate: Running")),
        pull=sp.Line("write-back", "waiting", "no valid approval yet; 1 more approval needed from alice", pr=12),
        canary=sp.CanaryState(step=1, steps=6, weight=20, phase="Paused", at_gate=True, gate=gate()),
        rejected=(sp.Rejection("v1.1.0", "reverted in eeeeeeeeee (Revert \"promote\")",
                               sp.lift_command("web", "dev", "v1.1.0")),),
        actions=(sp.Action(ADVANCE, "advance gate 1", "advance(dev): web v1.2.0 gate 1", "v1.2.0"),
                 sp.Action(BUMP, "merge", "promote(dev): web v1.1.0 → v1.2.0", "v1.2.0", pr=12, at=1_790_000_000.0)))
    base.update(changes)
    return sp.EnvStatus(**base)


def snapshot(env=None, *, web="https://github.com/acme/deploy", name="web"):
    app = sp.AppStatus(name, "reg.local/acme/web", "deploy", web, (env or full_env(),), at=1_790_000_100.0)
    return sp.Snapshot((app,), at=1_790_000_123.0)


# --- the renderer -------------------------------------------------------------------------------

def test_every_field_shows_as_a_person_reads_it():
    page = sp.render(snapshot())
    text = Text(page).text
    for shown in ("web", "reg.local/acme/web", "dev", "direct", "Live v1.2.0", "sha256:4b9f0c1d2e3f",
                  "release bbbbbbbbbb",
                  "Pull request #12 waiting: no valid approval yet; 1 more approval needed from alice",
                  "Canary step 1 of 6 · weight 20% · Paused · waiting at a gate",
                  "gate 1: analysis Running", "success-rate: Running", "3 measurement(s)", "min 0.97 · max 0.99",
                  "write-back unchanged: already at v1.2.0", "canary analysing: gate 1: success-rate: Running",
                  f"Roll back git revert --no-edit {ADVANCE[:12]} {BUMP[:12]}",
                  "Rejected tags", "v1.1.0", 'reverted in eeeeeeeeee (Revert "promote")',
                  "gitops-promoter allow web dev v1.1.0",
                  "Recent actions", "cccccccccc advance gate 1 v1.2.0 advance(dev): web v1.2.0 gate 1",
                  "bbbbbbbbbb merge v1.2.0 #12 promote(dev): web v1.1.0 → v1.2.0",
                  "as of 2026-09-21 14:15:23 UTC · single"):
        assert shown in text, shown
    assert DIGEST not in text  # the short form is shown; the whole digest is the tooltip
    assert f'title="{DIGEST}"' in page
    assert '<meta http-equiv="refresh" content="10">' in page
    assert "<script" not in page


def test_a_page_before_any_pass_says_so():
    page = sp.page([], at=0.0, state="standby", waiting=["web", "api"])
    assert "No pass has finished yet for web, api (this replica is standby" in Text(page).text


HOSTILE = '<script>alert("x")</script>'


def test_hostile_tags_messages_and_names_are_escaped():
    env = full_env(
        live=HOSTILE, digest=f"sha256:{HOSTILE}",
        lines=(sp.Line("write-back", "unchanged", f"already at {HOSTILE}"),),
        pull=sp.Line("write-back", "waiting", f"title {HOSTILE}", pr=3),
        canary=sp.CanaryState(step=1, steps=6, weight=20, phase="Paused", at_gate=True, message=HOSTILE,
                              gate=sp.GateAnalysis(1, "Running", 0.0, (sp.Chart(
                                  HOSTILE, "Running", HOSTILE, (sp.Point(1.0, HOSTILE, HOSTILE),)),))),
        rejected=(sp.Rejection(HOSTILE, f"reverted in abc ({HOSTILE})", sp.lift_command("web", "dev", HOSTILE)),),
        actions=(sp.Action(BUMP, "bump", HOSTILE, HOSTILE),))
    page = sp.render(snapshot(env, name=HOSTILE))
    assert "<script" not in page.lower()
    parsed = Text(page)
    assert parsed.count("script") == 0
    assert HOSTILE in parsed.text  # shown as text, never run
    assert f"gitops-promoter allow web dev {HOSTILE}" in parsed.text


def test_the_chart_has_one_point_per_measurement_coloured_by_its_phase():
    points = ((0.99, "Successful"), (0.5, "Failed"), (None, "Error"), (0.7, "Inconclusive"), (0.98, "Successful"))
    svg = sp.sparkline(gate(points).charts[0])
    parsed = Text(svg)
    assert parsed.count("circle") == 5
    assert [a["class"] for t, a in parsed.elements if t == "circle"] == [
        "pt ok", "pt fail", "pt err", "pt inc", "pt ok"]
    line = next(a["points"] for t, a in parsed.elements if t == "polyline")
    assert len((line or "").split()) == 4  # the line joins the numbers; the error sits on the bottom edge
    assert "#3" in svg and "no number: Error" in svg


def test_a_run_s_measurements_get_their_phase_from_the_metric_s_conditions():
    metric = Metric(name="success-rate", success_condition="result[0] >= 0.95", interval=1.0, count=10)
    run = AnalysisRun(key="web/dev/x/gate-1", fingerprint="f", started=100.0,
                      taken={"success-rate": (Measurement([0.99]), Measurement(error="timeout"),
                                              Measurement([0.5]), Measurement([float("nan")]))},
                      times={"success-rate": (101.0, 102.0, 103.0, 104.0)})
    found = sp.gate_analysis(run, [metric], step=1)
    chart = found.charts[0]
    assert [(p.value, p.phase) for p in chart.points] == [
        (0.99, "Successful"), (None, "Error"), (0.5, "Failed"), (None, "Error")]
    assert found.phase == "Failed" and chart.phase == "Failed"
    unknown = sp.gate_analysis(run, [], step=1)  # the template was not read: values only
    assert unknown.phase == "Unknown" and [p.phase for p in unknown.charts[0].points] == [
        "Unknown", "Error", "Unknown", "Unknown"]
    assert Text(sp.sparkline(chart)).count("circle") == 4


@pytest.mark.parametrize(("github", "expected"), [
    pytest.param(GitHubConfig(repo="acme/deploy"), "https://github.com/acme/deploy", id="github.com"),
    pytest.param(GitHubConfig(repo="acme/deploy", api_url="https://ghe.acme.example/api/v3/"),
                 "https://ghe.acme.example/acme/deploy", id="enterprise-server"),
    pytest.param(GitHubConfig(repo="acme/deploy", api_url="https://acme.example/github/api/v3"),
                 "https://acme.example/github/acme/deploy", id="enterprise-under-a-path"),
    pytest.param(None, None, id="no-github-section"),
])
def test_web_address_of_the_repository(github, expected):
    assert sp.web_url(github) == expected


def test_links_point_at_commits_and_pull_requests_on_github_com():
    links = Text(sp.render(snapshot())).links()
    assert f"https://github.com/acme/deploy/commit/{BUMP}" in links
    assert f"https://github.com/acme/deploy/commit/{ADVANCE}" in links
    assert "https://github.com/acme/deploy/pull/12" in links


def test_links_point_at_github_enterprise():
    web = sp.web_url(GitHubConfig(repo="acme/deploy", api_url="https://ghe.acme.example/api/v3"))
    links = Text(sp.render(snapshot(web=web))).links()
    assert f"https://ghe.acme.example/acme/deploy/commit/{BUMP}" in links
    assert "https://ghe.acme.example/acme/deploy/pull/12" in links


def test_no_link_without_a_github_section():
    parsed = Text(sp.render(snapshot(web=None)))
    assert parsed.links() == []
    assert "bbbbbbbbbb" in parsed.text and "#12" in parsed.text  # still shown, as text


def test_links_never_send_the_page_s_address_on():
    page = sp.render(snapshot())
    assert '<meta name="referrer" content="no-referrer">' in page
    assert all('rel="noreferrer noopener"' in a for a in re.findall(r"<a [^>]*>", page))


# --- building the snapshot ----------------------------------------------------------------------

@pytest.mark.parametrize(("index", "aborted", "expected"), [
    pytest.param(0, False, 20, id="at-a-setWeight"),
    pytest.param(1, False, 20, id="a-pause-keeps-the-weight-before-it"),
    pytest.param(3, False, 50, id="later-step"),
    pytest.param(6, False, 100, id="past-the-last-step"),
    pytest.param(None, False, 20, id="no-index-yet-means-step-0"),
    pytest.param(3, True, 0, id="aborted"),
])
def test_weight_as_argo_rollouts_computes_it(index, aborted, expected):
    view = RolloutView("Paused", index, True, aborted, 1, 1, ())
    assert sp.current_weight(sp.set_weights(ROLLOUT_TEXT), view) == expected


def test_no_setweight_before_the_step_is_weight_0():
    assert sp.current_weight([None, 50], RolloutView("Paused", 0, True, False, 1, 1, ())) == 0


def test_the_canary_waits_at_a_gate():
    state = sp.canary_state(ROLLOUT_TEXT, RolloutView("Paused", 1, True, False, 2, 2, ()))
    assert (state.step, state.steps, state.weight, state.at_gate) == (1, 6, 20, True)
    assert sp.gate_step(ROLLOUT_TEXT, RolloutView("Paused", 3, True, False, 2, 2, ())) is None  # a timed pause
    assert sp.canary_state(ROLLOUT_TEXT, None) is None


def history_with_a_rejection():
    """Newest first: v1.2.0 bumped and gate 1 passed; v1.1.0's bump reverted by a person."""
    return [
        commit(ADVANCE, "advance(dev): web v1.2.0 gate 1", action="advance", tag="v1.2.0", **{"Promoter-Step": "1"}),
        commit(BUMP, "promote(dev): web v1.0.0 → v1.2.0", action="bump", tag="v1.2.0",
               **{"Promoter-Digest": DIGEST}),
        commit(PERSON_REVERT, 'Revert "promote(dev): web v1.0.0 → v1.1.0"', body=f"This reverts commit {OLD_BUMP}."),
        commit(OLD_BUMP, "promote(dev): web v1.0.0 → v1.1.0", action="bump", tag="v1.1.0"),
        commit("f" * 40, "promote(prod): web v1.0.0", env="prod", action="bump", tag="v1.0.0"),
    ]


def policy():
    return parse_config(KEEPER_CONFIG, source="c.yaml").apps[0].policy


def test_an_environment_from_its_outcomes_and_history():
    outcomes = [Outcome("web", "dev", "unchanged", "already at v1.2.0", from_tag="v1.2.0", stage="write-back"),
                Outcome("web", "dev", "analysing", "gate 5: …", from_tag="v1.2.0", to_tag="v1.2.0", stage="canary")]
    s = sp.environment(app="web", env="dev", mode="direct", outcomes=outcomes, history=history_with_a_rejection(),
                       policy=policy(), recorded=[Recorded(at=5.0, app="web", env="dev", status="bumped", detail="",
                                                           sha=BUMP)])
    assert (s.live, s.digest, s.release) == ("v1.2.0", DIGEST, BUMP)
    assert s.rollback == f"git revert --no-edit {ADVANCE[:12]} {BUMP[:12]}"
    assert s.rejected == (sp.Rejection("v1.1.0", f'reverted in {PERSON_REVERT[:10]} (Revert "promote(dev): web '
                                                 'v1.0.0 → v1.1.0")', "gitops-promoter allow web dev v1.1.0"),)
    assert [(a.sha[0], a.kind, a.tag, a.at) for a in s.actions] == [
        ("c", "advance gate 1", "v1.2.0", None), ("b", "bump", "v1.2.0", 5.0),
        ("e", "reverted by a person", None, None), ("d", "bump", "v1.1.0", None)]  # prod's commit is not dev's
    assert [line.status for line in s.lines] == ["unchanged", "analysing"]


def test_a_promoter_revert_is_rejected_too_and_a_merge_carries_its_pull_request():
    history = [commit("1" * 40, "revert(staging): web v1.2.0", env="staging", action="revert", tag="v1.2.0",
                      body=f"This reverts commit {BUMP}."),
               commit(BUMP, "promote(staging): web v1.0.0 → v1.2.0", env="staging", action="bump", tag="v1.2.0")]
    outcomes = [Outcome("web", "staging", "waiting", "1 more approval needed from alice", from_tag="v1.0.0",
                        to_tag="v1.3.0", pr=7, stage="write-back")]
    rows = [Recorded(at=1.0, app="web", env="staging", status="merged", detail="", sha=BUMP, pr=6)]
    s = sp.environment(app="web", env="staging", mode="pull-request", outcomes=outcomes, history=history,
                       policy=policy(), recorded=rows)
    assert s.live == "v1.0.0" and s.digest is None and s.release is None  # the file is not the promoter's release
    assert [(r.tag, r.lift) for r in s.rejected] == [("v1.2.0", "gitops-promoter allow web staging v1.2.0")]
    assert s.rejected[0].why.startswith("reverted by the promoter in 1111111111")
    assert [(a.kind, a.pr) for a in s.actions] == [("revert", None), ("merge", 6)]
    assert s.pull is not None and s.pull.pr == 7


def test_a_merge_commit_and_the_commit_it_merged_are_one_action():
    subject = "promote(staging): web v1.0.0 → v1.2.0"
    history = [commit("2" * 40, subject, env="staging", action="bump", tag="v1.2.0"),  # the merge commit
               commit(BUMP, subject, env="staging", action="bump", tag="v1.2.0")]  # the PR branch's commit
    rows = [Recorded(at=1.0, app="web", env="staging", status="merged", detail="", sha="2" * 40, pr=6)]
    assert [(a.sha[0], a.kind, a.pr) for a in sp.actions(history, app="web", env="staging", mode="pull-request",
                                                         recorded=rows)] == [("2", "merge", 6)]


def test_what_a_pass_did_not_look_at_is_kept_from_the_last():
    before = full_env()
    parked = sp.environment(app="web", env="dev", mode="direct", outcomes=[], history=None, policy=policy(),
                            previous=before)
    assert parked == before
    failed = sp.environment(app="web", env="dev", mode="direct", policy=policy(), previous=before, history=None,
                            outcomes=[Outcome("web", "dev", "error", "git fetch: timed out", stage="write-back")])
    assert (failed.live, failed.pull, failed.digest) == (before.live, before.pull, before.digest)
    assert failed.lines == (sp.Line("write-back", "error", "git fetch: timed out"),)


# --- the keeper (what the service keeps between reconciles) ---------------------------------------

KEEPER_CONFIG = """\
version: 1
repositories:
  - name: deploy
    url: file:///unused.git
    github: {repo: acme/deploy, token: env:UNUSED}
environments:
  - {name: dev, mode: direct}
apps:
  - name: web
    image: reg.local/acme/web
    repository: deploy
    policy: {strategy: semver}
    targets:
      dev: {file: dev/web.yaml, edit: {kind: helm, key: image.tag}}
state:
  poll_interval: 1h
"""


def keeper_world():
    config = parse_config(KEEPER_CONFIG, source="c.yaml")
    registry = MemoryRegistry(images={"reg.local/acme/web": [TagInfo("1.0.0"), TagInfo("1.1.0", digest=DIGEST)]})
    repo = MemoryRepo("deploy", {"dev/web.yaml": "image:\n  tag: 1.0.0\n"})
    journal = MemoryJournal()
    keeper = sp.Keeper(config, journal=journal, clock=lambda: 1_790_000_000.0)
    return config, keeper, Ports(registry=registry, repos={"deploy": keeper.tap_repo("deploy", repo)},
                                 journal=journal), repo


def test_the_keeper_builds_an_app_s_section_from_what_its_reconcile_read():
    config, keeper, ports, _ = keeper_world()
    app = config.apps[0]
    assert "No pass has finished yet for web" in keeper.html(state="single").decode()
    result = reconcile(config, app, ports)
    keeper.after(app, result.outcomes, repo=ports.repos["deploy"])
    text = Text(keeper.html(state="single").decode()).text
    assert "Live 1.1.0 sha256:4b9f0c1d2e3f release 1000000000" in text  # the pass's own commit is read again
    assert "1000000000 bump 1.1.0 promote(dev): web 1.0.0 → 1.1.0" in text
    assert "https://github.com/acme/deploy/commit/1" + "0" * 39 in Text(keeper.html(state="single").decode()).links()


def test_a_page_that_cannot_be_built_never_breaks_the_reconcile_and_the_last_one_stands():
    config, keeper, ports, repo = keeper_world()
    app = config.apps[0]
    keeper.after(app, reconcile(config, app, ports).outcomes, repo=ports.repos["deploy"])
    before = keeper.html(state="single")

    def broken(**_):
        raise GitUnavailable(repository="deploy", detail="git fetch: timed out")

    repo.history = broken
    outcomes = [Outcome("web", "dev", "bumped", "x", "1.1.0", "1.2.0", sha="9" * 40, stage="write-back")]
    keeper.after(app, outcomes, repo=ports.repos["deploy"])  # the history is not read again: no raise
    text = Text(keeper.html(state="single").decode()).text
    assert "Live 1.2.0 (not a release of the promoter's)" in text  # the outcome says 1.2.0; git was not read
    assert "Live 1.1.0" in Text(before.decode()).text
    keeper._build = lambda *a: 1 / 0  # a bug in the page
    keeper.after(app, [], repo=ports.repos["deploy"])
    assert "Live 1.2.0" in Text(keeper.html(state="single").decode()).text  # the last good section stands


def test_a_request_for_the_page_never_waits_for_the_scheduler():
    config = parse_config(KEEPER_CONFIG, source="c.yaml")
    ports = Ports(registry=MemoryRegistry(images={"reg.local/acme/web": [TagInfo("1.0.0")]}),
                  repos={"deploy": MemoryRepo("deploy", {"dev/web.yaml": "image:\n  tag: 1.0.0\n"})},
                  journal=MemoryJournal())
    service = Service(config, ports, telemetry=Telemetry())
    service.start()
    try:
        assert eventually(lambda: "Live 1.0.0" in Text(service.status_page().decode()).text)
        got = []
        with service._lock:  # the scheduler's lock held (as a wake-up holds it)
            reader = threading.Thread(target=lambda: got.append(service.status_page()))
            reader.start()
            reader.join(timeout=2)
        assert got and b"web" in got[0]
    finally:
        service.stop(timeout=2)
