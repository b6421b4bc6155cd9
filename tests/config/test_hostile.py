"""The config file survives an attacker (issue 10): every hostile config is refused by `check-config`
with exit 1 and a `file:line:col: key.path: message` (a whole-file problem names the file), no
traceback, in bounded time (< 5 s) and memory (< 200 MB).

The corpus is `tests/config/hostile/*.yaml`, one defect each on an otherwise sound config; each file
says what it tries and what is expected in its first lines:

    # Hostile config: <what it tries>.
    # line: <the line of the defect, or ->
    # expect: <a fragment of the problem reported>

Cases that are large or not text (50 MB, 20,000-deep nesting, UTF-16, raw control characters) are
built at test time from the recipes below, so the repository keeps only small text files.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_promoter.cli import main
from gitops_promoter.config import load_config, parse_config
from gitops_promoter.config.loader import branch_problem, regex_problem, repo_path_problem, repository_url_problem
from gitops_promoter.errors import ConfigError

HOSTILE = Path(__file__).parent / "hostile"
SECONDS = 5.0
MEMORY = 200 * 1024 * 1024

BASE = """\
version: 1
repositories:
  - name: deploy
    url: https://git.example/acme/deploy.git
    author: {name: gitops-promoter, email: promoter@acme.example}
environments:
  - name: dev
    mode: direct
apps:
  - name: web
    image: registry.example/acme/web
    repository: deploy
    policy:
      strategy: semver
      constraint: "^1.0"
    targets:
      dev:
        file: envs/dev/web/rollout.yaml
        edit: {kind: container, container: web}
