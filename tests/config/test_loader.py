"""Config loading: the example passes; every problem is reported with file:line:col and key path."""

from pathlib import Path

import pytest

from gitops_promoter.config import load_config, parse_config
from gitops_promoter.domain.edits import ContainerEdit, HelmEdit, KustomizeEdit
from gitops_promoter.errors import ConfigError
from tests.conftest import ROOT

SHARED_EXAMPLE = ROOT.parent / "shared" / "promoter.example.yaml"

MINIMAL = """\
version: 1
repositories:
  - name: deploy
    url: file:///tmp/deploy.git
environments:
  - name: dev
    mode: direct
apps:
  - name: web
    image: 127.0.0.1:5000/acme/web
    repository: deploy
    policy: {strategy: semver}
    targets:
      dev:
        file: envs/dev/web/rollout.yaml
        edit: {kind: container, container: web}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="p.yaml")
    return info.value.problems


@pytest.mark.parametrize("path", [SHARED_EXAMPLE, ROOT / "config" / "promoter.yaml"], ids=["shared", "project"])
def test_examples_load(path):
    if not path.exists():
        pytest.skip(f"{path} not present")
    config = load_config(path)
    assert config.apps and config.environments


def test_shared_example_shape():
    if not SHARED_EXAMPLE.exists():
        pytest.skip("../shared not beside the checkout")
    config = load_config(SHARED_EXAMPLE)
    web = config.apps[0]
    assert [e.name for e in config.environments] == ["dev", "staging", "prod"]
    assert web.targets["dev"].edit == ContainerEdit("web")
    assert web.targets["staging"].edit == KustomizeEdit("ghcr.io/acme/web")
    assert web.targets["prod"].edit == HelmEdit("image.tag")
    assert config.environment("prod").approval.required == 2
    assert config.registry_for("ghcr.io/acme/web").api_url == "https://ghcr.io"
    assert config.registry_for("127.0.0.1:5000/web").api_url == "http://127.0.0.1:5000"
    assert config.registry_for("quay.io/x/y").api_url == "https://quay.io"
    assert config.state.poll_interval == 120.0


def test_minimal_loads():
    config = parse_config(MINIMAL, source="m.yaml")
    assert config.repositories["deploy"].branch == "main"
    assert config.apps[0].policy.describe() == "semver lenient"


def test_unknown_key_has_a_did_you_mean_hint_and_position():
    text = MINIMAL.replace("    mode: direct", "    mode: direct\n    aproval: {required: 1}")
    assert problems(text) == ["p.yaml:8:5: environments[0].aproval: unknown key; did you mean 'approval'?"]


def test_all_errors_are_reported_at_once():
    text = (MINIMAL
            .replace("mode: direct", "mode: dirct")
            .replace("policy: {strategy: semver}", "policy: {strategy: semver, constraint: '^1.x.x.x'}")
            .replace("repository: deploy", "repository: deplo")
            .replace("kind: container, container: web", "kind: container"))
    assert problems(text) == [
        "p.yaml:7:11: environments[0].mode: must be one of direct, pull-request, not 'dirct'; did you mean 'direct'?",
        "p.yaml:11:17: apps[0].repository: no repository named 'deplo' (repositories: deploy)",
        "p.yaml:12:44: apps[0].policy.constraint: improper constraint: '^1.x.x.x'",
        "p.yaml:16:15: apps[0].targets.dev.edit: edit kind container needs 'container'",
    ]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    mode: direct\n", "    mode: pull-request\n",
     "p.yaml:14:7: apps[0].targets.dev: dev promotes by pull request, but repository 'deploy' has no github section"),
    ("url: file:///tmp/deploy.git", "url: file:///tmp/deploy.git\n    credentials: {token: ghp_123}",
     "p.yaml:5:26: repositories[0].credentials.token: secrets are references: write env:NAME or file:PATH"),
    ("  dev:\n", "  qa:\n", "p.yaml:14:7: apps[0].targets.qa: no environment named 'qa' (environments: dev)"),
    ("{kind: container, container: web}", "{kind: helm}",
     "p.yaml:16:15: apps[0].targets.dev.edit: edit kind helm needs 'key'"),
    ("{kind: container, container: web}", "{kind: kustomise, name: x}",
     "p.yaml:16:22: apps[0].targets.dev.edit.kind: must be one of container, kustomize, helm, marker, "
     "not 'kustomise'; did you mean 'kustomize'?"),
    ("image: 127.0.0.1:5000/acme/web", "image: 127.0.0.1:5000/acme/web:v1",
     "p.yaml:10:12: apps[0].image: write the image without tag or digest: 127.0.0.1:5000/acme/web"),
    ("{strategy: semver}", "{strategy: numerical, allow_tags: '(['}",
     "p.yaml:12:47: apps[0].policy.allow_tags: invalid regular expression '(['"),
    ("{strategy: semver}", "{strategy: semver, semver_mode: strict}",
     "p.yaml:12:13: apps[0].policy: constraint: semver_mode strict needs a constraint (as Flux)"),
    ("version: 1", "version: 2", "p.yaml:1:10: version: unsupported version 2; this promoter reads version 1"),
    ("file: envs/dev/web/rollout.yaml", "file: ../outside.yaml",
     "p.yaml:15:15: apps[0].targets.dev.file: must be a path inside the repository, not '../outside.yaml'"),
])
def test_single_problem(old, new, expected):
    found = problems(MINIMAL.replace(old, new))
    assert any(p.startswith(expected) for p in found), found


def test_yaml_syntax_error_has_position():
    assert problems("version: 1\napps: [\n")[0].startswith("p.yaml:3:1: not valid YAML")


def test_duplicate_key_is_an_error():
    assert problems("version: 1\nversion: 1\n")[0].startswith("p.yaml:2:1: <root> (a key): duplicate key 'version'")


def test_missing_required_sections():
    found = problems("version: 1\n")
    assert "p.yaml:1:1: <root>: missing required key 'repositories'" in found
    assert "p.yaml:1:1: <root>: missing required key 'apps'" in found


def test_secret_resolution_names_the_key(monkeypatch):
    config = parse_config(MINIMAL.replace("url: file:///tmp/deploy.git",
                                          "url: file:///tmp/deploy.git\n    credentials: {token: env:NOPE_TOKEN}"),
                          source="p.yaml")
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"p.yaml:5:26: repositories\[0\].credentials.token: environment variable "
                                          "NOPE_TOKEN is not set"):
        config.repositories["deploy"].token.resolve()
    monkeypatch.setenv("NOPE_TOKEN", "s3cret")
    assert config.repositories["deploy"].token.resolve() == "s3cret"
    assert "s3cret" not in repr(config)


def test_unreadable_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


SERVICE = MINIMAL + """\
clusters:
  - {name: home, in_cluster: true}
