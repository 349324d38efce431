"""Anchors, aliases and merge keys resolve as YAML says; values keep their spelling and lines."""

from __future__ import annotations

import textwrap

import pytest

from oore.errors import InvalidPipeline
from oore.pipeline import load
from oore.pipeline.yamlload import YMap, YScalar, YSeq, parse_yaml


def tree(text: str) -> YMap:
    node = parse_yaml(textwrap.dedent(text), "f.yaml", lambda *_: None)
    assert isinstance(node, YMap)
    return node


def test_explicit_keys_beat_merged_ones_and_earlier_merges_beat_later() -> None:
    root = tree(
        """\
        base: &base {a: base, b: base, c: base}
        more: &more {b: more, d: more}
        out:
          a: mine
          <<: [*more, *base]
        """
    )
    out = root.pairs["out"].node
    assert isinstance(out, YMap)
    values = {name: pair.node.value for name, pair in out.pairs.items()}  # type: ignore[union-attr]
    assert values == {"b": "more", "d": "more", "c": "base", "a": "mine"}


def test_merged_keys_keep_the_line_where_they_are_written() -> None:
    root = tree(
        """\
        defaults: &defaults
          max_build_duration: 120
        workflow:
          <<: *defaults
          name: x
        """
    )
    out = root.pairs["workflow"].node
    assert isinstance(out, YMap)
    assert out.pairs["max_build_duration"].key_line == 2
    assert out.pairs["name"].key_line == 5


def test_scalars_keep_their_text_and_type() -> None:
    root = tree(
        """\
        version: 14.10
        count: 007
        flag: yes
        quoted: "true"
        nothing: ~
        when: 2024-01-02
        script: |
          echo hi
        """
    )
    found = {name: pair.node for name, pair in root.pairs.items()}
    assert found["version"] == YScalar(1, 14.1, "14.10", False)
    assert found["count"] == YScalar(2, 7, "007", False)
    assert found["flag"] == YScalar(3, True, "yes", False)
    assert found["quoted"] == YScalar(4, "true", "true", True)
    assert found["nothing"] == YScalar(5, None, "~", False)
    assert found["when"] == YScalar(6, "2024-01-02", "2024-01-02", True)
    assert found["script"] == YScalar(7, "echo hi\n", "echo hi\n", True, block=True)


def test_an_alias_is_the_same_value_everywhere() -> None:
    root = tree("a: &x [1, 2]\nb: *x\n")
    assert isinstance(root.pairs["b"].node, YSeq)
    assert root.pairs["a"].node is root.pairs["b"].node


def test_versions_and_variables_keep_the_files_spelling() -> None:
    wf = load(
        textwrap.dedent(
            """\
            workflows:
              ios:
                environment:
                  xcode: 14.10
                  flutter: 3.10
                  vars:
                    VERSION: 1.10
                    ENABLED: on
                    OCTAL: 0o17
                    EMPTY:
                scripts: [x]
            """
        )
    ).workflows["ios"]
    assert dict(wf.environment.tool_versions) == {"xcode": "14.10", "flutter": "3.10"}
    assert dict(wf.environment.vars) == {
        "VERSION": "1.10",
        "ENABLED": "on",
        "OCTAL": "0o17",
        "EMPTY": "",
    }


def test_a_bad_value_merged_from_definitions_is_reported_where_it_is_written() -> None:
    with pytest.raises(InvalidPipeline) as caught:
        load(
            textwrap.dedent(
                """\
                definitions:
                  mac: &mac
                    instance_type: mac_mini_m2
                    max_build_duration: 0
                workflows:
                  ios:
                    <<: *mac
                    scripts: [x]
                """
            )
        )
    assert (caught.value.line, caught.value.key) == (4, "workflows.ios.max_build_duration")


def test_script_anchors_inside_lists() -> None:
    wf = load(
        textwrap.dedent(
            """\
            definitions:
              steps:
                - &get {name: Get packages, script: flutter pub get}
            workflows:
              a:
                scripts: [*get, echo between, *get]
            """
        )
    ).workflows["a"]
    assert [s.name for s in wf.scripts] == ["Get packages", "echo between", "Get packages"]
