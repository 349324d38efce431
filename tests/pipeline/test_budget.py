"""Reading a pipeline file is bounded (issue 10): in size, in expanded values, in time, and in
workflows per file; each limit is an `InvalidPipeline` that says which one was hit."""

from __future__ import annotations

import time

import pytest

from oore.errors import InvalidPipeline
from oore.pipeline import load, validate
from oore.pipeline.loader import MAX_WORKFLOWS
from oore.pipeline.yamlload import MAX_TEXT_CHARS
from tests.pipeline.hostile import alias_bomb, anchors, many_workflows


def test_a_file_over_the_time_budget_is_refused_within_it() -> None:
    started = time.monotonic()
    report = validate(anchors(), "codemagic.yaml", seconds=0.05)
    took = time.monotonic() - started
    assert not report.ok
    [error] = report.errors
    assert error["message"].startswith("reading the file took longer than 0.05 s")
    assert took < 0.5, took  # the whole file takes seconds


def test_the_same_file_loads_when_the_budget_allows_it() -> None:
    assert list(load(anchors(2_000)).workflows) == ["w"]


@pytest.mark.parametrize("levels", [6, 9, 30])
def test_an_alias_bomb_is_refused_quickly(levels: int) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidPipeline) as caught:
        load(alias_bomb(levels))
    assert time.monotonic() - started < 1.0
    assert "the YAML expands to more than 100000 values" in caught.value.message


def test_an_alias_bomb_is_refused_within_a_tight_budget_too() -> None:
    report = validate(alias_bomb(), seconds=0.2)
    assert not report.ok


def test_a_file_over_the_size_limit_is_refused() -> None:
    text = "workflows:\n  w:\n    scripts:\n      - echo hi\n" + "#" * MAX_TEXT_CHARS
    with pytest.raises(InvalidPipeline) as caught:
        load(text)
    assert f"larger than {MAX_TEXT_CHARS} characters" in caught.value.message


def test_at_most_100_workflows_per_file() -> None:
    assert MAX_WORKFLOWS == 100
    assert len(load(many_workflows(100)).workflows) == 100
    with pytest.raises(InvalidPipeline) as caught:
        load(many_workflows(10_000))
    error = caught.value
    assert (error.line, error.key) == (1, "workflows")
    assert "10000 workflows: a file may define at most 100" in error.message
    report = validate(many_workflows(101))
    assert not report.ok
    assert "101 workflows" in report.errors[0]["message"]
