"""The config reader (config/reader.py: libyaml's events, built into `Map` / `Seq` with positions)
against ruamel.yaml's round-trip loader, which it replaced: the same values for every unquoted scalar
a short alphabet can spell, and the same data and key/value positions for every YAML file in this
repository that both accept. Deliberate differences, pinned below: `=` and `<<` as values are text
(ruamel.yaml made tagged objects of them); a date is text (as the old reader's resolver had it); an
empty value sits right after its key's colon."""

from __future__ import annotations

import datetime
import io
import itertools
import math
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

from gitops_promoter.config.reader import Map, Seq, load_yaml, plain_value
from gitops_promoter.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ALPHABET = "0178+-._eExobinfINFaA~"
WORDS = ["true", "True", "TRUE", "false", "FALSE", "yes", "no", "on", "off", "y", "n", "null", "Null", "NULL", "~",
         ".inf", "-.inf", "+.Inf", ".nan", ".NaN", ".NAN", "0x1F", "0xff", "0o17", "017", "0b101", "1_000", "1__0",
         "0x_", "._", "1e3", "1E3", "1.e3", "-1.5e-3", ".5", "+.5", "1.", "12:30", "12:30:45", "2001-12-14",
         "2001-12-14t21:59:43.10-05:00", "1.0.0", "v1.2", "0.1", "-0", "+0", "00", "0099", "1e", "e1", "0b", "0o",
         "0x", "_", "__", "_1", "1_", "-_", "9" * 64, "1" * 30 + ".5"]


def _ruamel(text: str) -> Any:
    return YAML(typ="rt").load(io.StringIO(text))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) or (isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool)
                                  and not isinstance(b, bool)) or (isinstance(a, float) and isinstance(b, float)) \
        or (isinstance(a, str) and isinstance(b, str)) if a == b else False


def _spellings() -> list[str]:
    out = list(WORDS)
    for n in (1, 2, 3):
        out += ["".join(p) for p in itertools.product(ALPHABET, repeat=n)]
    return out


def test_every_unquoted_scalar_reads_as_ruamel_read_it():
    differ = []
    for text in _spellings():
        try:
            theirs: Any = _ruamel(f"v: {text}\n")["v"]
        except Exception:  # noqa: BLE001 - not a scalar here (`-`, `~~`...), or a number ruamel cannot build
            theirs = ConfigError
        try:
            ours: Any = load_yaml(f"v: {text}\n", source="p")["v"]
        except ConfigError:
            ours = ConfigError
        if isinstance(theirs, TaggedScalar) and text in ("=", "<<") or isinstance(theirs, datetime.date):
            assert ours == text  # text, on purpose (the old reader's resolver also read dates as text)
            continue
        if theirs is ConfigError or ours is ConfigError:
            if theirs is not ours:
                differ.append((text, ours, theirs))
        elif not _same(ours, theirs):
            differ.append((text, ours, theirs))
    assert differ == []


@pytest.mark.parametrize(("text", "value"), [
    ("1_000", 1000), ("017", 17), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("-0x10", -16), ("1e3", 1000.0),
    ("-.inf", -math.inf), ("2001-12-14", "2001-12-14"), ("yes", "yes"), ("~", None), ("", None), ("TRUE", True),
    ("1.0.0", "1.0.0"),
])
def test_plain_values(text, value):
    assert plain_value(text) == value and type(plain_value(text)) is type(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "NaN"  # equal to itself
    if isinstance(value, datetime.date):
        return str(value)
    return value


def _positions(ours: Any, theirs: Any, path: str, out: list[str]) -> None:
    if isinstance(theirs, CommentedMap) and isinstance(ours, Map):
        for key in theirs:
            if key not in theirs.lc.data:
                continue  # a merged key: ruamel.yaml keeps no position for it (ours is where it is written)
            kl, kc, vl, vc = theirs.lc.data[key]
            empty = theirs[key] is None and ours.values_at[key][0] == kl and (vl, vc) != ours.values_at[key]
            if ours.keys_at[key] != (kl, kc) or (not empty and ours.values_at[key] != (vl, vc)):
                out.append(f"{path}.{key}: {ours.keys_at[key]} {ours.values_at[key]} vs {(kl, kc)} {(vl, vc)}")
            _positions(ours[key], theirs[key], f"{path}.{key}", out)
    elif isinstance(theirs, CommentedSeq) and isinstance(ours, Seq):
        for i, item in enumerate(theirs):
            if tuple(theirs.lc.data[i]) != ours.items_at[i]:
                out.append(f"{path}[{i}]: {ours.items_at[i]} vs {theirs.lc.data[i]}")
            _positions(ours[i], item, f"{path}[{i}]", out)


FILES = sorted(p for p in [*ROOT.glob("config/*.y*ml"), *ROOT.glob("tests/config/hostile/*.yaml"),
                           *ROOT.glob("fixtures/**/*.y*ml")] if p.is_file())


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_a_file_reads_as_ruamel_read_it(path: Path):
    text = path.read_text(encoding="utf-8")
    try:
        theirs = _ruamel(text)
        ours = load_yaml(text, source=path.name)
    except Exception:  # noqa: BLE001 - a hostile file one of the two refuses: test_hostile.py pins what we say
        return
    assert _plain(ours) == _plain(theirs)
    out: list[str] = []
    _positions(ours, theirs, "", out)
    assert out == []


def test_the_corpus_holds_the_example_config():
    assert any(p.name == "promoter.yaml" for p in FILES) and len(FILES) > 150


def test_merge_keys_keep_the_written_key_and_the_first_merged_one():
    data = load_yaml("a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nc:\n  <<: [*a, *b]\n  x: 0\n", source="p")
    assert dict(data["c"]) == {"x": 0, "y": 2, "z": 4}
    assert data["c"].keys_at["y"] == (0, 13)  # where the merged value is written


def test_a_key_written_twice_is_refused_at_the_second():
    with pytest.raises(ConfigError, match=r"^p:3:3: a \(a key\): duplicate key 'b'"):
        load_yaml("a:\n  b: 1\n  b: 2\n", source="p")


def test_a_merge_key_written_twice_in_one_mapping_is_refused():
    with pytest.raises(ConfigError, match=r"^p:4:3: b \(a key\): duplicate key '<<'"):
        load_yaml("a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n", source="p")


def test_an_alias_of_an_anchored_merge_key_is_the_text_not_a_merge():
    data = load_yaml("a: &a {x: 1}\nb: {&m <<: *a, d: *m}\n", source="p")
    assert dict(data["b"]) == {"d": "<<", "x": 1}
