"""`analysis run` against Debian's Prometheus scraping the test exporter, and `analysis evaluate`
on YAML: each metric's value, phase and reason, and the exit code a script can use."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.cli.conftest import run_cli
from tests.support.net import free_port
from tests.support.world import config_text, deploy_remote, kubeconfig_for

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  args:
    - name: service-name
  metrics:
    - name: success-rate
      interval: 30s
      count: 3
      successCondition: result[0] >= 0.95
      provider:
        prometheus:
          query: |
            sum(rate(http_requests_total{service="{{args.service-name}}",code!~"5.."}[1m]))
            /
            sum(rate(http_requests_total{service="{{args.service-name}}"}[1m]))
"""


@pytest.fixture
def services(prometheus, exporter, unique):
    """Two services the exporter serves: one healthy, one answering half its requests with 500."""
    good, bad = f"{unique[:30]}-good", f"{unique[:30]}-bad"
    exporter.set(good, 0.0)
    exporter.set(bad, 0.5)
    for service in (good, bad):
        prometheus.wait_for(f'rate(http_requests_total{{service="{service}"}}[1m])')
    return good, bad


def test_a_template_runs_once_on_the_real_prometheus(tmp_path, prometheus, services):
    good, bad = services
    template = tmp_path / "analysis-template.yaml"
    template.write_text(TEMPLATE)

    ok = run_cli("analysis", "run", "--template", str(template), "--prometheus", prometheus.url,
                 "--arg", f"service-name={good}")
    assert ok.code == 0, ok.err
    lines = ok.out.splitlines()
    assert lines[0] == "success-rate: Successful: [1]: result[0] >= 0.95"
    assert lines[1] == (f'  on {prometheus.url}: sum(rate(http_requests_total{{service="{good}",code!~"5.."}}[1m]))'
                        f' / sum(rate(http_requests_total{{service="{good}"}}[1m]))')
    assert lines[2] == "every deciding metric passes on this measurement"

    failing = run_cli("analysis", "run", "--template", str(template), "--prometheus", prometheus.url,
                      "--arg", f"service-name={bad}")
    assert failing.code == 1
    first = failing.out.splitlines()[0]
    assert first.startswith("success-rate: Failed: [0.") and first.endswith("]: not (result[0] >= 0.95)")
    assert 0.4 < float(first.split("[")[1].split("]")[0]) < 0.6
    assert failing.out.splitlines()[-1] == "a deciding metric does not pass on this measurement"

    nobody = run_cli("analysis", "run", "--template", str(template), "--prometheus", prometheus.url,
                     "--arg", "service-name=nobody-serves-this")
    assert nobody.code == 1
    assert nobody.out.splitlines()[0] == "success-rate: Error: empty result (emptyResult: error)"

    missing = run_cli("analysis", "run", "--template", str(template), "--prometheus", prometheus.url)
    assert missing.code == 1
    assert missing.out.splitlines()[0] == ("success-rate: Error: query uses {{args.service-name}} but no such "
                                           "argument is given (args: none)")


def test_a_prometheus_that_is_down_is_an_error_in_bounded_time(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE)
    started = time.monotonic()
    down = run_cli("analysis", "run", "--template", str(template), "--prometheus", f"http://127.0.0.1:{free_port()}",
                   "--arg", "service-name=web")
    assert down.code == 1 and time.monotonic() - started < 30
    assert down.out.startswith("success-rate: Error: prometheus cli (http://127.0.0.1:")


def test_a_bad_template_names_its_place(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE.replace("count: 3", "count: 0"))
    result = run_cli("analysis", "run", "--template", str(template), "--prometheus", "http://127.0.0.1:1")
    assert result.code == 1 and f"error: {template}:" in result.err and "count" in result.err
    gone = run_cli("analysis", "run", "--template", str(tmp_path / "nope.yaml"), "--prometheus", "http://127.0.0.1:1")
    assert gone.code == 1 and gone.err.strip() == f"error: {tmp_path / 'nope.yaml'}: No such file or directory"
    scheme = run_cli("analysis", "run", "--template", str(template), "--prometheus", "file:///etc/passwd")
    assert scheme.code == 2 and "an http:// or https:// URL" in scheme.err


def test_a_gate_of_the_config_runs_as_the_canary_would(tmp_path, prometheus, services, monkeypatch):
    good, bad = services
    remote = deploy_remote(tmp_path, image="reg.local/acme/web")
    kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}")  # never asked
    config = tmp_path / "promoter.yaml"
    config.write_text(config_text(remote=remote, image="reg.local/acme/web", canary=(kubeconfig, prometheus.url, good)))
    monkeypatch.chdir(tmp_path)  # ./promoter.yaml is the config
    monkeypatch.delenv("GITOPS_PROMOTER_CONFIG", raising=False)
    result = run_cli("analysis", "run", "web", "dev")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "web/dev: canary.analysis, 1 metric(s), one measurement each"
    assert lines[1] == "success-rate: Successful: [1]: result[0] >= 0.95"
    assert lines[2].startswith(f"  on prometheus main ({prometheus.url}): "
                               f'sum(rate(http_requests_total{{service="{good}"')
    config.write_text(config_text(remote=remote, image="reg.local/acme/web", canary=(kubeconfig, prometheus.url, bad)))
    assert run_cli("analysis", "run", "web", "dev", "--gate", "1").code == 1
    unknown = run_cli("analysis", "run", "web", "qa")
    assert unknown.code == 1 and unknown.err.strip() == "web has no target in qa (its environments: dev)"


def evaluate(text: str) -> tuple[int, dict]:
    r = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "analysis", "evaluate"], input=text,
                       capture_output=True, text=True, timeout=60)
    return r.returncode, json.loads(r.stdout)


def test_evaluate_reads_yaml_and_prints_the_reasons():
    code, out = evaluate("""\
metric:
  successCondition: result[0] >= 0.95
  interval: 30s
  count: 3
  failureLimit: 1
measurements:
  - value: [0.97]
  - value: [NaN]
  - error: prometheus down
  - value: [0.9]
""")
    assert code == 0
    assert out == {"phase": "Running", "measurements": ["Successful", "Error", "Error", "Failed"],
                   "reason": "more measurements needed",
                   "reasons": ["[0.97]: result[0] >= 0.95", "NaN in result (emptyResult: error)", "prometheus down",
                               "[0.9]: not (result[0] >= 0.95)"]}
    bad, out = evaluate("metric: {successCondition: result >=}\nmeasurements: []\n")
    assert bad == 2 and out["phase"] is None and out["error"]
    alias, out = evaluate("a: &x [1]\nb: *x\n")
    assert alias == 2 and "alias" in out["error"].lower()
