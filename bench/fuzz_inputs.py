"""What `bench/fuzz.py` feeds the promoter: hypothesis strategies for hostile configs, tag lists,
tag policies and registry tags/list bodies.

Configs are structured mutations of valid ones (the project's example `config/promoter.yaml`
and the small config the hostile-config tests start from): values replaced by wrong types,
extreme numbers, control and bidi characters, huge strings, credentials in URLs, hostile regexes
and paths; keys removed, renamed or added; values shared (YAML aliases), cycles and alias bombs;
then the text itself is mutated (raw characters, deep nesting, duplicate keys, directives,
truncation, line endings) and encoded (UTF-8, BOMs, UTF-16/32, Latin-1, flipped bytes); a tenth
of the cases are raw random bytes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.config.test_hostile import BASE

ROOT = Path(__file__).resolve().parent.parent
BASES = (("config/promoter.yaml", yaml.safe_load((ROOT / "config" / "promoter.yaml").read_text())),
         ("tests/config/test_hostile.py BASE", yaml.safe_load(BASE)))

# --- characters and values an attacker picks ------------------------------------------------------
#: Controls, separators, bidi, BOM, lone surrogate, unicode digits, lookalikes.
HOSTILE_CHARS = ("\x00", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9b",
                 "\u2028", "\u2029", "\u202e", "\u2066", "\u200b", "\ufeff", "\ufffe", "\ud800", "\u0661", "\uff11",
                 "\u00b2", "\u0430", "\U0001d7cf", "\u0300", " ", "'", '"', "\\", ":", "#", "&", "*", "!", "%",
                 "@", "|", ">", "{", "}", "[", "]", ",", "-", "?", "$", "`")
hostile_char = st.sampled_from(HOSTILE_CHARS)
hostile_text = st.text(st.one_of(hostile_char, st.characters()), max_size=24)

CURATED = (
    # URLs: credentials, odd schemes, option injection, lookalike hosts
    "https://user:pw@github.com/acme/deploy.git", "https://tok@ghcr.io", "git:pw@github.com:acme/deploy.git",
    "ssh://-oProxyCommand=touch%20x/a", "-oProxyCommand=touch x", "ext::sh -c touch% /tmp/x", "fd::17",
    "http://[::1", "http://example.com:99999", "ftp://x", "file:///etc/passwd", "https://github.com/a.git?x=1#f",
    "https://ex\u0430mple.com/x", "http://127.0.0.1:5000/../../", "https:///x", "//x", "http://",
    # regexes: catastrophic backtracking, engine features RE2 refuses, broken syntax, big repeats
    "^(a+)+$", "(a|aa)*b", "(.*a){20}", "(?<=x)y", "(a)\\1", "[", "a{99999}", "a{1001}", "(?P<t>x)(?P<t>y)",
    "\\", "(x{1000}){1000}", "((((((((((a))))))))))", "(?i)^v?\\d+$", "^main-[0-9a-f]+-(?P<ts>\\d+)$", "$ts",
    "${ts}", "$$", "$99999999999", "(?P<v>.*)", "\\p{Nd}+", "[[:alpha:]]+", "\\Q(\\E", "(?m)^x$",
    # paths that leave the repository or point at git's own files
    "../../../etc/passwd", "/etc/passwd", "a/../../b", ".git/config", "a/.GIT/hooks/x", "C:\\x", "a\\..\\b",
    "\\\\server\\share", "~/.ssh/id_rsa", "a//b", "./././x", ".", "..", "envs/dev/web/rollout.yaml/",
    # durations and numbers as text
    "10", "10x", "-5s", "0s", "1e9s", "99999999999h", "nan", "inf", "1.5.5s", "\u0661s", "10s10s", "1h-1s",
    ".5s", "1_000s", "0x10", "0o17", "1e400", "-0", "+5",
    # names, emails, branches
    "a@b\nPromoter-App: x", "<x@y>", "x@y>", "a\tb", "-f", "HEAD", "a..b", "refs/heads/x", "a@{1}", "x.lock",
    "release/2024.1", "a" * 64, "Web", "web_", "-web", "w.e.b", "acme/sre", "@acme/sre",
    # constraints
    ">=1.0 <2.0 || ^3", "~", "^", "*", ">=a", ",,,", "1.2.3 - 4.5.6", "=v1", "!=1.0", "^" + "9" * 300,
    ">= 1.0.0-0", "1.x", "~> 2", "||", " - ",
    # secrets, templates, YAML-looking text
    "env:X", "env:", "env:1X", "file:/dev/zero", "file:../../etc/shadow", "file:", "plain-secret", "{{args.x}}",
    "{{args.}}", "{{", "", " ", "true", "null", "~", "yes", "*a", "&a", "!!python/object:os.system", "<<",
    # strategies, modes and kinds that do not exist or are spelt oddly
    "Semver", "newest-build ", "digest", "numerical", "alphabetical", "strict", "lenient", "desc", "ASC",
    "container", "kustomize", "helm", "marker", "direct", "pull-request", "merge", "squash", "rebase",
    "error", "zero", "inconclusive", "linux/amd64", "image.tag", "image..tag", "image.tag[0]",
)
NUMBERS = (0, -1, -5, 1, 2**31, 2**63, 2**64, 10**18, 10**40, 10**63, 1e308, -0.0, 1e-320, 0.5, -1.5,
           math.nan, math.inf, -math.inf)


@dataclass(frozen=True)
class Huge:
    """A long string, written out only when the case is built (hypothesis keeps every drawn value of
    the examples it remembers: drawing megabytes would measure hypothesis, not the promoter)."""

    unit: str
    count: int

    def text(self) -> str:
        return self.unit * self.count


huge_text = st.builds(Huge, st.sampled_from(("a", "9", "x/", "../", "\u2028", "é", "ab", "{{args.x}}")),
                      st.sampled_from((64, 129, 257, 513, 1025, 4097, 70_000)))
scalars = st.one_of(
    st.booleans(), st.none(), st.integers(), st.sampled_from(NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(CURATED), hostile_text, huge_text,
    st.dates().map(str), st.datetimes(),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
keys = st.one_of(st.sampled_from(("name", "url", "image", "policy", "targets", "extra", "Name", "namE", "\u0430pps",
                                  "version ", "<<", "?", "")),
                 hostile_text, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True))
index = st.integers(0, 2**16)  # a place (a value, a line, a character), taken modulo what there is
snippet = st.one_of(hostile_char, st.sampled_from(("..", "/", "@", ":pw@", " ")))

# --- structural mutations: (op, where, ...) applied to a copy of a valid config's tree -------------------
tree_ops = st.one_of(
    st.tuples(st.just("replace"), index, values),
    st.tuples(st.just("nudge"), index, snippet, index, values),
    st.tuples(st.just("delete"), index),
    st.tuples(st.just("unknown-key"), index, keys, values),
    st.tuples(st.just("rename"), index, snippet, index),
    st.tuples(st.just("alias"), index, index),
    st.tuples(st.just("bomb"), index, st.integers(1, 12), st.integers(2, 10)),
    st.tuples(st.just("deep"), index, st.integers(10, 60)),
    st.tuples(st.just("wrap"), index, st.integers(0, 2)),
    st.tuples(st.just("duplicate"), index),
    st.tuples(st.just("root"), values),
)


def _spots(node: Any, out: list[tuple[Any, Any]], seen: set[int]) -> list[tuple[Any, Any]]:
    """Every (container, key) in the tree, depth first; a container shared (an alias, a bomb, a
    cycle) is walked once."""
    if not isinstance(node, dict | list) or id(node) in seen:
        return out
    seen.add(id(node))
    for k in list(node) if isinstance(node, dict) else range(len(node)):
        out.append((node, k))
        _spots(node[k], out, seen)
    return out


def _containers(node: Any) -> list[Any]:
    return [node] + [c[k] for c, k in _spots(node, [], set()) if isinstance(c[k], dict | list)]


def _bomb(depth: int, width: int) -> list[Any]:
    """A "billion laughs": each level lists the one below `width` times (one object, dumped as aliases)."""
    level: list[Any] = ["lol"] * width
    for _ in range(depth):
        level = [level] * width
    return level


def _nested(depth: int) -> Any:
    node: Any = 1
    for i in range(depth):
        node = [node] if i % 2 else {"a": node}
    return node


def _built(value: Any) -> Any:
    """A drawn value with its Huge strings written out (drawn values are trees, never shared)."""
    if isinstance(value, Huge):
        return value.text()
    if isinstance(value, dict):
        return {k: _built(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_built(v) for v in value]
    return value


def _nudged(value: Any, snip: str, at: int, other: Any) -> Any:
    """The original value, slightly wrong: a hostile character inside it, its type changed."""
    if isinstance(value, str) and value:
        at %= len(value) + 1
        return value[:at] + snip + value[at:]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return (-value, value * 10**12, str(value), [value], float(value) * math.nan)[at % 5]
    return _built(other)


def _apply(tree: Any, op: tuple[Any, ...]) -> Any:
    """One structural mutation (in place where it can be); returns the (possibly new) root."""
    kind = op[0]
    spots = _spots(tree, [], set())
    if kind == "root" or not spots:
        return _built(op[-1])
    parent, key = spots[op[1] % len(spots)]
    if kind == "replace":
        parent[key] = _built(op[2])
    elif kind == "nudge":
        parent[key] = _nudged(parent[key], op[2], op[3], op[4])
    elif kind == "delete":
        del parent[key]
    elif kind == "unknown-key":
        target = parent if isinstance(parent, dict) else parent[key]
        if isinstance(target, dict):
            target[op[2]] = _built(op[3])
        else:
            parent[key] = {op[2]: parent[key]}
    elif kind == "rename" and isinstance(parent, dict):
        name = f"{key}"
        at = op[3] % (len(name) + 1)
        parent[name[:at] + op[2] + name[at:]] = parent.pop(key)
    elif kind == "alias":  # the same object twice: the dumper writes an anchor and an alias, maybe a cycle
        containers = _containers(tree)
        parent[key] = containers[op[2] % len(containers)]
    elif kind == "bomb":
        parent[key] = _bomb(op[2], op[3])
    elif kind == "deep":
        parent[key] = _nested(op[2])
    elif kind == "wrap":
        parent[key] = ([parent[key]], {"value": parent[key]}, [parent[key], parent[key]])[op[2]]
    elif kind == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    return tree


# --- text mutations: (op, ...) applied to the dumped YAML ---------------------------------------------
RAW_INSERTS = HOSTILE_CHARS + ("&a ", "*a", "*undefined", "!!binary ", "!!python/object/apply:os.system ", "? ",
                               "<<: ", "\n---\n", "\n...\n", "\t\t", "\n  ", "- ", "\r\n", "{", "[", "'", '"')
DIRECTIVES = ("%YAML 1.1\n---\n", "%TAG ! tag:x,2000:\n---\n", "--- !!map\n")
INDENTS = (" ", "\t", "  " * 20)
text_ops = st.one_of(
    st.tuples(st.just("insert"), index, st.one_of(st.sampled_from(RAW_INSERTS), hostile_text)),
    st.tuples(st.just("deep"), st.sampled_from((33, 100, 1000, 20_000)), st.integers(0, 2)),
    st.tuples(st.just("laughs"), st.integers(2, 12)),
    st.tuples(st.just("duplicate-line"), index, index),
    st.tuples(st.just("truncate"), index),
    st.tuples(st.sampled_from(("crlf", "cr", "two-documents"))),
    st.tuples(st.just("directive"), st.integers(0, len(DIRECTIVES) - 1)),
    st.tuples(st.just("indent"), index, st.integers(0, len(INDENTS) - 1)),
    st.tuples(st.just("huge-line"), st.sampled_from((65_537, 300_000, 1_100_000))),
)


def _edit(text: str, op: tuple[Any, ...]) -> str:
    kind = op[0]
    lines = text.split("\n")
    if kind == "insert":
        at = op[1] % (len(text) + 1)
        return text[:at] + op[2] + text[at:]
    if kind == "deep":
        depth = op[1]
        body = ("[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth,
                "\n" + "".join("  " * i + "- \n" for i in range(min(depth, 2000))))[op[2]]
        return f"{text}\nextra: {body}\n"
    if kind == "laughs":
        out = ["lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        out += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, op[1])]
        return text + "\n" + "\n".join(out) + "\n"
    if kind == "duplicate-line":
        at = op[2] % (len(lines) + 1)
        return "\n".join(lines[:at] + [lines[op[1] % len(lines)]] + lines[at:])
    if kind == "truncate":
        return text[:op[1] % (len(text) + 1)]
    if kind == "crlf":
        return text.replace("\n", "\r\n")
    if kind == "cr":
        return text.replace("\n", "\r")
    if kind == "two-documents":
        return text + "\n---\n" + text
    if kind == "directive":
        return DIRECTIVES[op[1]] + text
    if kind == "indent":
        at = op[1] % len(lines)
        lines[at] = INDENTS[op[2]] + lines[at]
        return "\n".join(lines)
    return text + "\nextra: " + "x" * op[1] + "\n"


ENCODINGS = ("utf-8",) * 8 + ("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "surrogates",
                              "flip")
encodings = st.tuples(st.sampled_from(ENCODINGS), st.lists(st.tuples(index, st.integers(0, 255)), max_size=4))


def _encode(text: str, how: str, flips: list[tuple[int, int]]) -> bytes:
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    if how in ("surrogates", "flip"):
        data = bytearray(text.encode("utf-8", "surrogatepass"))
        for at, byte in flips if how == "surrogates" else flips or [(0, 0)]:
            if data:
                data[at % len(data)] = byte
        return bytes(data)
    return text.encode(how, "surrogatepass")


def _dump(tree: Any, *, flow: bool | None, unicode: bool, width: int) -> str:
    try:
        return yaml.safe_dump(tree, default_flow_style=flow, allow_unicode=unicode, width=width, sort_keys=False)
    except (yaml.YAMLError, RecursionError, ValueError):  # a key the dumper cannot write: keep the value as text
        try:
            return yaml.safe_dump(json.loads(json.dumps(tree, default=str, skipkeys=True)), sort_keys=False)
        except (ValueError, RecursionError):  # a cycle through such a key
            return "version: 1\n"


@st.composite
def config_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    """The recipe of a config file (see `config_bytes`): a tenth raw random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return ("raw", draw(st.binary(max_size=4096)))
    style = (draw(st.sampled_from((False, None, True))), draw(st.booleans()), draw(st.sampled_from((80, 4096))))
    return ("mutated", draw(st.integers(0, len(BASES) - 1)), draw(st.lists(tree_ops, max_size=4)), style,
            draw(st.lists(text_ops, max_size=2)), draw(encodings))


