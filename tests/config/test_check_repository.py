"""`check-config` reads each canary's AnalysisTemplates and Rollout steps ahead of time, from a
local repository or the promoter's persistent clone, without network and without writing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_promoter.adapters.gitrepo import GitRepo
from gitops_promoter.cli import main
from gitops_promoter.config.schema import RepositoryConfig
from tests.conftest import FIXTURES
from tests.support.gitremote import GitDaemon, HumanClone, git, make_remote

ROLLOUT = "envs/dev/web/rollout.yaml"
GOOD_ROLLOUT = (FIXTURES / "repos" / "deploy" / ROLLOUT).read_text()  # gates at steps 1 and 5, 30s at step 3
GATE_1, GATE_5 = (f"        - pause: {{}}              # gate at step {n}: promoter analysis" for n in (1, 5))

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
    - name: service-name
  metrics:
    - name: success-rate
      interval: 30s
      count: 4
      successCondition: result[0] >= 0.95
      provider:
        prometheus:
          query: sum(rate(http_requests_total{service="{{args.service-name}}"}[1m]))
"""

CANARY = """\
    canary:
      gate_window: 2m
      analysis:
        prometheus: main
        args: {service-name: web-canary}
        template: analysis/{env}.yaml
"""


def config_text(url: str, *, canary: str = CANARY) -> str:
    """The O&M file: one app whose dev target has a Rollout driven through its gates."""
    return f"""\
version: 1
clusters:
  - {{name: dev, kubeconfig: 'file:/nonexistent/kubeconfig'}}
prometheus:
  - {{name: main, url: 'http://127.0.0.1:9'}}
repositories:
  - name: deploy
    url: {url}
    branch: main
environments:
  - name: dev
    mode: direct
apps:
  - name: web
    image: 127.0.0.1:5000/acme/web
    repository: deploy
    policy: {{strategy: semver}}
    targets:
      dev:
        file: {ROLLOUT}
        edit: {{kind: container, container: web}}
        cluster: dev
        application: argocd/web-dev
        rollout: shop/web
{canary}state:
  workdir: work
"""


def remote(tmp_path: Path, files: dict[str, str]) -> Path:
    """A bare repository whose main branch holds `files`."""
    seed = tmp_path / "seed"
    for path, text in files.items():
        (seed / path).parent.mkdir(parents=True, exist_ok=True)
        (seed / path).write_text(text)
    bare = make_remote(tmp_path, seed)
    shutil.rmtree(seed)
    return bare


def check(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], *, canary: str = CANARY,
          extra: tuple[str, ...] = ()) -> tuple[int, str, str, Path]:
    config = tmp_path / "promoter.yaml"
    config.write_text(config_text(url, canary=canary))
    code = main(["check-config", str(config), *extra])
    out, err = capsys.readouterr()
    return code, out, err, config


def test_a_sound_template_and_rollout_pass(tmp_path, capsys):
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE})
    code, out, err, config = check(tmp_path, f"file://{bare}", capsys)
    assert (code, err) == (0, "")
    assert out == f"{config}: OK (1 apps, 1 environments, 1 repositories)\n"


def test_count_0_in_the_template_is_a_problem_at_its_line_and_column(tmp_path, capsys):
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE.replace("count: 4", "count: 0")})
    code, out, err, config = check(tmp_path, f"file://{bare}", capsys)
    assert code == 1
    assert err.splitlines() == [
        "deploy:analysis/dev.yaml:11:7: spec.metrics[0].count: metric 'success-rate': count must be at least 1, "
        "not 0 (count: 0 would pass on no data)",
        f"{config}: 1 problem(s)",
    ]
    assert "OK" not in out


def test_interval_without_count_is_accepted(tmp_path, capsys):
    """Argo's background shape, bounded by canary.gate_window at a gate."""
    template = TEMPLATE.replace("      count: 4\n", "")
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": template})
    code, out, err, _ = check(tmp_path, f"file://{bare}", capsys)
    assert (code, err) == (0, "")
    assert "OK" in out


def test_a_metric_without_a_condition_is_a_problem(tmp_path, capsys):
    template = TEMPLATE.replace("      successCondition: result[0] >= 0.95\n", "")
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": template})
    code, _, err, _ = check(tmp_path, f"file://{bare}", capsys)
    assert code == 1
    assert err.splitlines()[0] == ("deploy:analysis/dev.yaml:9:7: spec.metrics[0]: metric 'success-rate': needs "
                                   "successCondition or failureCondition (a metric with neither always passes)")


def test_args_value_from_is_refused(tmp_path, capsys):
    template = TEMPLATE.replace("    - name: service-name\n",
                                "    - name: service-name\n      valueFrom: {secretKeyRef: {name: s, key: k}}\n")
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": template})
    code, _, err, _ = check(tmp_path, f"file://{bare}", capsys)
    assert code == 1
    assert err.startswith("deploy:analysis/dev.yaml:8:7: spec.args[0].valueFrom: argument 'service-name': valueFrom")


