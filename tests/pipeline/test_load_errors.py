"""Every kind of broken file is an `InvalidPipeline` naming the file, the exact line and the key."""

from __future__ import annotations

import textwrap

import pytest

from oore.errors import InvalidPipeline
from oore.pipeline import MAX_BUILD_MINUTES, load, validate
from oore.pipeline.report import detail
from oore.pipeline.scalars import ENCRYPTED_MESSAGE


def error_of(text: str, file: str = "codemagic.yaml") -> InvalidPipeline:
    with pytest.raises(InvalidPipeline) as caught:
        load(textwrap.dedent(text), file)
    return caught.value


def where(error: InvalidPipeline) -> tuple[int | None, str | None]:
    return error.line, error.key


# --- not YAML at all: the three mistakes public files make, and a few more -------------------


def test_undefined_alias_points_at_the_alias() -> None:
    error = error_of(
        """\
        definitions:
          versions: &versions
            flutter: stable
        workflows:
          ios:
            environment:
              <<: *version
            scripts:
              - echo hi
        """
    )
    assert where(error) == (7, None)
    assert (
        detail(error) == "undefined alias *version: no anchor &version is defined above this line"
    )


def test_tab_inside_a_block_scalar_points_at_the_tab_line() -> None:
    error = error_of(
        "workflows:\n"
        "  android:\n"
        "    scripts:\n"
        "      - name: Build\n"
        "        script: |\n"
        "          ./gradlew clean\n"
        "\t./gradlew assembleRelease\n"
        "      - echo done\n"
    )
    assert where(error) == (7, None)
    assert "tab" in detail(error)
    assert "spaces" in detail(error)


def test_mis_indented_key_points_at_that_key() -> None:
    error = error_of(
        """\
        workflows:
          ios:
            name: iOS
             max_build_duration: 60
            scripts:
              - echo hi
        """
    )
    assert where(error) == (4, None)
    assert "indented differently" in detail(error)


def test_mis_indented_list_item_names_the_block_it_breaks() -> None:
    error = error_of(
        """\
        workflows:
          ios:
            scripts:
              - name: a
                script: echo a
             - name: b
               script: echo b
        """
    )
    assert where(error) == (6, None)
    assert "block that starts on line 3" in detail(error)


def test_more_than_one_document_is_refused() -> None:
    error = error_of("workflows:\n  a:\n    scripts: [x]\n---\nworkflows: {}\n")
    assert error.line == 4
    assert "more than one YAML document" in detail(error)


def test_a_control_character_is_reported_at_its_line() -> None:
    error = error_of("workflows:\n  a:\n    name: bad\x07name\n")
    assert error.line == 3
    assert "U+0007" in detail(error)


def test_an_alias_loop_is_refused() -> None:
    assert "loop" in detail(error_of("definitions: &d\n  self: *d\nworkflows:\n  a: *d\n"))


def test_alias_bombs_are_refused_before_expanding() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    error = error_of("\n".join(["definitions:", *("  " + line for line in lines), "workflows: {}"]))
    assert error.line is None
    assert "expands to more than" in detail(error)


def test_deep_nesting_is_refused_not_crashing() -> None:
    error = error_of("workflows: " + "[" * 5000 + "]" * 5000)
    assert "nested too deeply" in detail(error)


# --- the top level ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the file is empty: it needs a workflows: section"),
        ("# only a comment\n", 1, "the file is empty: it needs a workflows: section"),
        ("- a\n- b\n", 1, "the file must be a mapping with a workflows: section"),
        ("definitions: {}\nworkflow:\n  a: {}\n", 1, "no workflows: section: nothing to build"),
        ("\nworkflows:\n", 2, "must map workflow ids to workflows, not empty"),
        ("workflows: {}\n", 1, "must map workflow ids to workflows, not a mapping"),
        ("workflows:\n  - ios\n", 1, "must map workflow ids to workflows, not a list"),
    ],
)
def test_missing_or_empty_workflows(text: str, line: int, message: str) -> None:
    error = error_of(text)
    assert error.line == line
    assert detail(error) == message