def config_bytes(case: tuple[Any, ...]) -> bytes:
    """A config file's bytes from its recipe (`config_cases`): a mutated valid config, or raw bytes."""
    if case[0] == "raw":
        return bytes(case[1])
    _, base, ops, (flow, unicode, width), edits, (how, flips) = case
    tree = copy.deepcopy(BASES[base][1])
    for op in ops:
        tree = _apply(tree, op)
    text = _dump(tree, flow=flow, unicode=unicode, width=width)
    for op in edits:
        text = _edit(text, op)
    return _encode(text, how, flips)


# --- tags ---------------------------------------------------------------------------------------------
UNICODE_DIGITS = "\u0661\u0662\u0663\uff11\uff12\u00b2\u00b3\U0001d7cf\u07c1\u0967\u09e7"


@st.composite
def semverish(draw: st.DrawFn) -> str:
    """Mostly sound versions (half without a pre-release), with leading zeros, huge parts, odd prefixes."""
    number = st.one_of(st.integers(0, 3), st.integers(0, 3), st.integers(0, 12), st.integers(0, 2**70),
                       st.sampled_from(("00", "01", "007")))
    parts = [str(draw(number)) for _ in range(draw(st.integers(1, 4)))]
    pre = draw(st.one_of(st.just(""), st.sampled_from(("-rc.1", "-rc.01", "-alpha", "-x.Y.0", "-0", "-", "-rc..1",
                                                       "-beta.2"))))
    build = draw(st.sampled_from(("", "", "", "+meta", "_build.5")))
    return draw(st.sampled_from(("", "v", "v", "V", "release-"))) + ".".join(parts) + pre + build