def test_a_template_missing_on_the_branch_is_a_problem_naming_path_and_branch(tmp_path, capsys):
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/staging.yaml": TEMPLATE})
    code, _, err, _ = check(tmp_path, f"file://{bare}", capsys)
    assert code == 1
    assert err.splitlines()[0] == (f"deploy:analysis/dev.yaml: no such file on branch main of {bare}; named by app "
                                   "web, environment dev, canary.analysis.template")


def test_a_gate_specific_template_is_checked_too(tmp_path, capsys):
    canary = CANARY + ("      gates:\n        5:\n          analysis:\n            prometheus: main\n"
                       "            template: analysis/{env}-last-gate.yaml\n")
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE,
                             "analysis/dev-last-gate.yaml": TEMPLATE.replace("interval: 30s", "interval: 0s")})
    code, _, err, _ = check(tmp_path, f"file://{bare}", capsys, canary=canary)
    assert code == 1
    assert err.splitlines()[0] == ("deploy:analysis/dev-last-gate.yaml:10:7: spec.metrics[0].interval: metric "
                                   "'success-rate': interval must be greater than 0")


def test_a_rollout_with_only_timed_pauses_warns_with_their_units(tmp_path, capsys):
    rollout = GOOD_ROLLOUT.replace(GATE_1, "        - pause: {duration: 60}")
    rollout = rollout.replace(GATE_5, "        - pause:\n            duration: 2m")
    assert "pause: {}" not in rollout
    bare = remote(tmp_path, {ROLLOUT: rollout, "analysis/dev.yaml": TEMPLATE})
    code, out, err, config = check(tmp_path, f"file://{bare}", capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"warning: deploy:{ROLLOUT}: nothing to analyse (app web, environment dev): the Rollout has no pause: {{}} "
        "step (a gate); timed pauses: step 1 pause 60s, step 3 pause 30s, step 5 pause 2m",
        f"{config}: OK (1 apps, 1 environments, 1 repositories); 1 warning(s)",
    ]


def test_gates_the_promoter_passed_are_not_taken_for_timed_pauses(tmp_path, capsys):
    """Between releases a passed gate is `pause: {duration: <gate_duration>}` in git; its advance
    commit says it is a gate."""
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE})
    human = HumanClone(bare, tmp_path / "human")
    passed = GOOD_ROLLOUT.replace(GATE_1, "        - pause: {duration: 10s}")
    human.commit(ROLLOUT, passed, "advance(dev): web v1.1.0 gate 1\n\nPromoter-App: web\nPromoter-Env: dev\n"
                                  "Promoter-Action: advance\nPromoter-Tag: v1.1.0\nPromoter-Step: 1\n")
    both = passed.replace(GATE_5, "        - pause: {duration: 10s}")
    assert "pause: {}" not in both
    human.commit(ROLLOUT, both, "a person's edit, not the promoter's")
    code, out, _, _ = check(tmp_path, f"file://{bare}", capsys)
    assert code == 0
    assert "warning" not in out  # step 1's advance commit says it is a gate


def test_a_pause_of_gate_duration_the_promoter_never_passed_is_a_timed_pause(tmp_path, capsys):
    rollout = GOOD_ROLLOUT.replace("pause: {}", "pause: {duration: 10s}")
    bare = remote(tmp_path, {ROLLOUT: rollout, "analysis/dev.yaml": TEMPLATE})
    HumanClone(bare, tmp_path / "human").commit(
        ROLLOUT, rollout + "# touched\n", "advance(dev): web v1.1.0 gate 1\n\nPromoter-App: web\n"
        "Promoter-Env: staging\nPromoter-Action: advance\nPromoter-Tag: v1.1.0\nPromoter-Step: 1\n")
    code, out, _, _ = check(tmp_path, f"file://{bare}", capsys)
    assert code == 0  # another environment's advance says nothing about dev
    assert "timed pauses: step 1 pause 10s, step 3 pause 30s, step 5 pause 10s" in out.splitlines()[0]


def test_a_gates_entry_that_is_not_a_gate_step_warns(tmp_path, capsys):
    canary = CANARY + "      gates:\n        3:\n          analysis: {prometheus: main, template: analysis/dev.yaml}\n"
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE})
    code, out, _, _ = check(tmp_path, f"file://{bare}", capsys, canary=canary)
    assert code == 0
    assert out.splitlines()[0] == (f"warning: deploy:{ROLLOUT}: step 3 is a timed pause (30s) step, not pause: {{}} "
                                   "(app web, environment dev): the analysis in canary.gates.3 never runs")


def test_a_gate_without_any_analysis_is_a_problem(tmp_path, capsys):
    canary = ("    canary:\n      gates:\n        5:\n"
              "          analysis: {prometheus: main, template: analysis/dev.yaml}\n")
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE})
    code, _, err, _ = check(tmp_path, f"file://{bare}", capsys, canary=canary)
    assert code == 1
    assert err.splitlines()[0] == (f"deploy:{ROLLOUT}: gate(s) at step 1 have no analysis (app web, environment dev): "
                                   "give canary.analysis or canary.gates.<step>.analysis; a gate never passes "
                                   "without one")


