"""Which workflows a trigger runs, and the reason given for every one it skips."""

from __future__ import annotations

import textwrap

import pytest

from oore.errors import NotFound
from oore.model import Provider, Trigger, TriggerKind
from oore.pipeline import (
    Pipeline,
    load,
    script_should_run,
    select,
    when_admits,
    workflow_for_manual,
)


def pipeline(text: str) -> Pipeline:
    return load(textwrap.dedent(text), "codemagic.yaml")


def push(branch: str | None) -> Trigger:
    return Trigger(Provider.GITHUB, TriggerKind.PUSH, "acme", "app", "a" * 40, branch=branch)


def pull_request(source: str, target: str) -> Trigger:
    return Trigger(
        Provider.GITHUB,
        TriggerKind.PULL_REQUEST,
        "acme",
        "app",
        "b" * 40,
        pr_number=7,
        pr_source_branch=source,
        pr_target_branch=target,
    )


def tag(name: str) -> Trigger:
    return Trigger(Provider.GITLAB, TriggerKind.TAG, "acme", "app", "c" * 40, tag=name)


def manual() -> Trigger:
    return Trigger(Provider.GITHUB, TriggerKind.MANUAL, "acme", "app", "d" * 40, branch="main")


def ran(p: Pipeline, trigger: Trigger, **kwargs: object) -> list[str]:
    return [w.id for w in select(p, trigger, **kwargs).run]  # type: ignore[arg-type]


def skipped(p: Pipeline, trigger: Trigger, **kwargs: object) -> dict[str, str]:
    return dict(select(p, trigger, **kwargs).skipped)  # type: ignore[arg-type]


EVENTS = pipeline(
    """\
    workflows:
      on-push:
        scripts: [x]
        triggering:
          events: [push]
      on-pr:
        scripts: [x]
        triggering:
          events: [pull_request]
      on-tag:
        scripts: [x]
        triggering:
          events: [tag]
          branch_patterns:
            - pattern: never-matches
      manual-only:
        scripts: [x]
      no-events:
        scripts: [x]
        triggering:
          cancel_previous_builds: true
    """
)


def test_push_runs_only_push_workflows_with_reasons_for_the_rest() -> None:
    selection = select(EVENTS, push("main"))
    assert [w.id for w in selection.run] == ["on-push"]
    assert selection.skipped == (
        ("on-pr", "event push not in triggering.events [pull_request]"),
        ("on-tag", "event push not in triggering.events [tag]"),
        ("manual-only", "no triggering section: run it manually"),
        ("no-events", "triggering.events is empty: run it manually"),
    )


def test_pull_request_and_tag_events_pick_their_workflows() -> None:
    assert ran(EVENTS, pull_request("feature", "main")) == ["on-pr"]
    # Tag builds ignore branch_patterns (Codemagic: watched branches do not affect tag builds).
    assert ran(EVENTS, tag("v1.0.0")) == ["on-tag"]


BRANCHES = pipeline(
    """\
    workflows:
      ordered:
        scripts: [x]
        triggering:
          events: [push, pull_request]
          branch_patterns:
            - pattern: '*'
              include: true
              source: true
            - pattern: 'wip/*'
              include: false
              source: true
            - pattern: 'wip/keep'
              include: true
              source: true
            - pattern: 'release/*'
              include: false
              source: false
    """
)


@pytest.mark.parametrize(
    ("branch", "reason"),
    [
        ("main", None),
        (
            "wip/try",
            "branch 'wip/try' excluded by branch_patterns (pattern 'wip/*', include: false)",
        ),
        ("wip/keep", None),
        # source: false patterns still apply to pushes: source only matters for pull requests.
        (
            "release/1.0",
            "branch 'release/1.0' excluded by branch_patterns (pattern 'release/*', "
            "include: false)",
        ),
    ],
)
def test_push_branch_patterns_later_patterns_win(branch: str, reason: str | None) -> None:
    selection = select(BRANCHES, push(branch))
    if reason is None:
        assert [w.id for w in selection.run] == ["ordered"]
    else:
        assert selection.run == ()
        assert selection.skipped == (("ordered", reason),)


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("feature/a", "main", None),
        (
            "wip/x",
            "main",
            "pull request 'wip/x' -> 'main' excluded by branch_patterns "
            "(pattern 'wip/*', include: false)",
        ),
        (
            "feature/a",
            "release/2",
            "pull request 'feature/a' -> 'release/2' excluded by "
            "branch_patterns (pattern 'release/*', include: false)",
        ),
        # The target 'wip/x' is not looked at by source: true patterns.
        ("feature/a", "wip/x", None),
    ],
)
def test_pull_request_source_and_target_patterns(
    source: str, target: str, reason: str | None
) -> None:
    found = skipped(BRANCHES, pull_request(source, target))
    assert found == ({} if reason is None else {"ordered": reason})