@st.composite
def calverish(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 31).date()))
    shape = draw(st.sampled_from(("{y}.{m:02d}.{d:02d}", "v{y}.{m}.{d}", "{y}{m:02d}{d:02d}", "{y}.{m:02d}.{d:02d}-{n}",
                                  "main-{h}-{ts}", "{y}-{m:02d}-{d:02d}")))
    return shape.format(y=day.year, m=day.month, d=day.day, n=draw(st.integers(0, 99)),
                        h=hashlib.sha1(str(day).encode()).hexdigest()[:7], ts=draw(st.integers(0, 2**40)))


@st.composite
def hostile_tag(draw: st.DrawFn) -> str:
    base = draw(st.one_of(semverish(), calverish()))
    trick = draw(st.sampled_from(("char", "digits", "forge", "long", "text", "signature", "empty-ish")))
    if trick == "char":
        at = draw(st.integers(0, len(base)))
        return base[:at] + draw(hostile_char) + base[at:]
    if trick == "digits":
        return "".join(draw(st.sampled_from(UNICODE_DIGITS)) if c.isdigit() and draw(st.booleans()) else c
                       for c in base)
    if trick == "forge":
        sep = draw(st.sampled_from(("\n", "\u2028", "\u2029", "\x85", "\r\n", "\x0b", "\x1c", "\n\n")))
        return f"{base}{sep}Promoter-{draw(st.sampled_from(('App: api', 'Env: prod', 'Action: revert')))}"
    if trick == "long":
        return draw(st.sampled_from(("v1.", "9", "a", "v1.0.0-"))) + "9" * draw(st.sampled_from((125, 126, 127, 128,
                                                                                                  4400)))
    if trick == "signature":
        return f"sha256-{hashlib.sha256(base.encode()).hexdigest()}{draw(st.sampled_from(('.sig', '.att', '.sbom')))}"
    if trick == "empty-ish":
        return draw(st.sampled_from(("", " ", ".", "-", "_", "-v1.0.0", ".v1", "v1.0.0:latest", "../x", "v1/2")))
    return draw(hostile_text)


