"""End to end on real parts: Debian's docker-registry, real git remotes, the real CLI."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES
from tests.support.gitremote import git, remote_file, remote_log
from tests.support.registry import Pusher
from tests.support.world import ROLLOUT, config_text, deploy_remote


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "gitops_promoter.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def world(tmp_path, registry, unique):
    """A deployment repo whose dev rollout runs <registry>/<unique>/web:v1.0.0, and a config for it."""
    image = f"{registry.host}/{unique}/web"
    remote = deploy_remote(tmp_path, image=image)
    config = tmp_path / "promoter.yaml"
    config.write_text(config_text(registry_host=registry.host, registry_url=registry.url, remote=remote,
                                  image=image))
    push = Pusher(registry.url)
    push.image(f"{unique}/web", "v1.0.0", created="2026-11-01T00:00:00Z")
    return {"image": image, "remote": remote, "config": config, "push": push, "repo": f"{unique}/web",
            "cwd": tmp_path}


def test_new_tag_is_committed_to_dev_with_trailers(world):
    digest = world["push"].image(world["repo"], "v1.1.0", created="2026-11-23T10:02:11Z")
    result = cli("run", "--once", "--config", str(world["config"]), cwd=world["cwd"])
    assert result.returncode == 0, result.stderr
    assert f"{world['image']}:v1.1.0\"   # pinned by the promoter" in remote_file(world["remote"], ROLLOUT)
    trailers = git("log", "-1", "--format=%(trailers)", "main", cwd=world["remote"])
    assert trailers.splitlines() == ["Promoter-App: web", "Promoter-Env: dev", "Promoter-Action: bump",
                                     "Promoter-Tag: v1.1.0", f"Promoter-Digest: {digest}"]
    assert result.stdout.splitlines()[0].startswith(
        "web/dev: bumped v1.0.0 → v1.1.0: policy semver lenient ^1.0 picked v1.1.0 [")
    assert result.stdout.splitlines()[-1] == "summary: 1 bumped"
    # A second run has nothing to do and makes no commit.
    again = cli("run", "--once", "--config", str(world["config"]), cwd=world["cwd"])
    assert again.returncode == 0
    assert again.stdout.splitlines()[0] == (
        "web/dev: unchanged: already at v1.1.0, the newest tag under semver lenient ^1.0")
    assert len(remote_log(world["remote"])) == 2


def test_dry_run_prints_the_diff_and_pushes_nothing(world):
    world["push"].image(world["repo"], "v1.2.0")
    result = cli("run", "--once", "--dry-run", "--config", str(world["config"]), cwd=world["cwd"])
    assert result.returncode == 0, result.stderr
    assert f"-          image: \"{world['image']}:v1.0.0\"   # pinned by the promoter" in result.stdout
    assert f"+          image: \"{world['image']}:v1.2.0\"   # pinned by the promoter" in result.stdout
    assert len(remote_log(world["remote"])) == 1


def test_one_bad_app_fails_the_run_but_not_the_others(world):
    world["push"].image(world["repo"], "v1.1.0")
    text = world["config"].read_text()
    ghost = (f"  - name: ghost\n    image: {world['image']}-ghost\n    repository: deploy\n"
             "    policy: {strategy: semver}\n"
             f"    targets:\n      dev: {{file: {ROLLOUT}, edit: {{kind: container, container: web}}}}\n")
    world["config"].write_text(text.replace("apps:\n", "apps:\n" + ghost, 1))
    result = cli("run", "--once", "--config", str(world["config"]), cwd=world["cwd"])
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ghost/dev: error: registry 127.0.0.1:") and "(HTTP 404)" in lines[0]
    assert lines[1].startswith("web/dev: bumped v1.0.0 → v1.1.0")
    assert "Traceback" not in result.stderr


def test_bad_config_exits_1_with_positions_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrepositoriez: []\n")
    result = cli("check-config", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{bad}:2:1: repositoriez: unknown key; did you mean 'repositories'?" in result.stderr
    assert "Traceback" not in result.stderr
    run = cli("run", "--once", "--config", str(bad), cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr


def test_check_config_passes_on_the_project_example(tmp_path):
    from tests.conftest import ROOT

    result = cli("check-config", str(ROOT / "config" / "promoter.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_tags_pick_cli(tmp_path):
    def pick(payload):
        r = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "tags", "pick"], input=payload,
                           capture_output=True, text=True, cwd=tmp_path)
        return r.returncode, r.stdout.strip()

    assert pick('{"policy": {"strategy": "semver", "constraint": "^1.0"}, "tags": [{"name": "v1.2.3"}, '
                '{"name": "v2.0.0"}]}') == (0, '{"selected": "v1.2.3"}')
    assert pick('{"policy": {"strategy": "newest-build"}, "tags": [{"name": "a", "created": "2024-01-01T00:00:00Z"},'
                ' {"name": "b", "created": "2023-01-01T00:00:00Z"}]}') == (0, '{"selected": "a"}')
    assert pick('{"policy": {"strategy": "semver", "constraint": "^2"}, "tags": [{"name": "v1"}]}') == (
        0, '{"selected": null}')
    code, out = pick('{"policy": {"strategy": "numerical"}, "tags": [{"name": "1"}, {"name": "x1"}]}')
    assert code == 2 and out == '{"selected": null, "error": "numerical: tag \'x1\' is not a number (\'x1\')"}'
    code, out = pick('{"policy": {"strategy": "semver", "constraint": "latest"}, "tags": []}')
    assert code == 2 and "improper constraint" in out


def test_edit_set_image_in_place_and_stdout(tmp_path):
    target = tmp_path / "rollout.yaml"
    shutil.copy(FIXTURES / "repos" / "deploy" / ROLLOUT, target)
    before = target.read_text()
    out = cli("edit", "set-image", str(target), "--container", "envoy", "--image", "envoyproxy/envoy:v1.30.0",
              cwd=tmp_path)
    assert out.returncode == 0 and out.stdout == before.replace("envoy:v1.29.1", "envoy:v1.30.0")
    assert target.read_text() == before
    cli("edit", "set-image", str(target), "--container", "envoy", "--image", "envoyproxy/envoy:v1.30.0",
        "--in-place", cwd=tmp_path)
    assert target.read_text() == out.stdout
    missing = cli("edit", "set-image", str(target), "--container", "nope", "--image", "x:1", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"{target}: container 'nope' not found (containers in the file: envoy, migrate, web)")


def test_analysis_evaluate_cli(tmp_path):
    def evaluate(payload):
        r = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "analysis", "evaluate"], input=payload,
                           capture_output=True, text=True, cwd=tmp_path)
        data = json.loads(r.stdout)  # the phases here; the reasons in tests/cli/test_analysis.py
        if data.get("phase") is not None:
            data = {"phase": data["phase"], "measurements": data["measurements"]}
        return r.returncode, json.dumps(data)

    metric = '"metric": {"successCondition": "result[0] >= 0.95", "interval": "30s", "count": 3, "failureLimit": 1}'
    assert evaluate('{' + metric + ', "measurements": [{"value": [0.97]}, {"value": ["NaN"]}, {"error": "down"}, '
                    '{"value": [0.9]}, {"value": [0.99]}]}') == (
        0, '{"phase": "Successful", "measurements": ["Successful", "Error", "Error", "Failed", "Successful"]}')
    assert evaluate('{' + metric + ', "measurements": [{"value": [0.97]}]}') == (
        0, '{"phase": "Running", "measurements": ["Successful"]}')
    # An empty vector is an Error measurement (retried: Running), never a pass ...
    assert evaluate('{"metric": {"successCondition": "all(result, {# >= 0.95})"}, "measurements": [{"value": []}]}') \
        == (0, '{"phase": "Running", "measurements": ["Error"]}')
    # ... unless emptyResult: evaluate asks for Argo's behaviour.
    assert evaluate('{"metric": {"successCondition": "all(result, {# >= 0.95})", "emptyResult": "evaluate"}, '
                    '"measurements": [{"value": []}]}') == (
        0, '{"phase": "Successful", "measurements": ["Successful"]}')
    code, out = evaluate('{"metric": {"successCondition": "result >="}, "measurements": []}')
    assert code == 2 and '"phase": null' in out and "unexpected" in out


def test_edit_set_pause_cli(tmp_path):
    target = tmp_path / "rollout.yaml"
    shutil.copy(FIXTURES / "repos" / "deploy" / ROLLOUT, target)
    before = target.read_text()
    out = cli("edit", "set-pause", str(target), "--step", "1", "--duration", "10s", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == before.replace("- pause: {}              # gate at step 1",
                                        "- pause: {duration: 10s}              # gate at step 1")
    cli("edit", "set-pause", str(target), "--step", "3", "--indefinite", "--in-place", cwd=tmp_path)
    assert target.read_text() == before.replace("pause: {duration: 30s}", "pause: {}")
    bad = cli("edit", "set-pause", str(target), "--step", "0", "--indefinite", cwd=tmp_path)
    assert bad.returncode == 1 and "step 0 is a setWeight step, not a pause" in bad.stderr


def test_a_human_git_revert_rejects_that_tag(world):
    world["push"].image(world["repo"], "v1.1.0")
    assert cli("run", "--once", "--config", str(world["config"]), cwd=world["cwd"]).returncode == 0
    human = tmp_clone = world["cwd"] / "human"
    git("clone", "-q", str(world["remote"]), str(tmp_clone), cwd=world["cwd"])
    git("revert", "--no-edit", "HEAD", cwd=human)
    git("push", "-q", "origin", "HEAD:main", cwd=human)
    again = cli("run", "--once", "--config", str(world["config"]), cwd=world["cwd"])
    assert again.returncode == 0, again.stderr
    line = again.stdout.splitlines()[0]
    assert line.startswith("web/dev: unchanged: already at v1.0.0, the newest tag under semver lenient ^1.0; "
                           "rejected here: v1.1.0 reverted in ")
    assert "web:v1.0.0" in remote_file(world["remote"], ROLLOUT)
    world["push"].image(world["repo"], "v1.2.0")  # a newer tag is still promoted
    newer = cli("run", "--once", "--config", str(world["config"]), cwd=world["cwd"])
    assert newer.stdout.splitlines()[0].startswith("web/dev: bumped v1.0.0 → v1.2.0")