def test_workflow_ids_must_be_text_keys() -> None:
    error = error_of("workflows:\n  ios:\n    scripts: [a]\n  123:\n    scripts: [b]\n")
    assert where(error) == (4, "workflows.123")
    assert detail(error) == "a workflow id is text: quote it ('123')"
    assert load("workflows:\n  '123':\n    scripts: [b]\n").workflows["123"].id == "123"


def test_workflow_ids_are_url_safe() -> None:
    error = error_of("workflows:\n  my flow:\n    scripts: [b]\n")
    assert where(error) == (2, "workflows.my flow")


def test_a_workflow_that_is_not_a_mapping_hints_at_indentation() -> None:
    error = error_of(
        """\
        workflows:
          ios:
            name: iOS
          max_build_duration: 60
        """
    )
    assert where(error) == (4, "workflows.max_build_duration")
    assert "indented like the workflow ids" in detail(error)


# --- values of the wrong type or range -----------------------------------------------------


def test_max_build_duration_text_is_reported_at_its_key() -> None:
    text = """\
        workflows:
          android:
            name: Android
            scripts:
              - echo hi
          ios:
            max_build_duration: "lots"
            scripts:
              - echo hi
        """
    error = error_of(text)
    assert (error.file, error.line, error.key) == (
        "codemagic.yaml",
        7,
        "workflows.ios.max_build_duration",
    )
    assert detail(error) == "must be a whole number of minutes from 1 to 720"
    assert str(error) == (
        "codemagic.yaml:7 (workflows.ios.max_build_duration): "
        "must be a whole number of minutes from 1 to 720"
    )


@pytest.mark.parametrize("value", ["0", "721", "-5", "true", "1.5", "[60]", "'60'"])
def test_max_build_duration_out_of_range(value: str) -> None:
    error = error_of(f"workflows:\n  a:\n    max_build_duration: {value}\n    scripts: [x]\n")
    assert where(error) == (3, "workflows.a.max_build_duration")


@pytest.mark.parametrize("value", [1, MAX_BUILD_MINUTES])
def test_max_build_duration_bounds_are_allowed(value: int) -> None:
    text = f"workflows:\n  a:\n    max_build_duration: {value}\n    scripts: [x]\n"
    assert load(text).workflows["a"].max_build_duration == value


def test_a_script_map_without_script_is_an_error() -> None:
    error = error_of(
        """\
        workflows:
          ios:
            scripts:
              - echo one
              - name: Build
                ignore_failure: true
        """
    )
    assert where(error) == (5, "workflows.ios.scripts[1]")
    assert "needs `script:`" in detail(error)


@pytest.mark.parametrize(
    ("item", "line", "message"),
    [
        ("- ''", 4, "the script is empty"),
        ("-", 4, "a script must be text (the commands), not empty"),
        ("- [a, b]", 4, "must be a mapping of settings, not a list"),
        ("- name: x\n        script: [a]", 5, "a script must be text (the commands), not a list"),
    ],
)
def test_script_items_of_the_wrong_shape(item: str, line: int, message: str) -> None:
    error = error_of(f"workflows:\n  a:\n    scripts:\n      {item}\n")
    assert error.line == line
    assert detail(error) == message


@pytest.mark.parametrize("value", ["soon", "0", "true", "10x", "13h", "-1", "''"])
def test_bad_step_timeouts(value: str) -> None:
    error = error_of(
        f"workflows:\n  a:\n    scripts:\n      - script: x\n        timeout: {value}\n"
    )
    assert where(error) == (5, "workflows.a.scripts[0].timeout")


@pytest.mark.parametrize(
    ("value", "seconds"), [("600", 600), ("'90'", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400)]
)
def test_good_step_timeouts(value: str, seconds: int) -> None:
    text = f"workflows:\n  a:\n    scripts:\n      - script: x\n        timeout: {value}\n"
    assert load(text).workflows["a"].scripts[0].timeout_seconds == seconds