def test_branch_not_matched_by_any_pattern() -> None:
    p = pipeline(
        """\
        workflows:
          main-only:
            scripts: [x]
            triggering:
              events: [push, pull_request]
              branch_patterns:
                - pattern: main
                  source: false
        """
    )
    assert skipped(p, push("dev")) == {"main-only": "branch 'dev' not matched by branch_patterns"}
    assert ran(p, pull_request("feature/x", "main")) == ["main-only"]
    assert skipped(p, pull_request("main", "dev")) == {
        "main-only": "pull request 'main' -> 'dev' not matched by branch_patterns"
    }


def test_no_branch_patterns_admit_any_branch() -> None:
    p = pipeline("workflows:\n  a:\n    scripts: [x]\n    triggering:\n      events: [push]\n")
    assert ran(p, push("any/branch-name")) == ["a"]


def test_tag_patterns() -> None:
    p = pipeline(
        """\
        workflows:
          release:
            scripts: [x]
            triggering:
              events: [tag]
              tag_patterns:
                - pattern: 'v*'
                - pattern: '*-rc*'
                  include: false
        """
    )
    assert ran(p, tag("v2.1.0")) == ["release"]
    assert skipped(p, tag("v2.1.0-rc1")) == {
        "release": "tag 'v2.1.0-rc1' excluded by tag_patterns (pattern '*-rc*', include: false)"
    }
    assert skipped(p, tag("nightly")) == {"release": "tag 'nightly' not matched by tag_patterns"}


def test_triggers_missing_their_names_are_skipped_with_a_reason() -> None:
    p = pipeline(
        "workflows:\n  a:\n    scripts: [x]\n    triggering:\n"
        "      events: [push, pull_request, tag]\n"
    )
    assert skipped(p, push(None)) == {"a": "the push names no branch"}
    bad_pr = Trigger(Provider.GITHUB, TriggerKind.PULL_REQUEST, "o", "r", "e" * 40)
    assert skipped(p, bad_pr) == {"a": "the pull request names no source or target branch"}
    bad_tag = Trigger(Provider.GITHUB, TriggerKind.TAG, "o", "r", "e" * 40)
    assert skipped(p, bad_tag) == {"a": "the tag event names no tag"}


CHANGESET = pipeline(
    """\
    workflows:
      android:
        scripts: [x]
        triggering:
          events: [push]
        when:
          changeset:
            includes: ['android/', 'pubspec.yaml']
            excludes: ['**/*.md']
      docs-skip:
        scripts: [x]
        triggering:
          events: [push]
        when:
          changeset:
            excludes: ['**/*.md']
    """
)


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["android/app/src/main/Main.kt"], ["android", "docs-skip"]),
        (["android/README.md"], []),
        (["ios/Podfile"], ["docs-skip"]),
        (["docs/guide.md", "pubspec.yaml"], ["android", "docs-skip"]),
        (["README.md", "CHANGELOG.md"], []),
        (None, ["android", "docs-skip"]),  # unknown (first build): run
        (["codemagic.yaml", "README.md"], ["android", "docs-skip"]),  # the file itself changed
    ],
)
def test_changeset(changed: list[str] | None, expected: list[str]) -> None:
    assert ran(CHANGESET, push("main"), changed_files=changed) == expected


def test_changeset_skip_reason() -> None:
    assert skipped(CHANGESET, push("main"), changed_files=["README.md"]) == {
        "android": "when.changeset: no changed file matches",
        "docs-skip": "when.changeset: no changed file matches",
    }