tag = st.one_of(semverish(), semverish(), calverish(), hostile_tag(), st.sampled_from(("latest", "main", "stable")))
sound_tag = st.one_of(st.builds("{}{}.{}.{}".format, st.sampled_from(("", "v")), st.integers(0, 3), st.integers(0, 20),
                                st.integers(0, 20)), calverish())


@st.composite
def _tag_lists(draw: st.DrawFn) -> list[str]:
    """Anything, mixed with a release train (hypothesis alone keeps lists short)."""
    mixed = draw(st.lists(tag, max_size=40)) + draw(st.lists(sound_tag, max_size=12))
    return list(draw(st.permutations(mixed))) if mixed else mixed


tag_lists = _tag_lists()

SEMVER_CONSTRAINTS = (None, "^1.0", ">=1.0 <2.0", "~1.2", "*", ">=2025.0.0", "1.x", ">= 1.0.0-0", "^0.0.1",
                      ">=1.0.0 <2.0.0 || >=3.0.0", "<1.0.0-0", "!=1.2.3", "1.2.3 - 4.5.6", ">=0.0.0-0")
ALLOW = (None, r"^v?\d+\.\d+\.\d+$", r"^v?(?P<v>\d+\.\d+\.\d+)", r"^main-[0-9a-f]+-(?P<ts>\d+)$",
         r"^(?P<n>\d+)$", r"(?P<n>.*)", r"^\d{4}\.\d{2}\.\d{2}", r"(?i)^V", r"rc", r"^(a+)+$", r"\p{Nd}")
