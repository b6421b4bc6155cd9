"""The condition language, case by case (Argo Rollouts' documented condition shapes)."""

import math

import pytest

from gitops_promoter.domain.expr import Condition, ExprError

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(("condition", "result", "expected"), [
    pytest.param("result[0] >= 0.95", [0.97], True, id="argo-doc-index"),
    pytest.param("result[0] >= 0.95", [0.90], False, id="argo-doc-index-below"),
    pytest.param("result >= 0.95", 0.97, True, id="scalar"),
    pytest.param("len(result) == 0", [], True, id="len-empty"),
    pytest.param("all(result, {# >= 0.95})", [0.97, 0.99], True, id="all"),
    pytest.param("all(result, {# >= 0.95})", [0.97, 0.90], False, id="all-one-low"),
    pytest.param("all(result, {# >= 0.95})", [], True, id="all-over-nothing-is-true-as-in-argo"),
    pytest.param("any(result, {# < 0.5})", [0.97, 0.4], True, id="any"),
    pytest.param("none(result, {# < 0.5})", [0.97], True, id="none"),
    pytest.param("isNaN(result[0])", [NAN], True, id="isNaN"),
    pytest.param("isInf(result)", INF, True, id="isInf"),
    pytest.param("isInf(result, -1)", -INF, True, id="isInf-sign"),
    pytest.param("isNil(result)", None, True, id="isNil"),
    pytest.param("!isNil(result) && result > 1", 2.0, True, id="not-and"),
    pytest.param("not isNil(result) and result > 1", 2.0, True, id="word-operators"),
    pytest.param("result < 1 || result > 10", 11.0, True, id="or"),
    pytest.param("result < 1 or result > 10", 5.0, False, id="or-words"),
    pytest.param("result[0] / result[1] > 0.5", [3.0, 4.0], True, id="arithmetic"),
    pytest.param("(result[0] + result[1]) * 2 == 14", [3.0, 4.0], True, id="parentheses"),
    pytest.param("result % 2 == 1", 7.0, True, id="modulo"),
    pytest.param("2 ** 3 ** 2 == 512", 0.0, True, id="power-right-assoc"),
    pytest.param("1 + 2 * 3 == 7", 0.0, True, id="precedence"),
    pytest.param("-result < 0", 1.0, True, id="unary-minus"),
    pytest.param("result[-1] == 3", [1.0, 2.0, 3.0], True, id="negative-index"),
    pytest.param("result[0] >= 0.95", [NAN], False, id="nan-compares-false"),
    pytest.param("result == 'ok'", "ok", True, id="strings"),
    pytest.param("asInt(result) == 3", 3.7, True, id="asInt"),
    pytest.param("result[0] in [200, 204]", [204.0], True, id="in-list-literal"),
    pytest.param("result[0] in [200, 204]", [500.0], False, id="in-list-literal-absent"),
    pytest.param("result not in [500, 503]", 200.0, True, id="not-in-words"),
    pytest.param("!(result in [1])", 1.0, False, id="negated-in"),
    pytest.param("1 in result", [3.0, 1.0], True, id="in-the-result-vector"),
    pytest.param("result in [1] && true", 1.0, True, id="in-binds-tighter-than-and"),
    pytest.param("1 + 1 in [2]", 0.0, True, id="arithmetic-binds-tighter-than-in"),
    pytest.param("'ok' in ['ok', 'fine']", 0.0, True, id="in-strings"),
])
def test_conditions(condition, result, expected):
    assert Condition(condition).check(result) is expected


@pytest.mark.parametrize(("condition", "result", "message"), [
    pytest.param("result[0] >= 0.95", [], "index 0 out of range", id="empty-vector-index"),
    pytest.param("result >= 0.95", None, "needs a number, got nil", id="nil-compare"),
    pytest.param("result && true", 1.0, "needs true or false", id="logic-needs-bools"),
    pytest.param("result + 1", 1.0, "gave 2.0, not true or false", id="not-a-boolean"),
    pytest.param("foo > 1", 1.0, "unknown name 'foo'", id="unknown-name"),
    pytest.param("sqrt(result) > 1", 1.0, "unknown function 'sqrt'", id="unknown-function"),
    pytest.param("result[0] >=", [1.0], "unexpected 'the end'", id="syntax"),
    pytest.param("result / 0 > 1", 1.0, "division by zero", id="division-by-zero"),
    pytest.param("result > 1 $", 1.0, "unexpected character '$'", id="bad-char"),
    pytest.param("all(result, # > 1)", [1.0], "all(list, {predicate})", id="predicate-needs-braces"),
    pytest.param("__import__('os')", 1.0, "unknown function '__import__'", id="no-python"),
    pytest.param("result in 3", 1.0, "'in' needs a list, got 3.0", id="in-needs-a-list"),
    pytest.param("result in [1, 2", 1.0, "expected ','", id="unclosed-list"),
])
def test_errors(condition, result, message):
    with pytest.raises(ExprError) as info:
        Condition(condition).check(result)
    assert message in str(info.value)


@pytest.mark.parametrize(("source", "expected"), [
    pytest.param("(" * 400 + "1" + ")" * 400, "nested too deep", id="400-parentheses"),
    pytest.param("-" * 2000 + "1", "nested too deep", id="2000-minus-signs"),
    pytest.param("1" + "+1" * 1100 + " > 0", "a condition of 2205 characters; at most 2048", id="too-long"),
    pytest.param("1" + "+1" * 100 + " > 0", "more than 32 levels", id="deep-chain"),
    pytest.param('"\\x" == result', "bad escape in the string", id="bad-escape"),
])
def test_a_hostile_condition_is_an_expr_error_in_bounded_time(source, expected):
    """Issue 10: conditions come from AnalysisTemplates in the repository too — never a crash."""
    with pytest.raises(ExprError, match=expected):
        Condition(source)