"""


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]  # writes the config under the folder, returns its path
    expect: str
    line: int | None = None  # the defect's line, when it is one line
    whole_file: bool = False  # the problem is the file itself (size): it names the file, not a line


def _file(path: Path) -> Case:
    head = path.read_text(encoding="utf-8").splitlines()[:3]
    assert head[0].startswith("# Hostile config: ") and head[1].startswith("# line: ") and \
        head[2].startswith("# expect: "), f"{path.name}: the first lines say what it tries, where and what is expected"
    line = head[1].removeprefix("# line: ")
    return Case(path.stem, lambda _: path, head[2].removeprefix("# expect: "), None if line == "-" else int(line))


def _bytes(name: str, data: Callable[[], bytes], expect: str, *, line: int | None = None,
           whole_file: bool = False) -> Case:
    def build(folder: Path) -> Path:
        path = folder / f"{name}.yaml"
        path.write_bytes(data())
        return path

    return Case(name, build, expect, line, whole_file)


def _short(i: int) -> bytes:
    """A three-letter key (never a number), unique for i < 52 ** 3."""
    letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return bytes((letters[i // 2704], letters[i // 52 % 52], letters[i % 52]))


def _base(old: str, new: str) -> bytes:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new).encode("utf-8")


def _fifty_megabytes(folder: Path) -> Path:
    path = folder / "list-50mb.yaml"
    with path.open("wb") as fh:
        fh.write(BASE.encode() + b"extra: [")
        chunk = b"1," * (1 << 20)
        for _ in range(25):
            fh.write(chunk)
        fh.write(b"1]\n")
    return path


def _dev_zero(_: Path) -> Path:
    return Path("/dev/zero")


RECIPES = [
    # size and shape, before and while parsing
    Case("list-50mb", _fifty_megabytes, "larger than 1,048,576 bytes", whole_file=True),
    Case("dev-zero", _dev_zero, "larger than 1,048,576 bytes", whole_file=True),
    _bytes("comments-over-1mib", lambda: BASE.encode() + b"#" * (1 << 20), "larger than 1,048,576 bytes",
           whole_file=True),
    _bytes("flow-list-250k-items", lambda: BASE.encode() + b"extra: [" + b"1," * 250_000 + b"1]\n",
           "more than 200,000 values"),
    _bytes("mapping-110k-keys",
           lambda: BASE.encode() + b"extra: {" + b",".join(b"%s: 1" % _short(i) for i in range(110_000)) + b"}\n",
           "more than 200,000 values"),
    _bytes("flow-sequences-20000-deep", lambda: BASE.encode() + b"extra: " + b"[" * 20_000 + b"]" * 20_000 + b"\n",
           "nested deeper than 32 levels", line=20),
    _bytes("flow-mappings-20000-deep", lambda: BASE.encode() + b"extra: " + b"{a: " * 20_000 + b"1" + b"}" * 20_000,
           "nested deeper than 32 levels", line=20),
    _bytes("block-sequences-20000-deep", lambda: BASE.encode() + b"extra:\n" + b"- " * 20_000 + b"1\n",
           "nested deeper than 32 levels", line=21),
    _bytes("constraint-5000-digits", lambda: _base('constraint: "^1.0"', "constraint: " + "9" * 5000),
           "a number of 5,000 characters", line=15),
    _bytes("constraint-5000-digits-quoted", lambda: _base('constraint: "^1.0"', f'constraint: "{"9" * 5000}"'),
           "is 5,000 characters long; the limit is 256", line=15),
    _bytes("query-70k-characters", lambda: BASE.encode() + b"extra: |\n" + b"  " + b"x" * 70_000 + b"\n",
           "a value of 70,001 characters", line=20),
    _bytes("file-path-5000-characters", lambda: _base("file: envs/dev/web/rollout.yaml", "file: " + "a/" * 2500 + "x"),
           "is 5,001 characters long; the limit is 4,096", line=18),
    # encodings
    _bytes("latin-1", lambda: _base("name: web", "name: caf\xe9").decode().encode("latin-1"),
           "not UTF-8 (byte 0xe9)", line=10),
    _bytes("utf-16-le-bom", lambda: b"\xff\xfe" + BASE.encode("utf-16-le"), "UTF-16 byte-order mark", line=1),
    _bytes("utf-16-be-bom", lambda: b"\xfe\xff" + BASE.encode("utf-16-be"), "UTF-16 byte-order mark", line=1),
    _bytes("utf-32-le-bom", lambda: b"\xff\xfe\x00\x00" + BASE.encode("utf-32-le"), "UTF-32 byte-order mark", line=1),
    _bytes("utf-16-without-bom", lambda: BASE.encode("utf-16-le"), "U+0000 (NUL)", line=1),
    _bytes("truncated-utf-8", lambda: BASE.encode() + "# é".encode()[:-1], "not UTF-8 (byte 0xc3)", line=20),
    # raw control characters, wherever they are (comments included)
    _bytes("raw-nul", lambda: _base("name: web", "name: w\0eb"), "U+0000 (NUL)", line=10),
    _bytes("raw-bel", lambda: _base("name: web", "name: w\aeb"), "U+0007 (BEL)", line=10),
    _bytes("raw-escape-in-comment", lambda: BASE.encode() + b"# \x1b[2J\x1b[1;1H all good\n", "U+001B (ESC)", line=20),
    _bytes("raw-del", lambda: _base("name: web", "name: w\x7feb"), "U+007F (DEL)", line=10),
    _bytes("raw-nel", lambda: _base("name: web", "name: w\x85eb"), "U+0085 (NEL)", line=10),
    _bytes("raw-line-separator", lambda: _base("name: web", "name: w\u2028eb"), "U+2028 (LINE SEPARATOR)", line=10),
    _bytes("raw-bidi-override-in-comment", lambda: BASE.encode() + "# \u202e gnissap lla \u202c\n".encode(),
           "U+202E (a bidirectional override)", line=20),
    _bytes("raw-bom-mid-file", lambda: _base("name: web", "name: w\ufeffeb"), "U+FEFF (BYTE ORDER MARK)", line=10),
    _bytes("raw-lone-carriage-return", lambda: _base("name: web", "name: web\rname: evil"),
           "a carriage return without a line feed", line=10),
    _bytes("raw-thousand-bells", lambda: BASE.encode() + b"#" + b"\a" * 1000 + b"\n", "990 more such character(s)",
           whole_file=True),
]

CASES = [_file(path) for path in sorted(HOSTILE.glob("*.yaml"))] + RECIPES


def test_the_corpus_has_at_least_100_cases():
    assert len(CASES) >= 100
    assert len({case.name for case in CASES}) == len(CASES)


def test_the_recipes_base_is_sound():
    assert parse_config(BASE, source="base.yaml").apps[0].name == "web"


def _check_output(case: Case, path: Path, code: int, err: str) -> None:
    assert "Traceback" not in err, err
    assert code == 1, err
    hits = [line for line in err.splitlines() if case.expect in line]
    assert hits, f"expected {case.expect!r} in:\n{err}"
    if case.whole_file:
        assert any(line.startswith(f"{path}: ") for line in hits), err
    elif case.line is not None:
        assert any(line.startswith(f"{path}:{case.line}:") for line in hits), err
    else:
        assert any(re.match(rf"{re.escape(str(path))}:\d+:\d+: ", line) for line in hits), err


# Run as the command is run (`python -m gitops_promoter.cli`), in a new process that reports its own peak
# resident memory at exit: VmHWM of its address space. (wait4's ru_maxrss would count the pytest process
# it was forked from: Linux keeps the larger high-water mark across exec.)
RUN_AND_MEASURE = """\
import atexit, runpy, sys