EXTRACT = {r"^v?(?P<v>\d+\.\d+\.\d+)": "$v", r"^main-[0-9a-f]+-(?P<ts>\d+)$": "$ts", r"^(?P<n>\d+)$": "${n}",
           r"(?P<n>.*)": "$n"}
IGNORE = ((), (), (), ("*-debug",), ("*.sig",), ("v1.*",), ("[",), ("**",), ("*-rc*", "latest"))


@st.composite
def policies(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    """Keyword arguments for Policy.build: every strategy, with filters."""
    strategy = draw(st.sampled_from(("semver", "semver", "alphabetical", "numerical", "newest-build", "digest")))
    allow = draw(st.sampled_from(ALLOW)) if draw(st.booleans()) else None
    kw: dict[str, Any] = {"strategy": strategy, "allow_tags": allow, "ignore_tags": draw(st.sampled_from(IGNORE)),
                          "ignore_signature_tags": draw(st.sampled_from((None, True, False)))}
    if allow in EXTRACT and draw(st.booleans()):
        kw["extract"] = EXTRACT[allow]
    if strategy == "semver":
        kw["semver_mode"] = draw(st.sampled_from((None, "lenient", "strict")))
        kw["constraint"] = draw(st.sampled_from(SEMVER_CONSTRAINTS[1:] if kw["semver_mode"] == "strict"
                                                else SEMVER_CONSTRAINTS))
    elif strategy in ("alphabetical", "numerical"):
        kw["order"] = draw(st.sampled_from((None, "asc", "desc")))
    elif strategy == "digest":
        kw["constraint"] = draw(st.sampled_from(names + ["latest"])) if names else "latest"
    return kw


def created_times(names: list[str]) -> st.SearchStrategy[dict[str, datetime | None]]:
    # Aware times, as the registry adapter gives them (a time without a zone is read as UTC there).
    zones = st.sampled_from((UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))))
    when = st.one_of(st.none(), st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                                            timezones=zones))
    return st.fixed_dictionaries({n: when for n in dict.fromkeys(names)})


