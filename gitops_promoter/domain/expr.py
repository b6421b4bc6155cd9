"""A small, safe evaluator for Argo Rollouts analysis conditions (no `eval`).

Covers what AnalysisTemplates write against Prometheus results: `result`, indexing
(`result[0]`), `len(x)`, `isNaN(x)`, `isInf(x)`, `isNil(x)`, `asFloat(x)`, `asInt(x)`,
`all(list, {# >= 0.95})` / `any(...)` / `none(...)` predicates, comparisons
(`== != < <= > >=`), `&&` `||` `!` and `and` `or` `not`, arithmetic (`+ - * / %`),
`in` / `not in` (membership in a list, e.g. `result[0] in [200, 204]`, as expr-lang's `in`),
list literals, parentheses, numbers, strings, `true` / `false` / `nil`.

As in expr-lang (which Argo uses), logic needs booleans and arithmetic needs numbers; anything
else — nil in a comparison, an index out of range, an unknown name — is an ExprError, which the
analysis turns into an Error measurement. Never a success.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops_promoter.errors import PromoterError


class ExprError(PromoterError):
    """The condition cannot be parsed or evaluated on this result."""


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
    | (?P<op>&&|\|\||==|!=|<=|>=|\*\*|[-+*/%<>!()\[\]{},#.])
    )""", re.VERBOSE)