server:
  listen: 0.0.0.0:8080
  workers: 2
  leader_election: {cluster: home, namespace: promoter, lease_duration: 20s, renew_deadline: 15s}
state:
  journal: postgresql://promoter@db.local/promoter
  poll_interval: 1m
  lock_timeout: 5s
  recheck_interval: 5s
"""


def test_service_keys_load():
    config = parse_config(SERVICE, source="p.yaml")
    le = config.server.leader_election
    assert (le.cluster, le.namespace, le.name, le.lease_duration, le.renew_deadline, le.retry_period) == (
        "home", "promoter", "gitops-promoter", 20.0, 15.0, 1.0)
    assert (config.server.workers, config.state.lock_timeout, config.state.recheck_interval) == (2, 5.0, 5.0)


@pytest.mark.parametrize(("old", "new", "expected"), [
    pytest.param("cluster: home,", "cluster: away,", "p.yaml:22:30: server.leader_election.cluster: unknown cluster "
                 "'away'; clusters: home", id="unknown-cluster"),
    pytest.param("renew_deadline: 15s", "renew_deadline: 25s", "p.yaml:22:20: server.leader_election: "
                 "lease_duration (20s) must be greater than renew_deadline (25s)", id="renew-after-expiry"),
    pytest.param("renew_deadline: 15s}", "renew_deadline: 15s, retry_period: 0}", "p.yaml:22:20: "
                 "server.leader_election: retry_period must be greater than zero", id="no-retry-period"),
    pytest.param("promoter@db", "promoter:hunter2@db", "p.yaml:24:12: state.journal: a password in the journal URL "
                 "would sit in the config in plain text; give the URL without it and the password in PGPASSWORD or "
                 "~/.pgpass", id="password-in-journal-url"),
    pytest.param("workers: 2", "workers: 0", "p.yaml:21:12: server.workers: must be at least 1, not 0",
                 id="no-workers"),
])
def test_service_key_problems(old, new, expected):
    assert problems(SERVICE.replace(old, new)) == [expected]


# --- canary analysis metrics: the same rules as AnalysisTemplates (domain.analysis.metric_problems) -------
PROMETHEUS = "prometheus:\n  - {name: main, url: 'http://127.0.0.1:9090'}\n"
CANARY = MINIMAL.replace("version: 1\n", "version: 1\n" + PROMETHEUS) + """\
    canary:
      gate_window: 10m
      analysis:
        prometheus: main
        metrics:
          - name: success-rate
            query: up
