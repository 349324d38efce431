"""Which workflows a trigger runs, and why each other one is skipped.

A webhook trigger runs a workflow when `triggering.events` has the event, the branch or tag
patterns admit it, and its `when` (changeset, condition) holds; a workflow with no triggering
section or no events only runs when started by name (`workflow_for_manual`). Codemagic starts
webhook builds only for workflows whose inputs all have defaults
(https://docs.codemagic.io/knowledge-codemagic/build-inputs/), so one that needs a value is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oore.errors import NotFound
from oore.model import Trigger, TriggerKind
from oore.pipeline.changeset import changeset_admits
from oore.pipeline.evaluate import evaluate
from oore.pipeline.patterns import Decision, decide_pull_request, decide_push, decide_tag
from oore.pipeline.spec import EMPTY, Pipeline, Script, Triggering, When, Workflow

MANUAL_REASON = "a manual build runs only the workflow it names"


@dataclass(frozen=True, slots=True)
class Selection:
    run: tuple[Workflow, ...]
    skipped: tuple[tuple[str, str], ...]  # (workflow id, why it does not run)


def select(
    pipeline: Pipeline,
    trigger: Trigger,
    *,
    env: Mapping[str, str] = EMPTY,
    event: Mapping[str, object] | None = None,
    changed_files: Sequence[str] | None = None,
) -> Selection:
    run: list[Workflow] = []
    skipped: list[tuple[str, str]] = []
    for workflow in pipeline.workflows.values():
        reason = _reason_to_skip(pipeline, workflow, trigger, env, event, changed_files)
        if reason is None:
            run.append(workflow)
        else:
            skipped.append((workflow.id, reason))
    return Selection(tuple(run), tuple(skipped))


def workflow_for_manual(pipeline: Pipeline, workflow_id: str) -> Workflow:
    workflow = pipeline.workflows.get(workflow_id)
    if workflow is None:
        available = ", ".join(pipeline.workflows) or "none"
        raise NotFound(f"no workflow {workflow_id!r} in {pipeline.file}; available: {available}")
    return workflow


def input_defaults(workflow: Workflow) -> dict[str, object]:
    return {name: spec.default for name, spec in workflow.inputs.items()}


def when_admits(
    when: When | None,
    *,
    env: Mapping[str, str],
    event: Mapping[str, object] | None,
    changed_files: Sequence[str] | None,
    pipeline_file: str | None = None,
    inputs: Mapping[str, object] | None = None,
) -> tuple[bool, str | None]:
    """Whether a `when` block lets a build (or a step) run, and if not, why."""
    if when is None:
        return True, None
    if when.has_changeset and not changeset_admits(
        when.changeset_includes, when.changeset_excludes, changed_files, pipeline_file
    ):
        return False, "when.changeset: no changed file matches"
    if when.condition is not None and not evaluate(
        when.condition, env=env, event=event, inputs=inputs
    ):
        return False, f"when.condition is false: {when.condition.source}"
    return True, None


def script_should_run(
    script: Script,
    *,
    env: Mapping[str, str],
    event: Mapping[str, object] | None,
    changed_files: Sequence[str] | None,
    pipeline_file: str | None = None,
    inputs: Mapping[str, object] | None = None,
) -> tuple[bool, str | None]:
    return when_admits(
        script.when,
        env=env,
        event=event,
        changed_files=changed_files,
        pipeline_file=pipeline_file,
        inputs=inputs,
    )


def _reason_to_skip(
    pipeline: Pipeline,
    workflow: Workflow,
    trigger: Trigger,
    env: Mapping[str, str],
    event: Mapping[str, object] | None,
    changed_files: Sequence[str] | None,
) -> str | None:
    if trigger.kind == TriggerKind.MANUAL:
        return MANUAL_REASON
    reason = _triggering_reason(workflow.triggering, trigger)
    if reason is not None:
        return reason
    missing = [name for name, spec in workflow.inputs.items() if spec.default is None]
    if missing:
        return f"input {missing[0]!r} has no default: start this workflow by hand"
    _, reason = when_admits(
        workflow.when,
        env={**workflow.environment.vars, **env},
        event=event,
        changed_files=changed_files,
        pipeline_file=pipeline.file,
        inputs=input_defaults(workflow),
    )
    return reason


def _triggering_reason(triggering: Triggering | None, trigger: Trigger) -> str | None:
    if triggering is None:
        return "no triggering section: run it manually"
    if not triggering.events:
        return "triggering.events is empty: run it manually"
    kind = str(trigger.kind)
    if kind not in triggering.events:
        return f"event {kind} not in triggering.events [{', '.join(triggering.events)}]"
    if trigger.kind == TriggerKind.TAG:
        return _tag_reason(triggering, trigger.tag)
    if trigger.kind == TriggerKind.PULL_REQUEST:
        return _pull_request_reason(triggering, trigger)
    return _push_reason(triggering, trigger.branch)


def _push_reason(triggering: Triggering, branch: str | None) -> str | None:
    if branch is None:
        return "the push names no branch"
    return _explain(decide_push(triggering.branch_patterns, branch), f"branch {branch!r}", "branch")


def _pull_request_reason(triggering: Triggering, trigger: Trigger) -> str | None:
    source, target = trigger.pr_source_branch, trigger.pr_target_branch
    if source is None or target is None:
        return "the pull request names no source or target branch"
    decision = decide_pull_request(triggering.branch_patterns, source, target)
    return _explain(decision, f"pull request {source!r} -> {target!r}", "branch")


def _tag_reason(triggering: Triggering, tag: str | None) -> str | None:
    if tag is None:
        return "the tag event names no tag"
    return _explain(decide_tag(triggering.tag_patterns, tag), f"tag {tag!r}", "tag")


def _explain(decision: Decision, what: str, kind: str) -> str | None:
    if decision.admitted:
        return None
    if decision.deciding is None:
        return f"{what} not matched by {kind}_patterns"
    return f"{what} excluded by {kind}_patterns (pattern {decision.deciding!r}, include: false)"