def test_a_steps_file_without_a_rollout_is_a_problem(tmp_path, capsys):
    bare = remote(tmp_path, {ROLLOUT: "apiVersion: apps/v1\nkind: Deployment\n", "analysis/dev.yaml": TEMPLATE})
    code, _, err, _ = check(tmp_path, f"file://{bare}", capsys)
    assert code == 1
    assert err.splitlines()[0] == f"deploy:{ROLLOUT}: no Argo Rollout (kind: Rollout) in the file"


def test_a_non_bare_local_repository_by_path_is_read_at_the_branch_not_the_work_tree(tmp_path, capsys):
    work = tmp_path / "deploy"
    git("init", "-q", "--initial-branch=main", str(work), cwd=tmp_path)
    (work / ROLLOUT).parent.mkdir(parents=True)
    (work / ROLLOUT).write_text(GOOD_ROLLOUT)
    (work / "analysis").mkdir()
    (work / "analysis" / "dev.yaml").write_text(TEMPLATE)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "manifests", cwd=work)
    (work / "analysis" / "dev.yaml").write_text("not committed: never read\n")
    code, out, err, _ = check(tmp_path, str(work), capsys)
    assert (code, err) == (0, "")
    assert "OK" in out


def test_a_local_repository_without_the_branch_is_a_problem(tmp_path, capsys):
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE})
    config = tmp_path / "promoter.yaml"
    config.write_text(config_text(f"file://{bare}").replace("branch: main", "branch: release"))
    assert main(["check-config", str(config)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == f"repository deploy: branch release does not exist in {bare}"


def test_a_remote_repository_without_a_clone_is_a_note(tmp_path, capsys):
    code, out, err, config = check(tmp_path, "https://git.invalid/acme/deploy.git", capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"note: cannot read {ROLLOUT} of repository deploy ahead of time (not local, no clone yet); it is checked "
        "when the canary runs",
        "note: cannot read analysis/dev.yaml of repository deploy ahead of time (not local, no clone yet); it is "
        "checked before the gate starts",
        f"{config}: OK (1 apps, 1 environments, 1 repositories)",
    ]
    assert not (tmp_path / "work").exists()  # nothing made in the workdir


@pytest.fixture
def daemon(tmp_path):
    d = GitDaemon(tmp_path).start()
    yield d
    d.stop()


def test_the_persistent_clone_is_read_as_last_fetched_without_network_or_writes(tmp_path, capsys, daemon):
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE.replace("count: 4", "count: 0")})
    url = daemon.url(bare.name)
    workdir = tmp_path / "elsewhere"
    GitRepo(RepositoryConfig(name="deploy", url=url), workdir=workdir).sync()
    # the remote moves on and the server goes away: the check reads the clone, it never fetches
    HumanClone(bare, tmp_path / "human").commit("analysis/dev.yaml", TEMPLATE, "fix the template")
    daemon.stop()
    before = sorted((p, p.stat().st_mtime_ns) for p in workdir.rglob("*"))
    code, _, err, _ = check(tmp_path, url, capsys, extra=("--workdir", str(workdir)))
    assert code == 1
    assert err.splitlines()[0].startswith("deploy:analysis/dev.yaml:11:7: spec.metrics[0].count: ")
    assert sorted((p, p.stat().st_mtime_ns) for p in workdir.rglob("*")) == before


def test_the_clone_in_the_default_workdir_is_found(tmp_path, capsys, daemon):
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT.replace("pause: {}", "pause: {duration: 1h}"),
                             "analysis/dev.yaml": TEMPLATE})
    url = daemon.url(bare.name)
    GitRepo(RepositoryConfig(name="deploy", url=url), workdir=tmp_path / "work").sync()  # state.workdir: work
    daemon.stop()
    code, out, _, _ = check(tmp_path, url, capsys)
    assert code == 0
    assert "timed pauses: step 1 pause 1h, step 3 pause 30s, step 5 pause 1h" in out.splitlines()[0]


def test_a_clone_of_another_url_is_not_read(tmp_path, capsys, daemon):
    bare = remote(tmp_path, {ROLLOUT: GOOD_ROLLOUT, "analysis/dev.yaml": TEMPLATE})
    GitRepo(RepositoryConfig(name="deploy", url=daemon.url(bare.name)), workdir=tmp_path / "work").sync()
    code, out, _, _ = check(tmp_path, "https://git.invalid/acme/deploy.git", capsys)
    assert code == 0
    assert out.splitlines()[0].startswith(f"note: cannot read {ROLLOUT} of repository deploy ahead of time (not "
                                          f"local, the clone in {tmp_path / 'work' / 'deploy'} is of git://")