def test_encrypted_values_explain_where_the_secret_goes() -> None:
    error = error_of(
        """\
        workflows:
          ios:
            environment:
              vars:
                PUBLIC: hello
                API_KEY: Encrypted(Z0FBQUFBQmZYeEJhNHdFX0VLbXR3ZVZ6dGs=)
            scripts:
              - echo hi
        """
    )
    assert where(error) == (6, "workflows.ios.environment.vars.API_KEY")
    assert detail(error) == ENCRYPTED_MESSAGE
    assert ENCRYPTED_MESSAGE == (
        "Codemagic Encrypted(...) values cannot be opened outside Codemagic: put the value in an "
        "Oore secret group and list the group under environment.groups"
    )


def test_encrypted_values_are_caught_anywhere_in_a_workflow() -> None:
    error = error_of(
        """\
        workflows:
          android:
            scripts: [echo hi]
            publishing:
              google_play:
                credentials: Encrypted(abc)
        """
    )
    assert where(error) == (6, "workflows.android.publishing.google_play.credentials")


@pytest.mark.parametrize(
    ("vars_text", "line", "key", "message"),
    [
        ("X: [1, 2]", 5, "workflows.a.environment.vars.X", "must be text, not a list"),
        ("BAD-NAME: 1", 5, "workflows.a.environment.vars.BAD-NAME", "letters, digits and '_'"),
    ],
)
def test_bad_variables(vars_text: str, line: int, key: str, message: str) -> None:
    error = error_of(
        f"workflows:\n  a:\n    environment:\n      vars:\n        {vars_text}\n    scripts: [x]\n"
    )
    assert where(error) == (line, key)
    assert message in detail(error)


def test_unknown_event_suggests_the_right_one() -> None:
    error = error_of(
        """\
        workflows:
          a:
            triggering:
              events:
                - push
                - pull-request
            scripts: [x]
        """
    )
    assert where(error) == (6, "workflows.a.triggering.events[1]")
    assert "did you mean 'pull_request'?" in detail(error)


@pytest.mark.parametrize(
    ("entry", "line", "key", "message"),
    [
        ("- include: false", 6, "workflows.a.triggering.branch_patterns[0].pattern", "needs a"),
        ("- pattern: main\n          include: maybe", 7, "[0].include", "true or false"),
        ("- pattern: main\n          source: 1", 7, "[0].source", "true or false"),
    ],
)
def test_bad_branch_patterns(entry: str, line: int, key: str, message: str) -> None:
    error = error_of(
        "workflows:\n  a:\n    triggering:\n      events: [push]\n      branch_patterns:\n"
        f"        {entry}\n    scripts: [x]\n"
    )
    assert error.line == line
    assert error.key is not None
    assert error.key.endswith(key)
    assert message in detail(error)


def test_condition_syntax_error_names_line_and_column() -> None:
    error = error_of(
        """\
        workflows:
          a:
            when:
              condition: env.BRANCH == 'main' and and
            scripts: [x]
        """
    )
    assert where(error) == (4, "workflows.a.when.condition")
    assert detail(error) == (
        "expected a value (a quoted string, a number, true, false, null, env.NAME, ...), "
        "found 'and' at column 26: env.BRANCH == 'main' and and"
    )


def test_step_condition_errors_point_at_the_step_condition() -> None:
    error = error_of(
        """\
        workflows:
          a:
            scripts:
              - name: Tests
                script: flutter test
                when:
                  condition: env.RUN_TESTS = "true"
        """
    )
    assert where(error) == (7, "workflows.a.scripts[0].when.condition")
    assert "column 15" in detail(error)


