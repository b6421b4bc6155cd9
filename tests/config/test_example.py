"""The project's annotated example config (`config/promoter.yaml`) and the README's configuration
reference keep up with the loader: every key the loader reads is in both, the example passes
check-config, and against the example deployment repository (fixtures/repos/deploy) it reads every
Rollout and AnalysisTemplate it names without a warning."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import yaml

from gitops_promoter import cli
from gitops_promoter.config import load_config, loader
from gitops_promoter.domain.edits import read_running, write_version
from tests.conftest import FIXTURES, ROOT
from tests.support.gitremote import make_remote

EXAMPLE = ROOT / "config" / "promoter.yaml"
README = ROOT / "README.md"


def loader_keys() -> set[str]:
    """Every key name the loader accepts: the first argument of each `….mapping(KEYS, …)` call in
    config/loader.py (a tuple of strings, or a module constant such as TOP or METRIC_KEYS)."""
    tree = ast.parse(Path(loader.__file__).read_text(encoding="utf-8"))
    keys: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "mapping" and node.args):
            continue
        first = node.args[0]
        if isinstance(first, ast.Tuple):
            keys |= {e.value for e in first.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        elif isinstance(first, ast.Name):
            keys |= set(getattr(loader, first.id))
        else:
            raise AssertionError(f"config/loader.py:{node.lineno}: mapping() keys this test cannot read")
    return keys


def test_loader_keys_are_found():
    """The key reader is not vacuous: it finds keys of every level, constants included."""
    keys = loader_keys()
    assert {"version", "prefix", "max_concurrency", "pull_secret", "soak", "flux_policy", "platform", "title",
            "status_token", "max_retry_after", "gate_window", "successCondition", "lease_duration"} <= keys
    assert len(keys) > 100


def readme_reference() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Configuration reference")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def reference_keys() -> set[str]:
    """Key names written in the first column of the reference tables (`a[].b.<env>.c` / `.d`)."""
    names: set[str] = set()
    for line in readme_reference().splitlines():
        if line.startswith("| `"):
            first = line.split(" | ")[0]
            for code in re.findall(r"`([^`]+)`", first):
                names |= set(re.findall(r"[A-Za-z_]+", re.sub(r"<[^>]*>", "", code)))
    return names


def test_every_key_is_in_the_readme_reference():
    missing = sorted(loader_keys() - reference_keys())
    assert not missing, f"keys the loader reads that README.md's Configuration reference table lacks: {missing}"


def example_keys() -> set[str]:
    """Keys the example sets, and keys named in its comments (`# token: env:…`, `or ssh_key: …`)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                found.add(str(key))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(yaml.safe_load(text))
    for line in text.splitlines():
        _, hash_, comment = line.partition("#")
        if hash_:
            found |= set(re.findall(r"([A-Za-z_]+):", comment))
    return found


def test_the_example_has_every_key():
    missing = sorted(loader_keys() - example_keys())
    assert not missing, f"keys the loader reads that config/promoter.yaml neither sets nor names: {missing}"


def test_the_example_passes_check_config(tmp_path, capsys):
    config = load_config(EXAMPLE)
    assert [e.name for e in config.environments] == ["dev", "staging", "prod"]
    assert {a.name for a in config.apps} == {"web", "worker"}
    code = cli.main(["check-config", "--config", str(EXAMPLE), "--workdir", str(tmp_path / "clones")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "warning:" not in out, out
    assert out.splitlines()[-1] == f"{EXAMPLE}: OK (2 apps, 3 environments, 1 repositories)"


def test_the_example_fits_the_example_deployment_repository(tmp_path, capsys):
    """With the repository readable, check-config reads each Rollout's steps (dev, staging, prod) and the
    AnalysisTemplate of gate 5: every file the canary names is there, valid, with its gates."""
    remote = make_remote(tmp_path, FIXTURES / "repos" / "deploy")
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count("url: https://github.com/acme/deploy.git") == 1
    local = tmp_path / "promoter.yaml"
    local.write_text(text.replace("url: https://github.com/acme/deploy.git", f"url: file://{remote}"),
                     encoding="utf-8")
    code = cli.main(["check-config", "--config", str(local), "--workdir", str(tmp_path / "clones")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out.splitlines() == [f"{local}: OK (2 apps, 3 environments, 1 repositories)"]


def test_every_target_of_the_example_edits_its_file_in_the_example_repository():
    """Each app × environment's file is in fixtures/repos/deploy, runs the app's image, and a bump changes one
    line of it (container, kustomize, helm and Flux's markers)."""
    config = load_config(EXAMPLE)
    edited = []
    for app in config.apps:
        for env, target in app.targets.items():
            text = (FIXTURES / "repos" / "deploy" / target.file).read_text(encoding="utf-8")
            running = read_running(text, target.edit, source=target.file)
            assert running.tag and running.name in (None, app.image), (app.name, env, running)
            after = write_version(text, target.edit, image=app.image, tag="v9.9.9", digest=None, pin=False,
                                  source=target.file)
            changed = [(a, b) for a, b in zip(text.splitlines(), after.splitlines(), strict=True) if a != b]
            assert len(changed) == 1 and "v9.9.9" in changed[0][1], (app.name, env, changed)
            edited.append(f"{app.name}/{env}")
    assert edited == ["web/dev", "web/staging", "web/prod", "worker/dev"]


def test_the_example_fails_against_a_repository_without_the_template(tmp_path, capsys):
    """The check above can fail: without the AnalysisTemplate the same config is refused."""
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURES / "repos" / "deploy", seed)
    (seed / "analysis" / "web-success-rate.yaml").unlink()
    remote = make_remote(tmp_path, seed)
    local = tmp_path / "promoter.yaml"
    local.write_text(EXAMPLE.read_text(encoding="utf-8").replace("url: https://github.com/acme/deploy.git",
                                                                  f"url: file://{remote}"), encoding="utf-8")
    code = cli.main(["check-config", "--config", str(local), "--workdir", str(tmp_path / "clones")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "analysis/web-success-rate.yaml" in out + err


def test_readme_stands_alone():
    """No path outside the repository, and every link to a section names a heading that exists."""
    text = README.read_text(encoding="utf-8")
    assert "../shared" not in text and "/work/" not in text
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    headings = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#{1,6} (.+)$", prose, flags=re.M)}
    broken = sorted({a for a in re.findall(r"\]\(#([^)]+)\)", text) if a not in headings})
    assert not broken, f"README.md links to sections that do not exist: {broken}"


def test_the_tutorials_file_snippets_are_the_files():
    """Each YAML block of the tutorial that starts with `# <path>` is that file's text: the block, or each
    of its parts between `# …` lines, appears in the file as it is."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Tutorial")
    tutorial = text[start:text.index("\n## ", start + 1)]
    checked = 0
    for block in re.findall(r"^```yaml\n(.*?)^```", tutorial, flags=re.M | re.S):
        first, _, body = block.partition("\n")
        assert first.startswith("# "), f"a tutorial YAML block names no file: {first!r}"
        source = (ROOT / first[2:].strip()).read_text(encoding="utf-8")
        parts = re.split(r"^ *# …\n", body, flags=re.M)
        for part in parts:
            assert part.strip() and part in source, f"not in {first[2:]}:\n{part}"
        checked += len(parts)
    assert checked >= 10