peak_file = sys.argv.pop(1)

def report():
    with open("/proc/self/status") as status, open(peak_file, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")))

atexit.register(report)
runpy.run_module("gitops_promoter.cli", run_name="__main__", alter_sys=True)
"""
IN_A_PROCESS = ["list-50mb", "flow-list-250k-items", "mapping-110k-keys", "flow-sequences-20000-deep",
                "alias-bomb-in-metric", "constraint-5000-digits", "utf-16-le-bom", "latin-1", "raw-nul",
                "gate-key-superscript", "regex-redos-nested-plus", "condition-deep-parens"]

# Every case is timed as it runs. Memory is measured under tracemalloc (a second run, about twice as slow)
# where it could grow: the recipes and the alias bombs, except those measured as a process below.
HEAVY = {case.name for case in RECIPES} | {case.name for case in CASES if case.name.startswith("alias-")}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_config_is_refused_with_its_place(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = case.build(tmp_path)
    started = time.perf_counter()
    code = main(["check-config", str(path)])
    elapsed = time.perf_counter() - started
    _, err = capsys.readouterr()
    _check_output(case, path, code, err)
    assert elapsed < SECONDS, f"{case.name}: {elapsed:.2f}s"
    if case.name in HEAVY - set(IN_A_PROCESS):
        tracemalloc.start()
        try:
            assert main(["check-config", str(path)]) == 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        capsys.readouterr()
        assert peak < MEMORY, f"{case.name}: {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("name", IN_A_PROCESS)
def test_the_command_refuses_it_without_a_traceback(name: str, tmp_path: Path):
    (case,) = [case for case in CASES if case.name == name]
    path = case.build(tmp_path)
    peak_file = tmp_path / "vmhwm"
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", RUN_AND_MEASURE, str(peak_file), "check-config", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    _check_output(case, path, run.returncode, run.stderr)
    assert elapsed < SECONDS, f"{name}: {elapsed:.2f}s"
    kib = int(peak_file.read_text().split()[1])  # "VmHWM:    93512 kB"
    assert kib * 1024 < MEMORY, f"{name}: {kib / 1024:.0f} MiB resident at the peak"


# --- what stays accepted --------------------------------------------------------------------------------
@pytest.mark.parametrize(("old", "new"), [
    pytest.param("url: https://git.example/acme/deploy.git", "url: git@github.com:acme/deploy.git", id="scp-style-url"),
    pytest.param("url: https://git.example/acme/deploy.git", "url: ssh://git@github.com/acme/deploy.git",
                 id="ssh-user-is-a-login"),
    pytest.param("url: https://git.example/acme/deploy.git", "url: file:///srv/git/deploy.git", id="file-url"),
    pytest.param("url: https://git.example/acme/deploy.git", "url: /srv/git/deploy.git", id="local-path"),
    pytest.param("    author:", "    branch: release/2024.1\n    author:", id="hierarchical-branch"),
    pytest.param('constraint: "^1.0"', 'constraint: "^1.0"\n      allow_tags: \'^v?\\d+(\\.\\d+)*$\'',
                 id="a-repeated-group-that-needs-a-dot"),
    pytest.param("file: envs/dev/web/rollout.yaml", "file: ./envs/dev/web/rollout.yaml", id="dot-slash-path"),
])
def test_sound_shapes_still_load(old: str, new: str):
    assert BASE.count(old) == 1
    assert parse_config(BASE.replace(old, new), source="p.yaml").apps


def test_utf8_bom_crlf_anchors_and_merge_keys_load(tmp_path: Path):
    text = BASE.replace("environments:\n  - name: dev\n    mode: direct\n",
                        "environments:\n  - &env {name: dev, mode: direct}\n  - <<: *env\n    name: prod\n")
    path = tmp_path / "p.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    config = load_config(path)
    assert [e.name for e in config.environments] == ["dev", "prod"]


def test_a_large_sound_config_loads_in_bounded_time():
    app = BASE[BASE.index("  - name: web\n"):]
    text = BASE + "".join(app.replace("name: web", f"name: web{i}") for i in range(300))
    started = time.perf_counter()
    config = parse_config(text, source="big.yaml")
    assert len(config.apps) == 301 and time.perf_counter() - started < SECONDS


# --- the rules, one by one ---------------------------------------------------------------------------
BRANCHES = ["main", "release/2024.1", "feature/a-b_c", "v1.0", "ünïcødé", "a@b", "-f", "HEAD", "@", "a..b",
            "a.lock", "a/b.lock/c", ".a", "a/.b", "a.", "/a", "a/", "a//b", "a b", "a~1", "a^", "a:b", "a?",
            "a*", "a[", "a\\b", "a@{1}", "a\tb", "a\x7fb", "a" * 255]


@pytest.mark.parametrize("name", BRANCHES)
def test_branch_rules_agree_with_git_check_ref_format(name: str):
    git = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, check=False)
    assert (branch_problem(name) is None) == (git.returncode == 0), (name, branch_problem(name), git.stderr)


@pytest.mark.parametrize(("pattern", "refused"), [
    (r"^v?\d+\.\d+\.\d+$", None),
    (r"^main-[0-9a-f]+-(?P<ts>\d+)$", None),
    (r"^v\d+(\.\d+)*$", None),
    (r"^(\d+\.)+\d+$", None),
    (r"[[:alpha:]]+", None),
    (r"^(a+)+$", "repeats a repetition, (a+)+"),
    (r"(?:\w*)*", r"repeats a repetition, (?:\w*)*"),
    (r"((a+))+", "repeats a repetition, ((a+))+"),
    (r"^(x|y+){2,}$", "repeats a repetition, (x|y+){2,}"),
    (r"(a)\1", "no backreferences"),
    (r"(?<=v)1", "no lookaround"),
    (r"a{1001}", "invalid repetition size"),
])
def test_allow_tags_rules(pattern: str, refused: str | None):
    problem = regex_problem(pattern)
    assert (problem is None) if refused is None else (problem is not None and refused in problem), problem


def test_re2_prints_nothing_of_its_own(capfd: pytest.CaptureFixture[str]):
    assert regex_problem("(a)\\1") is not None
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(("url", "refused"), [
    ("https://github.com/acme/deploy.git", None),
    ("git@github.com:acme/deploy.git", None),
    ("ssh://git@github.com:22/acme/deploy.git", None),
    ("git://git.example/deploy.git", None),
    ("file:///srv/git/deploy.git", None),
    ("../deploy.git", None),
    ("https://user@github.com/acme/deploy.git", "credentials inside the URL"),
    ("https://:token@github.com/acme/deploy.git", "credentials inside the URL"),
    ("git://user@git.example/deploy.git", "credentials inside the URL"),
    ("ssh://git:pw@github.com/acme/deploy.git", "credentials inside the URL"),
    ("git:pw@github.com:acme/deploy.git", "credentials inside the URL"),
    ("https://github.com/acme/deploy.git#frag", "must not have a query"),
    ("fd::17", "remote helpers"),
    ("-uhelp", "must not start with '-'"),
    (" https://github.com/x", "must not start or end with spaces"),
    ("https:///acme/deploy.git", "names no host"),
])
def test_repository_url_rules(url: str, refused: str | None):
    problem = repository_url_problem(url)
    assert (problem is None) if refused is None else (problem is not None and refused in problem), problem


@pytest.mark.parametrize(("path", "refused"), [
    ("envs/dev/web/rollout.yaml", None),
    ("./values.yaml", None),
    ("a..b/c.yaml", None),
    (".github/deploy.yaml", None),
    ("../x", "'..'"),
    ("a/../../x", "'..'"),
    ("/etc/passwd", "absolute"),
    ("c:\\x", "absolute"),
    (".git/config", ".git"),
    ("a/.Git/hooks/pre-commit", ".git"),
    ("a\\b", "'\\'"),
    ("a//b", "empty part"),
    ("", "empty"),
])
def test_repository_path_rules(path: str, refused: str | None):
    problem = repo_path_problem(path)
    assert (problem is None) if refused is None else (problem is not None and refused in problem), problem


def test_parse_config_text_gets_the_same_limits():
    with pytest.raises(ConfigError, match=r"^p.yaml:1:4: the character U\+0007 \(BEL\) is not allowed in the file"):
        parse_config("a: \a\n", source="p.yaml")
    with pytest.raises(ConfigError, match="larger than 1,048,576 bytes"):
        parse_config("#" * (1 << 20) + "\n", source="p.yaml")


def test_a_secret_file_is_read_bounded(tmp_path: Path):
    config = parse_config(BASE.replace("    author:", "    credentials: {token: 'file:/dev/zero'}\n    author:"),
                          source="p.yaml")
    token = config.repositories["deploy"].token
    assert token is not None
    with pytest.raises(ConfigError, match=r"p.yaml:\d+:\d+: repositories\[0\].credentials.token: secret file "
                                          r"/dev/zero is larger than 65,536 bytes"):
        token.resolve()
    binary = tmp_path / "token"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        type(token)("file", str(binary), "p.yaml:1:1: token").resolve()
