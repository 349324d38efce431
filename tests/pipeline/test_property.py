"""Whatever the text, `validate` answers and the condition parser raises only `ConditionError`.

Random text rarely gets past the YAML parser, so two more kinds of input reach deeper: random
YAML documents made of the keys a pipeline file uses, and the sample files with lines removed,
duplicated, re-indented or replaced by random text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oore.errors import InvalidPipeline
from oore.pipeline import ConditionError, evaluate, load, parse_condition, validate
from oore.pipeline.globs import PatternError, matches

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.yaml"))]
KEYS = [
    "workflows", "definitions", "name", "max_build_duration", "instance_type", "labels", "inputs",
    "working_directory", "environment", "vars", "groups", "flutter", "xcode", "cache",
    "cache_paths", "triggering", "events", "branch_patterns", "tag_patterns", "pattern",
    "include", "source", "cancel_previous_builds", "when", "changeset", "includes", "excludes",
    "condition", "scripts", "script", "ignore_failure", "timeout", "test_report", "artifacts",
    "publishing", "email", "recipients", "notify", "success", "failure", "slack", "channel",
    "type", "default", "options", "description", "ios", "push", "pull_request", "tag",
]  # fmt: skip
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([*KEYS, "Encrypted(abc)", "${{ inputs.x }}", "not env.A", "*", "'", "**/*"]),
    st.text(max_size=20),
)
documents = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=40,
)


def answers(text: str) -> None:
    report = validate(text)
    assert report.ok == (report.errors == [])
    for item in report.errors + report.warnings:
        assert set(item) == {"file", "line", "key", "message"}
        assert item["line"] is None or (isinstance(item["line"], int) and item["line"] >= 1)
    if report.ok:
        assert list(load(text).workflows) == report.workflows


@SETTINGS
@given(st.text())
def test_validate_answers_any_text(text: str) -> None:
    answers(text)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["workflows", "definitions"]), documents, min_size=1))
def test_validate_answers_any_yaml_document(document: dict[str, object]) -> None:
    answers(yaml.safe_dump(document, sort_keys=False))


@settings(SETTINGS, max_examples=120)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
        st.dictionaries(st.sampled_from(KEYS), documents, max_size=6),
        min_size=1,
        max_size=3,
    )
)
def test_validate_answers_any_workflow_shape(workflows: dict[str, object]) -> None:
    answers(yaml.safe_dump({"workflows": workflows}, sort_keys=False))


@SETTINGS
@given(
    st.sampled_from(SAMPLES),
    st.lists(
        st.tuples(
            st.sampled_from(["drop", "copy", "indent", "dedent", "replace", "tab"]),
            st.integers(0, 200),
            st.text(max_size=12),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_validate_answers_damaged_samples(sample: str, edits: list[tuple[str, int, str]]) -> None:
    lines = sample.splitlines()
    for kind, at, text in edits:
        i = at % len(lines)
        if kind == "drop":
            del lines[i]
        elif kind == "copy":
            lines.insert(i, lines[i])
        elif kind == "indent":
            lines[i] = " " + lines[i]
        elif kind == "dedent":
            lines[i] = lines[i][1:]
        elif kind == "replace":
            lines[i] = lines[i][: len(lines[i]) // 2] + text
        else:
            lines[i] = "\t" + lines[i]
    answers("\n".join(lines) + "\n")


def test_an_unclosed_bracket_in_a_sample_is_reported_with_a_line() -> None:
    broken = SAMPLES[0].replace("scripts:", "scripts: [", 1)
    with pytest.raises(InvalidPipeline) as caught:
        load(broken)
    assert caught.value.line is not None
    assert caught.value.line > 1


condition_tokens = st.sampled_from(
    [
        "env.A", "env", "event.pull_request.draft", "event.x[0]", "event[", "]", "[", "inputs.x",
        "${{ inputs.y }}", "${{", "}}", "not", "and", "or", "(", ")", "==", "!=", "=", "'a'",
        '"b"', "'", '"', "\\", "1", "-2.5", "true", "false", "null", ".", "x", " ", "\t", "\n",
    ]
)  # fmt: skip


@SETTINGS
@given(st.text() | st.lists(condition_tokens, max_size=25).map(" ".join))
def test_condition_parser_raises_only_condition_error(text: str) -> None:
    try:
        condition = parse_condition(text)
    except ConditionError as exc:
        column = exc.column
        assert 1 <= column <= len(text) + 1
        return
    assert condition.source == text
    result = evaluate(condition, env={"A": "1"}, event={"x": [1], "pull_request": {"draft": 1}})
    assert isinstance(result, bool)


@SETTINGS
@given(st.lists(condition_tokens, min_size=1, max_size=25).map(" ".join), documents)
def test_evaluate_never_raises_on_any_payload(text: str, payload: object) -> None:
    try:
        condition = parse_condition(text)
    except ConditionError:
        return
    event = {"pull_request": payload, "x": payload}
    assert isinstance(evaluate(condition, env={}, event=event, inputs={"x": payload}), bool)


@SETTINGS
@given(st.text(max_size=30), st.text(max_size=30), st.booleans())
def test_globs_raise_only_pattern_error(pattern: str, name: str, path: bool) -> None:
    try:
        result = matches(pattern, name, path=path)
    except PatternError:
        return
    assert isinstance(result, bool)
    if not any(c in pattern for c in "*?[]{}()!+@\\"):
        assert result == (pattern == name)