METRIC
"""


def canary(metric: str) -> str:
    return CANARY.replace("METRIC\n", "".join(f"            {line}\n" for line in metric.splitlines()))


@pytest.mark.parametrize(("metric", "expected"), [
    pytest.param("interval: 0s\ncount: 2\nsuccessCondition: result[0] > 0.9",
                 "p.yaml:26:23: apps[0].canary.analysis.metrics[0].interval: interval must be greater than 0",
                 id="inline-zero-interval"),
    pytest.param("count: 0\nsuccessCondition: result[0] > 0.9",
                 "p.yaml:26:20: apps[0].canary.analysis.metrics[0].count: count must be at least 1, not 0 "
                 "(count: 0 would pass on no data)", id="inline-count-zero"),
    pytest.param("failureLimit: -1\nsuccessCondition: result[0] > 0.9",
                 "p.yaml:26:27: apps[0].canary.analysis.metrics[0].failureLimit: failureLimit -1 turns failures off: "
                 "give consecutiveSuccessLimit > 0 then, or the metric can neither fail nor succeed on evidence",
                 id="inline-failureLimit-off-alone"),
    pytest.param("interval: 1m",
                 "p.yaml:24:13: apps[0].canary.analysis.metrics[0]: needs successCondition or failureCondition "
                 "(a metric with neither always passes)", id="inline-no-condition"),
])
def test_inline_metric_rules(metric, expected):
    assert problems(canary(metric)) == [expected]


def test_inline_interval_without_count_is_bounded_by_gate_window():
    config = parse_config(canary("interval: 5m\nfailureLimit: 3\nsuccessCondition: result[0] >= 0.95\n"
                                 "consecutiveSuccessLimit: 2\ndryRun: false"), source="p.yaml")
    app_canary = config.apps[0].canary
    assert app_canary is not None and app_canary.gate_window == 600.0
    assert app_canary.analysis is not None
    (metric,) = app_canary.analysis.metrics
    assert (metric.gate_window, metric.effective_count, metric.consecutive_success_limit) == (600.0, 3, 2)


def test_gate_window_defaults_to_5m_and_must_be_positive():
    default = parse_config(canary("successCondition: result[0] > 0.9").replace("      gate_window: 10m\n", ""),
                           source="p.yaml")
    assert default.apps[0].canary is not None and default.apps[0].canary.gate_window == 300.0
    assert problems(canary("successCondition: result[0] > 0.9").replace("gate_window: 10m", "gate_window: 0s")) == [
        "p.yaml:20:20: apps[0].canary.gate_window: must be greater than 0"]


def test_a_gate_of_dry_run_metrics_only_is_refused():
    assert problems(canary("successCondition: result[0] > 0.9\ndryRun: true")) == [
        "p.yaml:24:11: apps[0].canary.analysis.metrics: every metric is dryRun: nothing would decide the gate"]