def test_condition_naming_an_undeclared_input() -> None:
    error = error_of(
        """\
        workflows:
          a:
            inputs:
              flavor:
                description: Flavor
                default: dev
            when:
              condition: inputs.flavour == "prod"
            scripts: [x]
        """
    )
    assert where(error) == (8, "workflows.a.when.condition")
    assert detail(error) == (
        "unknown input 'flavour': declare it under the workflow's inputs (declared: flavor)"
    )


def test_undeclared_input_in_a_block_script_points_at_its_line() -> None:
    error = error_of(
        """\
        workflows:
          a:
            scripts:
              - name: Build
                script: |
                  echo start
                  flutter build apk --flavor ${{ inputs.flavor }}
        """
    )
    assert where(error) == (7, "workflows.a.scripts[0].script")
    assert "unknown input 'flavor'" in detail(error)


@pytest.mark.parametrize(
    ("spec", "line", "message"),
    [
        ("type: text", 5, "must be one of string, number, boolean, choice"),
        ("type: choice", 5, "a choice input needs options"),
        ("options: [a]", 5, "only choice has options"),
        ("type: number\n        default: many", 6, "must be a number"),
        ("type: boolean\n        default: 1", 6, "must be true or false"),
        ("type: choice\n        options: [a, b]\n        default: c", 7, "must be one of the"),
    ],
)
def test_bad_inputs(spec: str, line: int, message: str) -> None:
    error = error_of(f"workflows:\n  a:\n    inputs:\n      x:\n        {spec}\n    scripts: [y]\n")
    assert error.line == line
    assert error.key is not None
    assert error.key.startswith("workflows.a.inputs.x")
    assert message in detail(error)


@pytest.mark.parametrize(
    ("section", "line", "key", "message"),
    [
        ("email:\n        notify: {success: false}", 5, "email.recipients", "at least one"),
        ("slack:\n        notify_on_build_start: true", 5, "slack.channel", "name the channel"),
        ("email:\n        recipients: a@example.com\n        notify: yes", 7, "email.notify", ""),
        (
            "email:\n        recipients: ["
            + ", ".join(f"u{n}@example.com" for n in range(21))
            + "]",
            5,
            "email.recipients",
            "at most 20 addresses",
        ),
    ],
)
def test_bad_publishing(section: str, line: int, key: str, message: str) -> None:
    error = error_of(f"workflows:\n  a:\n    scripts: [x]\n    publishing:\n      {section}\n")
    assert error.line == line
    assert error.key == f"workflows.a.publishing.{key}"
    assert message in detail(error)


def test_merging_a_scalar_is_an_error_at_the_merge_key() -> None:
    error = error_of("workflows:\n  a:\n    <<: 5\n    scripts: [x]\n")
    assert where(error) == (3, "<<")


def test_validate_reports_every_broken_workflow_and_keeps_the_good_ones() -> None:
    text = textwrap.dedent(
        """\
        workflows:
          good:
            scripts: [echo ok]
          slow:
            max_build_duration: 9000
            scripts: [echo slow]
          broken:
            scripts:
              - name: nothing to run
        """
    )
    report = validate(text, "ci/codemagic.yaml")
    assert report.ok is False
    assert report.workflows == ["good"]
    assert report.errors == [
        {
            "file": "ci/codemagic.yaml",
            "line": 5,
            "key": "workflows.slow.max_build_duration",
            "message": "must be a whole number of minutes from 1 to 720",
        },
        {
            "file": "ci/codemagic.yaml",
            "line": 9,
            "key": "workflows.broken.scripts[0]",
            "message": "a script step needs `script:` with the commands to run",
        },
    ]
    with pytest.raises(InvalidPipeline) as caught:
        load(text, "ci/codemagic.yaml")
    assert caught.value.line == 5


def test_validate_of_unparsable_text_reports_the_line() -> None:
    report = validate("workflows:\n  a:\n    scripts:\n\t- x\n")
    assert report.ok is False
    assert report.workflows == []
    assert [(e["line"], e["key"]) for e in report.errors] == [(4, None)]
    assert report.to_json()["ok"] is False