def digest_of(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


# --- registry tags/list bodies ------------------------------------------------------------------------
json_entry = st.one_of(tag, tag, st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                       st.lists(tag, max_size=2), st.dictionaries(st.text(max_size=4), tag, max_size=2))


HUGE_SHAPES = ("v1.{i}.0", "{i}", "t{j}", "\u2028{i}")
LITERALS = (b'{"tags": NaN}', b'{"tags": [Infinity, "v1.0.0"]}', b'{"tags": ["v1", -Infinity]}', b'{"tags": 1e999}',
            b'{"tags": [' + b"9" * 5000 + b"]}", b'{"tags": ["\\ud800v1.0.0", "v1.0.0"]}',
            b'{"tags": ["a"], "tags": 5}')
entries = st.lists(json_entry, max_size=60)
body_cases = st.one_of(
    st.tuples(st.just("list"), entries, st.booleans()),
    st.tuples(st.just("list"), entries, st.booleans()),
    st.tuples(st.just("huge"), st.sampled_from((1000, 20_000, 100_000, 100_001, 150_000)),
              st.integers(0, len(HUGE_SHAPES) - 1)),
    st.tuples(st.just("duplicates"), entries),
    st.tuples(st.just("truncated"), entries, index),
    st.tuples(st.just("encoding"), entries, st.sampled_from(("utf-16", "utf-32", "utf-8-sig", "latin-1"))),
    st.tuples(st.just("wrong-type"), st.one_of(scalars.filter(lambda v: not isinstance(v, datetime)),
                                               st.dictionaries(st.text(max_size=4), tag, max_size=3))),
    st.tuples(st.just("no-tags"), st.sampled_from(("Tags", "tag", "tags "))),
    st.tuples(st.just("not-object"), st.one_of(st.lists(tag, max_size=3), tag, st.integers(), st.none())),
    st.tuples(st.just("literals"), st.integers(0, len(LITERALS) - 1)),
    st.tuples(st.just("deep"), st.sampled_from((100, 1000, 100_000))),
    st.tuples(st.just("oversize")),
    st.tuples(st.just("garbage"), st.binary(max_size=2048)),
)


def tags_body(case: tuple[Any, ...]) -> bytes:
    """A tags/list answer from its recipe (`body_cases`): a sound shape with hostile entries, a wrong
    shape, or not JSON at all."""
    kind = case[0]
    if kind == "huge":
        shape = HUGE_SHAPES[case[2]]
        return json.dumps({"name": "acme/web", "tags": [shape.format(i=i, j=i % 7) for i in range(case[1])]}).encode()
    if kind in ("list", "duplicates", "truncated", "encoding"):
        listed = case[1] + case[1][::-1] if kind == "duplicates" else case[1]
        text = json.dumps({"name": "acme/web", "tags": listed}, ensure_ascii=kind == "list" and case[2])
        if kind == "truncated":
            text = text[:case[2] % (len(text) + 1)]
        if kind == "encoding":
            return text.encode(case[2], "replace")
        return text.encode("utf-8", "surrogatepass")
    if kind == "wrong-type":
        return json.dumps({"name": "acme/web", "tags": _built(case[1])}, default=str).encode()
    if kind == "no-tags":
        return json.dumps({"name": "acme/web", case[1]: ["v1.0.0"]}).encode()
    if kind == "not-object":
        return json.dumps(case[1]).encode()
    if kind == "literals":
        return LITERALS[case[1]]
    if kind == "deep":
        return b'{"tags": ' + b"[" * case[1] + b"]" * case[1] + b"}"
    if kind == "oversize":
        return b'{"tags": ["' + b"a" * (16 * 1024 * 1024 + 1) + b'"]}'
    return bytes(case[1])