_WORDS = {"and": "&&", "or": "||", "not": "!"}
_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "not in": 4, "+": 5,
           "-": 5, "*": 6, "/": 6, "%": 6, "**": 7}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(source: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        m = _TOKEN.match(source, pos)
        if m is None or m.end() == pos:
            raise ExprError(f"unexpected character {source[pos:].strip()[0]!r} at {pos + 1} in {source!r}")
        kind = m.lastgroup or "op"
        text = m.group(kind)
        if kind == "name" and text in _WORDS:
            kind, text = "op", _WORDS[text]
        out.append(_Tok(kind, text, m.start(kind)))
        pos = m.end()
    out.append(_Tok("end", "", len(source)))
    return out


Node = tuple[Any, ...]


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.toks = _tokens(source)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None) -> _Tok:
        tok = self.toks[self.i]
        if text is not None and tok.text != text:
            found = tok.text or "the end"
            raise ExprError(f"expected {text!r} but found {found!r} at {tok.pos + 1} in {self.source!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.expr(0)
        if self.peek().kind != "end":
            tok = self.peek()
            raise ExprError(f"unexpected {tok.text!r} at {tok.pos + 1} in {self.source!r}")
        return node

    def expr(self, min_prec: int) -> Node:
        """Precedence climbing; `**` is right-associative, every other operator left-associative."""
        left = self.unary()
        while True:
            op = self._binary_op()
            prec = _BINARY.get(op) if op else None
            if op is None or prec is None or prec < min_prec:
                return left
            self.take()
            if op == "not in":
                self.take("in")
            right = self.expr(prec if op == "**" else prec + 1)
            left = ("bin", op, left, right)

    def _binary_op(self) -> str | None:
        """The binary operator at the cursor: an operator token, `in`, or `not in` (`!` then `in`)."""
        tok = self.toks[self.i]
        if tok.kind == "name" and tok.text == "in":
            return "in"
        if tok.kind == "op" and tok.text == "!" and self.toks[self.i + 1].text == "in":
            return "not in"
        return tok.text if tok.kind == "op" else None

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("!", "-", "+"):
            self.take()
            return ("un", tok.text, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.text == "[":
                self.take()
                index = self.expr(0)
                self.take("]")
                node = ("index", node, index)
            elif tok.text == "." and self.toks[self.i + 1].kind == "name":
                self.take()
                node = ("attr", node, self.take().text)
            else:
                return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            return ("lit", float(tok.text))
        if tok.kind == "str":
            try:
                return ("lit", bytes(tok.text[1:-1], "utf-8").decode("unicode_escape"))
            except UnicodeDecodeError as exc:
                raise ExprError(f"bad escape in the string at {tok.pos + 1} in {self.source!r}: {exc.reason}") from None
        if tok.text == "(":
            node = self.expr(0)
            self.take(")")
            return node
        if tok.text == "[":
            items: list[Node] = []
            while self.peek().text != "]":
                items.append(self.expr(0))
                if self.peek().text != "]":
                    self.take(",")
            self.take("]")
            return ("list", items)
        if tok.text == "#":
            return ("it",)
        if tok.text == "{":
            body = self.expr(0)
            self.take("}")
            return ("closure", body)
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return ("lit", tok.text == "true")
            if tok.text in ("nil", "null"):
                return ("lit", None)
            if self.peek().text == "(":
                self.take()
                args: list[Node] = []
                while self.peek().text != ")":
                    args.append(self.expr(0))
                    if self.peek().text != ")":
                        self.take(",")
                self.take(")")
                return ("call", tok.text, args)
            return ("var", tok.text)
        found = tok.text or "the end"
        raise ExprError(f"unexpected {found!r} at {tok.pos + 1} in {self.source!r}")


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExprError(f"{what} needs a number, got {_show(value)}")
    return float(value)


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"{what} needs true or false, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return repr(value)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("==", "!="):
        equal = a == b
        return equal if op == "==" else not equal
    if isinstance(a, str) and isinstance(b, str):
        x, y = a, b
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    fa, fb = _num(a, f"'{op}'"), _num(b, f"'{op}'")
    return {"<": fa < fb, "<=": fa <= fb, ">": fa > fb, ">=": fa >= fb}[op]


def _arith(op: str, a: Any, b: Any) -> float:
    fa, fb = _num(a, f"'{op}'"), _num(b, f"'{op}'")
    if op == "+":
        return fa + fb
    if op == "-":
        return fa - fb
    if op == "*":
        return fa * fb
    if op == "**":
        return float(fa**fb)
    if fb == 0:
        raise ExprError(f"division by zero in '{op}'")
    return fa / fb if op == "/" else math.fmod(fa, fb)


def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ExprError(f"{what} needs a list, got {_show(value)}")
    return value


_FUNCS: dict[str, Callable[..., Any]] = {
    "len": lambda x: float(len(_as_list(x, "len") if not isinstance(x, str) else x)),
    "isNaN": lambda x: isinstance(x, float) and math.isnan(x),
    "isInf": lambda x, sign=0.0: isinstance(x, float) and math.isinf(x) and (sign == 0 or (x > 0) == (sign > 0)),
    "isNil": lambda x: x is None,
    "asFloat": lambda x: float(x) if not isinstance(x, bool) else _num(x, "asFloat"),
    "asInt": lambda x: float(int(_num(x, "asInt"))),
    "abs": lambda x: abs(_num(x, "abs")),
}


MAX_SOURCE, MAX_DEPTH = 2048, 32  # a condition's length and its tree's depth (operators, brackets)


def _depth(tree: Node) -> int:
    """How deep the parsed tree is, counted without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        stack += [(child, level + 1) for child in _children(node)]
    return deepest


def _children(node: Any) -> list[Any]:
    out: list[Any] = []
    for part in node[1:] if isinstance(node, tuple) else ():
        if isinstance(part, tuple) and part and isinstance(part[0], str):
            out.append(part)
        elif isinstance(part, list):
            out += [p for p in part if isinstance(p, tuple)]
    return out


class Condition:
    """A parsed condition; `check(result)` gives True/False or raises ExprError."""

    def __init__(self, source: str) -> None:
        self.source = source
        if len(source) > MAX_SOURCE:
            raise ExprError(f"a condition of {len(source)} characters; at most {MAX_SOURCE}")
        try:
            self.tree = _Parser(source).parse()
        except RecursionError:
            raise ExprError(f"condition nested too deep: {source[:60]!r}…") from None
        if _depth(self.tree) > MAX_DEPTH:
            raise ExprError(f"condition nested too deep (more than {MAX_DEPTH} levels): {source[:60]!r}…")

    def check(self, result: Any) -> bool:
        value = self._eval(self.tree, {"result": result}, None)
        if not isinstance(value, bool):
            raise ExprError(f"condition {self.source!r} gave {_show(value)}, not true or false")
        return value

    def _eval(self, node: Node, env: dict[str, Any], it: Any) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "it":
            return it
        if kind == "list":
            return [self._eval(item, env, it) for item in node[1]]
        if kind == "var":
            if node[1] not in env:
                raise ExprError(f"unknown name {node[1]!r} in {self.source!r}")
            return env[node[1]]
        if kind == "un":
            value = self._eval(node[2], env, it)
            if node[1] == "!":
                return not _bool(value, "'!'")
            return -_num(value, "'-'") if node[1] == "-" else _num(value, "'+'")
        if kind == "bin":
            op = node[1]
            if op in ("&&", "||"):
                left = _bool(self._eval(node[2], env, it), f"'{op}'")
                if (op == "&&" and not left) or (op == "||" and left):
                    return left
                return _bool(self._eval(node[3], env, it), f"'{op}'")
            a, b = self._eval(node[2], env, it), self._eval(node[3], env, it)
            if op in ("in", "not in"):
                found = any(_compare("==", a, x) for x in _as_list(b, f"'{op}'"))
                return found if op == "in" else not found
            if op in ("==", "!=", "<", "<=", ">", ">="):
                return _compare(op, a, b)
            return _arith(op, a, b)
        if kind == "index":
            seq = _as_list(self._eval(node[1], env, it), "indexing")
            raw = _num(self._eval(node[2], env, it), "an index")
            index = int(raw)
            if index != raw or not -len(seq) <= index < len(seq):
                raise ExprError(f"index {raw:g} out of range for {_show(seq)} in {self.source!r}")
            return seq[index]
        if kind == "attr":
            raise ExprError(f"no field {node[2]!r} in {self.source!r}")
        if kind == "closure":
            raise ExprError(f"a predicate {{...}} is only allowed as the second argument of all/any/none in "
                            f"{self.source!r}")
        if kind == "call":
            name, args = node[1], node[2]
            if name in ("all", "any", "none", "filter", "count"):
                return self._predicate(name, args, env, it)
            if name not in _FUNCS:
                raise ExprError(f"unknown function {name!r} in {self.source!r}")
            values = [self._eval(a, env, it) for a in args]
            try:
                return _FUNCS[name](*values)
            except TypeError:
                raise ExprError(f"{name}() got {len(values)} argument(s) in {self.source!r}") from None
        raise ExprError(f"cannot evaluate {self.source!r}")  # pragma: no cover

    def _predicate(self, name: str, args: list[Node], env: dict[str, Any], it: Any) -> Any:
        if len(args) != 2 or args[1][0] != "closure":
            raise ExprError(f"{name}(list, {{predicate}}) in {self.source!r}")
        items = _as_list(self._eval(args[0], env, it), name)
        results = [_bool(self._eval(args[1][1], env, item), f"{name}'s predicate") for item in items]
        if name == "all":
            return all(results)
        if name == "any":
            return any(results)
        if name == "none":
            return not any(results)
        if name == "count":
            return float(sum(results))
        return [item for item, keep in zip(items, results, strict=True) if keep]
