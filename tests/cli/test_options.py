"""The command line itself: --config resolution, --version, check-config's two spellings, and
every command's --help ending with an example (and the exit codes)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from tests.cli.conftest import run_cli
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "promoter.yaml"
COMMANDS = [["run"], ["status"], ["explain"], ["promote"], ["rollback"], ["allow"], ["check-config"],
            ["analysis", "run"], ["analysis", "evaluate"], ["tags", "pick"], ["edit", "set-image"],
            ["edit", "set-pause"]]


def test_version_comes_from_the_installed_package():
    result = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"gitops-promoter {version('gitops-promoter')}"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_commands_help_ends_with_an_example_and_the_exit_codes(command):
    result = run_cli(*command, "--help")
    assert result.code == 0
    text = result.out
    assert "\nexample:\n  " in text
    assert "gitops-promoter " in text.split("\nexample:\n", 1)[1].split("exit codes:")[0]
    if command[0] not in ("tags", "edit") or len(command) > 1:
        assert "exit codes:\n  0  done" in text and "\n  2  the command line" in text
        assert text.index("example:") < text.index("exit codes:")


def test_the_main_help_lists_every_command_and_the_exit_codes():
    text = run_cli("--help").out
    for name in ("run", "status", "explain", "promote", "rollback", "allow", "check-config", "analysis"):
        assert f"\n    {name}" in text
    assert "exit codes:" in text and "$GITOPS_PROMOTER_CONFIG" in text


@pytest.mark.parametrize("command", [["status"], ["run", "--once"], ["explain", "web", "dev"],
                                     ["promote", "web", "dev", "--tag", "v1"], ["allow", "web", "dev", "v1"],
                                     ["rollback", "web", "dev"], ["check-config"], ["analysis", "run", "web", "dev"]],
                         ids=" ".join)
def test_no_config_anywhere_is_a_usage_error_naming_what_was_tried(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITOPS_PROMOTER_CONFIG", raising=False)
    result = run_cli(*command)
    assert result.code == 2
    assert result.err.strip() == (f"gitops-promoter: error: no config: --config not given, $GITOPS_PROMOTER_CONFIG "
                                  f"not set, and no promoter.yaml in {tmp_path}")


def test_config_comes_from_the_environment_then_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_PROMOTER_CONFIG", str(EXAMPLE))
    assert run_cli("check-config").out.splitlines()[-1].startswith(f"{EXAMPLE}: OK")
    monkeypatch.delenv("GITOPS_PROMOTER_CONFIG")
    (tmp_path / "promoter.yaml").write_text("version: 1\nrepositoriez: []\n")
    result = run_cli("check-config")
    assert result.code == 1
    assert "promoter.yaml:2:1: repositoriez: unknown key; did you mean 'repositories'?" in result.err
    # --config wins over both.
    monkeypatch.setenv("GITOPS_PROMOTER_CONFIG", str(tmp_path / "promoter.yaml"))
    assert run_cli("check-config", "--config", str(EXAMPLE)).code == 0


def test_check_config_takes_the_file_positionally_or_as_config(tmp_path):
    assert run_cli("check-config", str(EXAMPLE)).out.splitlines()[-1].startswith(f"{EXAMPLE}: OK")
    assert run_cli("check-config", "--config", str(EXAMPLE)).out.splitlines()[-1].startswith(f"{EXAMPLE}: OK")
    assert run_cli("check-config", str(EXAMPLE), "--config", str(EXAMPLE)).code == 0
    both = run_cli("check-config", str(EXAMPLE), "--config", str(tmp_path / "other.yaml"))
    assert both.code == 2 and f"two configs given: {EXAMPLE} and --config {tmp_path / 'other.yaml'}" in both.err


def test_a_config_that_is_not_there_is_one_clear_line(tmp_path):
    result = run_cli("status", "--config", str(tmp_path / "nope.yaml"))
    assert result.code == 1 and "Traceback" not in result.err
    assert str(tmp_path / "nope.yaml") in result.err


def test_run_without_once_takes_neither_dry_run_nor_app(tmp_path):
    result = run_cli("run", "--dry-run", "--config", str(EXAMPLE))
    assert result.code == 2 and "--dry-run and --app need --once" in result.err


@pytest.mark.parametrize(("argv", "message"), [
    (["analysis", "run", "--template", "t.yaml"], "--template needs --prometheus URL"),
    (["analysis", "run", "--template", "t.yaml", "--prometheus", "http://x", "web", "dev"],
     "--template runs a template file on its own"),
    (["analysis", "run", "--template", "t.yaml", "--prometheus", "http://x", "--arg", "novalue"],
     "--arg 'novalue': expected NAME=VALUE"),
    (["analysis", "run", "--config", str(EXAMPLE), "web"], "analysis run needs APP ENV"),
    (["analysis", "run", "--config", str(EXAMPLE), "web", "dev", "--prometheus", "http://x"],
     "--prometheus and --arg go with --template"),
], ids=["no-prometheus", "template-and-app", "bad-arg", "no-env", "prometheus-with-config"])
def test_analysis_run_usage_errors(argv, message):
    result = run_cli(*argv)
    assert result.code == 2 and message in result.err


def test_promote_refuses_a_tag_that_is_not_a_tag_before_reading_anything(tmp_path):
    result = run_cli("promote", "web", "dev", "--tag", "v1/../x", "--config", str(tmp_path / "unread.yaml"))
    assert result.code == 1
    assert result.err.startswith("error: 'v1/../x' is not a valid tag: ")