CONDITIONS = pipeline(
    """\
    workflows:
      not-draft:
        scripts: [x]
        triggering:
          events: [pull_request]
        when:
          condition: not event.pull_request.draft
      env-gated:
        scripts: [x]
        environment:
          vars:
            DEPLOY: "no"
        triggering:
          events: [pull_request]
        when:
          condition: env.DEPLOY == 'yes' or env.CM_BRANCH == 'main'
    """
)


def test_condition_on_the_webhook_payload() -> None:
    draft = {"pull_request": {"draft": True}}
    ready = {"pull_request": {"draft": False}}
    assert ran(CONDITIONS, pull_request("f", "main"), event=ready) == ["not-draft"]
    assert skipped(CONDITIONS, pull_request("f", "main"), event=draft)["not-draft"] == (
        "when.condition is false: not event.pull_request.draft"
    )


def test_condition_sees_workflow_vars_under_the_callers_env() -> None:
    trigger = pull_request("f", "main")
    assert skipped(CONDITIONS, trigger)["env-gated"] == (
        "when.condition is false: env.DEPLOY == 'yes' or env.CM_BRANCH == 'main'"
    )
    assert "env-gated" in ran(CONDITIONS, trigger, env={"CM_BRANCH": "main"})
    assert "env-gated" in ran(CONDITIONS, trigger, env={"DEPLOY": "yes"})


def test_inputs_defaults_feed_conditions_and_missing_defaults_block_webhooks() -> None:
    p = pipeline(
        """\
        workflows:
          with-default:
            inputs:
              deploy:
                description: Deploy?
                type: boolean
                default: false
            triggering:
              events: [push]
            when:
              condition: ${{ inputs.deploy }}
            scripts: [x]
          needs-value:
            inputs:
              version:
                description: Version to release
            triggering:
              events: [push]
            scripts: [x]
        """
    )
    assert skipped(p, push("main")) == {
        "with-default": "when.condition is false: ${{ inputs.deploy }}",
        "needs-value": "input 'version' has no default: start this workflow by hand",
    }


def test_manual_triggers_select_nothing_and_name_their_workflow() -> None:
    assert select(EVENTS, manual()).run == ()
    assert {reason for _, reason in select(EVENTS, manual()).skipped} == {
        "a manual build runs only the workflow it names"
    }
    assert workflow_for_manual(EVENTS, "manual-only").id == "manual-only"
    with pytest.raises(NotFound) as caught:
        workflow_for_manual(EVENTS, "deploy")
    assert caught.value.message == (
        "no workflow 'deploy' in codemagic.yaml; "
        "available: on-push, on-pr, on-tag, manual-only, no-events"
    )


def test_run_keeps_file_order() -> None:
    p = pipeline(
        "workflows:\n"
        + "".join(
            f"  w{i}:\n    scripts: [x]\n    triggering:\n      events: [push]\n" for i in (3, 1, 2)
        )
    )
    assert ran(p, push("main")) == ["w3", "w1", "w2"]


STEPS = pipeline(
    """\
    workflows:
      a:
        scripts:
          - name: Always
            script: echo always
          - name: Android only
            script: ./gradlew test
            when:
              changeset:
                includes: [android/]
          - name: When asked
            script: flutter test
            when:
              condition: env.RUN_TESTS == "true"
    """
)


def test_script_should_run() -> None:
    always, android, asked = STEPS.workflows["a"].scripts
    assert script_should_run(always, env={}, event=None, changed_files=[]) == (True, None)
    assert script_should_run(android, env={}, event=None, changed_files=["android/x"]) == (
        True,
        None,
    )
    assert script_should_run(android, env={}, event=None, changed_files=["ios/x"]) == (
        False,
        "when.changeset: no changed file matches",
    )
    assert script_should_run(android, env={}, event=None, changed_files=None) == (True, None)
    assert script_should_run(asked, env={"RUN_TESTS": "true"}, event=None, changed_files=[]) == (
        True,
        None,
    )
    assert script_should_run(asked, env={}, event=None, changed_files=[]) == (
        False,
        'when.condition is false: env.RUN_TESTS == "true"',
    )


def test_when_admits_without_a_when() -> None:
    assert when_admits(None, env={}, event=None, changed_files=[]) == (True, None)
