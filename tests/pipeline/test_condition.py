"""The `when.condition` language: precedence, quoting, paths, errors with columns, evaluation."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from oore.pipeline import ConditionError, evaluate, parse_condition
from oore.pipeline.condition import BoolOp, Compare, Literal, Not, Path

PR_EVENT: dict[str, object] = {
    "action": "synchronize",
    "number": 42,
    "pull_request": {
        "draft": False,
        "labels": [{"name": "codemagicTest"}, {"name": "ios"}],
        "head": {"ref": "feature/login"},
    },
}


def holds(
    text: str,
    env: Mapping[str, str] | None = None,
    event: Mapping[str, object] | None = None,
    inputs: Mapping[str, object] | None = None,
) -> bool:
    return evaluate(parse_condition(text), env=env or {}, event=event, inputs=inputs)


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    tree = parse_condition("not env.A or env.B and env.C").tree
    a, b, c = (Path("env", (name,)) for name in "ABC")
    assert tree == BoolOp("or", Not(a), BoolOp("and", b, c))


def test_comparison_binds_tighter_than_not() -> None:
    # Codemagic's own example reads "not (label == 'codemagicTest')".
    tree = parse_condition('not event.pull_request.labels[0].name == "codemagicTest"').tree
    path = Path("event", ("pull_request", "labels", 0, "name"))
    assert tree == Not(Compare("==", path, Literal("codemagicTest")))
    assert (
        holds('not event.pull_request.labels[0].name == "codemagicTest"', event=PR_EVENT) is False
    )


def test_and_and_or_group_left_to_right() -> None:
    a, b, c = (Path("env", (name,)) for name in "ABC")
    assert parse_condition("env.A and env.B and env.C").tree == BoolOp(
        "and", BoolOp("and", a, b), c
    )
    assert parse_condition("env.A or env.B or env.C").tree == BoolOp("or", BoolOp("or", a, b), c)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true or false and false", True),  # and first: true or (false and false)
        ("(true or false) and false", False),
        ("not false and false", False),  # (not false) and false
        ("not (false and false)", True),
        ("false or not false", True),
        ("not not true", True),
    ],
)
def test_precedence_by_value(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'single'", "single"),
        ('"double"', "double"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        (r"'back\\slash'", "back\\slash"),
        (r"'esc\'aped'", "esc'aped"),
        (r'"tab\there"', "tab\there"),
        ("''", ""),
        ("'a and b or not c'", "a and b or not c"),
        ("42", 42),
        ("-7", -7),
        ("1.5", 1.5),
        ("true", True),
        ("false", False),
        ("null", None),
    ],
)
def test_literals(text: str, value: object) -> None:
    assert parse_condition(text).tree == Literal(value)


def test_paths_with_dots_and_subscripts() -> None:
    tree = parse_condition("event.pull_request['head'].ref").tree
    assert tree == Path("event", ("pull_request", "head", "ref"))
    assert parse_condition("${{ inputs.runTests }}").tree == Path("inputs", ("runTests",))
    assert parse_condition("${{inputs.x}}").tree == Path("inputs", ("x",))


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ('env.BRANCH == "main"', {"BRANCH": "main"}, True),
        ("env.BRANCH == 'main'", {"BRANCH": "dev"}, False),
        ("env.BRANCH != 'main'", {"BRANCH": "dev"}, True),
        ("env.MISSING == null", {}, True),
        ("env.MISSING", {}, False),
        ("env.FLAG", {"FLAG": "false"}, True),  # a non-empty string is truthy
        ("env.EMPTY", {"EMPTY": ""}, False),
        ("env.N == 1", {"N": "1"}, False),  # env values are text
        ("env.N == '1'", {"N": "1"}, True),
        ("env.CI == 'true' and not env.SKIP", {"CI": "true"}, True),
    ],
)
def test_env_conditions(text: str, env: dict[str, str], expected: bool) -> None:
    assert holds(text, env=env) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not event.pull_request.draft", True),
        ("event.pull_request.labels[1].name == 'ios'", True),
        ("event.pull_request.labels[5].name == 'ios'", False),
        ("event.pull_request.labels[-1].name == 'ios'", True),
        ("event.number == 42", True),
        ("event.number == 42.0", True),
        ("event.pull_request.draft == false", True),
        ("event.pull_request.draft == 0", False),  # JSON: false is not 0
        ("event.pull_request.labels", True),
        ("event.nothing.below.here == null", True),
        ("event.action.length", False),  # no attributes of strings
        ("(not event.pull_request.draft) and (event.pull_request.labels[0].name == 'ios')", False),
        ("(not event.pull_request.draft) and (event.pull_request.labels[1].name == 'ios')", True),
    ],
)
def test_event_paths(text: str, expected: bool) -> None:
    assert holds(text, event=PR_EVENT) is expected


def test_event_is_null_on_manual_builds() -> None:
    assert holds("not event.pull_request.draft", event=None) is True
    assert holds("event.action == 'opened'", event=None) is False


def test_inputs_come_from_the_build() -> None:
    assert holds("${{ inputs.runTests }}", inputs={"runTests": True}) is True
    assert holds("${{ inputs.runTests }}", inputs={"runTests": False}) is False
    assert holds("inputs.flavor == 'prod'", inputs={"flavor": "prod"}) is True
    assert holds("inputs.flavor == 'prod'") is False


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        (
            "",
            1,
            "expected a value (a quoted string, a number, true, false, null, env.NAME, ...), "
            "found end of condition",
        ),
        ("env.A ==", 9, "expected a value"),
        ("env.A = 'x'", 7, "unexpected '='"),
        ("(env.A", 7, "expected ')', found end of condition"),
        ("env.A)", 6, "expected 'and', 'or' or the end, found ')'"),
        ("'unterminated", 1, 'unexpected "\'"'),
        ("branch == 'main'", 1, "unknown name 'branch': use env.NAME, event.PATH or inputs.NAME"),
        ("env", 4, "expected '.' and a name after 'env', found end of condition"),
        ("env.", 5, "expected a name after '.'"),
        ("event.labels[x]", 14, "expected a whole number or a quoted key inside '[ ]'"),
        ("event.labels[0", 15, "expected ']'"),
        ("env.A == env.B == env.C", 16, "expected 'and', 'or' or the end, found '=='"),
        ("env.A && env.B", 7, "unexpected '&'"),
        ("not", 4, "expected a value"),
        ("1abc", 1, "unexpected '1'"),
        ("${{ env.X }}", 1, "unexpected '$'"),
    ],
)
def test_syntax_errors_name_the_column(text: str, column: int, reason: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert caught.value.column == column
    assert caught.value.reason.startswith(reason)
    assert str(caught.value) == f"{caught.value.reason} at column {column}"


def test_deep_nesting_is_a_condition_error_not_a_crash() -> None:
    with pytest.raises(ConditionError, match="nested too deeply"):
        parse_condition("(" * 10_000 + "true" + ")" * 10_000)
    with pytest.raises(ConditionError, match="nested too deeply"):
        parse_condition("not " * 10_000 + "true")
    assert holds("(" * 40 + "true" + ")" * 40) is True


@pytest.mark.parametrize(
    ("term", "operator"), [("env.A", "or"), ("env.A", "and"), ("(env.A == '1')", "and")]
)
def test_long_chains_are_a_condition_error_not_a_crash(term: str, operator: str) -> None:
    with pytest.raises(ConditionError, match="more than 200 operators"):
        parse_condition(f" {operator} ".join([term] * 5000))
    assert holds(f" {operator} ".join([term] * 60), env={"A": "1"}) is True


def test_condition_keeps_its_source_and_lists_its_paths() -> None:
    condition = parse_condition("env.A == 'x' or not ${{ inputs.b }}")
    assert condition.source == "env.A == 'x' or not ${{ inputs.b }}"
    assert condition.paths() == (Path("env", ("A",)), Path("inputs", ("b",)))
