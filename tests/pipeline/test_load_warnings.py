"""Unknown, misplaced and unsupported keys warn (with the line and a hint) and never stop a load."""

from __future__ import annotations

import textwrap

from oore.pipeline import Pipeline, load, validate


def loaded(text: str) -> Pipeline:
    return load(textwrap.dedent(text), "codemagic.yaml")


def warnings_of(text: str) -> list[tuple[int | None, str, str]]:
    return [(w.line, w.key, w.message) for w in loaded(text).warnings]


def test_vars_beside_environment_is_ignored_with_a_hint() -> None:
    pipeline = loaded(
        """\
        workflows:
          ios:
            environment:
              vars:
                A: one
            vars:
              B: two
            scripts: [echo hi]
        """
    )
    assert dict(pipeline.workflows["ios"].environment.vars) == {"A": "one"}
    assert [(w.line, w.key, w.message) for w in pipeline.warnings] == [
        (6, "workflows.ios.vars", "ignored: vars belongs under environment"),
    ]


def test_bare_list_under_cache_is_ignored_with_a_hint() -> None:
    pipeline = loaded(
        """\
        workflows:
          ios:
            cache:
              - ~/.pub-cache
            scripts: [echo hi]
        """
    )
    assert pipeline.workflows["ios"].cache_paths == ()
    assert warnings_of_pipeline(pipeline) == [
        (
            3,
            "workflows.ios.cache",
            "ignored: a bare list under cache does nothing; "
            "did you mean cache: with the list under cache_paths:?",
        )
    ]


def warnings_of_pipeline(pipeline: Pipeline) -> list[tuple[int | None, str, str]]:
    return [(w.line, w.key, w.message) for w in pipeline.warnings]


def test_misspelled_keys_get_a_did_you_mean() -> None:
    assert warnings_of(
        """\
        workflows:
          ios:
            scripst:
              - echo hi
            scripts: [echo hi]
            artefacts: [a.ipa]
            triggering:
              events: [push]
              cancel_previous_build: true
        """
    ) == [
        (3, "workflows.ios.scripst", "unknown key 'scripst', ignored; did you mean 'scripts'?"),
        (
            6,
            "workflows.ios.artefacts",
            "unknown key 'artefacts', ignored; did you mean 'artifacts'?",
        ),
        (
            9,
            "workflows.ios.triggering.cancel_previous_build",
            "unknown key 'cancel_previous_build', ignored; did you mean 'cancel_previous_builds'?",
        ),
    ]


def test_keys_with_nothing_close_get_no_hint() -> None:
    assert warnings_of("workflows:\n  a:\n    scripts: [x]\n    colour: blue\n") == [
        (4, "workflows.a.colour", "unknown key 'colour', ignored"),
    ]


def test_misplaced_keys_name_their_section() -> None:
    found = warnings_of(
        """\
        workflows:
          a:
            scripts: [x]
            cache_paths: [~/.gradle]
            events: [push]
            xcode: latest
            condition: env.X == "1"
            email:
              recipients: [a@example.com]
            environment:
              cache_paths: [x]
        """
    )
    assert found == [
        (4, "workflows.a.cache_paths", "ignored: cache_paths belongs under cache"),
        (5, "workflows.a.events", "ignored: events belongs under triggering"),
        (6, "workflows.a.xcode", "ignored: xcode belongs under environment"),
        (7, "workflows.a.condition", "ignored: condition belongs under when"),
        (8, "workflows.a.email", "ignored: email belongs under publishing"),
        (11, "workflows.a.environment.cache_paths", "ignored: cache_paths belongs under cache"),
    ]


def test_signing_and_integrations_are_recorded_as_unsupported() -> None:
    found = warnings_of(
        """\
        workflows:
          ios:
            integrations:
              app_store_connect: ASC key
            environment:
              ios_signing:
                distribution_type: app_store
                bundle_identifier: io.example.app
              android_signing:
                - keystore_reference
            pre_clone_scripts:
              - echo early
            scripts: [echo hi]
        """
    )
    assert [(line, key) for line, key, _ in found] == [
        (3, "workflows.ios.integrations"),
        (6, "workflows.ios.environment.ios_signing"),
        (9, "workflows.ios.environment.android_signing"),
        (11, "workflows.ios.pre_clone_scripts"),
    ]
    assert all("not supported yet" in message for _, _, message in found)


def test_top_level_keys_other_than_workflows_and_definitions_warn() -> None:
    found = warnings_of(
        """\
        defintions:
          x: &x 1
        workflows:
          a:
            scripts: [x]
        """
    )
    assert found == [
        (1, "defintions", "unknown key 'defintions', ignored; did you mean 'definitions'?"),
    ]


def test_duplicate_keys_warn_and_the_later_wins() -> None:
    pipeline = loaded(
        """\
        workflows:
          a:
            name: First
            scripts: [x]
            name: Second
        """
    )
    assert pipeline.workflows["a"].name == "Second"
    assert warnings_of_pipeline(pipeline) == [
        (5, "name", "duplicate key 'name' (first on line 3): the later value wins"),
    ]


def test_triggering_advice() -> None:
    found = warnings_of(
        """\
        workflows:
          a:
            scripts: [x]
            triggering:
              events: [push, pull_request_labeled]
              branch_patterns:
                - pattern: wip/*
                  include: false
              tag_patterns:
                - pattern: v*
          b:
            scripts: [x]
            triggering:
              cancel_previous_builds: true
        """
    )
    assert found == [
        (
            5,
            "workflows.a.triggering.events[1]",
            "pull_request_labeled is not supported yet: it starts no build",
        ),
        (
            6,
            "workflows.a.triggering.branch_patterns",
            "every pattern excludes, so no branch is built; start the list with pattern '*'",
        ),
        (9, "workflows.a.triggering.tag_patterns", "has no effect: the tag event is not in events"),
        (
            13,
            "workflows.b.triggering.events",
            "no events: this workflow only runs when started",
        ),
    ]


def test_lenient_shapes_warn_but_keep_the_value() -> None:
    pipeline = loaded(
        """\
        workflows:
          a:
            environment:
              groups: app_store_credentials
            artifacts: build/app.ipa
            scripts: [x]
            publishing:
              scripts:
                name: Notify
                script: echo done
        """
    )
    wf = pipeline.workflows["a"]
    assert wf.environment.groups == ("app_store_credentials",)
    assert wf.artifacts == ("build/app.ipa",)
    assert [s.name for s in wf.publishing.scripts] == ["Notify"]
    assert [(w.line, w.key) for w in pipeline.warnings] == [
        (4, "workflows.a.environment.groups"),
        (5, "workflows.a.artifacts"),
        (8, "workflows.a.publishing.scripts"),
    ]


def test_a_workflow_without_scripts_warns() -> None:
    assert warnings_of("workflows:\n  empty:\n    name: Empty\n") == [
        (2, "workflows.empty", "no scripts: a build of this workflow runs no steps"),
    ]


def test_validate_returns_warnings_in_file_order_with_an_ok_answer() -> None:
    report = validate("workflows:\n  a:\n    scripts: [x]\n    zzz: 1\n    aaa: 2\n", "f.yaml")
    assert report.ok is True
    assert report.errors == []
    assert [(w["line"], w["key"], w["file"]) for w in report.warnings] == [
        (4, "workflows.a.zzz", "f.yaml"),
        (5, "workflows.a.aaa", "f.yaml"),
    ]
