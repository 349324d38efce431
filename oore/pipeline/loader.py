"""Building a `Pipeline` from the file's text: the top level and each workflow.

Every workflow is read on its own, so `validate` can report the errors of all of them at once;
`load` raises the first. Keys Oore does not know, or that sit in the wrong place (a `vars` beside
`environment`, `cache_paths` straight under the workflow), only warn: a file that builds on
Codemagic should not stop building here because of a stray key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from oore.errors import InvalidPipeline
from oore.pipeline.environment import (
    ENV_KEYS,
    parse_cache,
    parse_environment,
    parse_inputs,
)
from oore.pipeline.fields import Ctx, check_keys, describe, opt_text, text_list
from oore.pipeline.publishing import parse_publishing
from oore.pipeline.scalars import check_scalars
from oore.pipeline.spec import (
    DEFAULT_MAX_BUILD_MINUTES,
    MAX_BUILD_MINUTES,
    Pipeline,
    PipelineWarning,
    Workflow,
    frozen_map,
)
from oore.pipeline.steps import parse_scripts, parse_when
from oore.pipeline.triggers import TRIGGER_KEYS, parse_triggering
from oore.pipeline.ynodes import PARSE_SECONDS, YMap, YNode, YPair, YScalar

TOP_KEYS = ("workflows", "definitions")
WORKFLOW_KEYS = (
    "name",
    "max_build_duration",
    "instance_type",
    "labels",
    "inputs",
    "working_directory",
    "environment",
    "cache",
    "triggering",
    "when",
    "scripts",
    "artifacts",
    "publishing",
)
UNSUPPORTED = {
    "integrations": "integrations are not supported yet: publishing that relies on them is skipped",
    "pre_clone_scripts": "pre_clone_scripts are not supported yet: these steps do not run",
}
SELF_HOSTED = (
    "ignored on a self-hosted machine: the build runs on this machine, whatever instance it names"
)
ELSEWHERE = {
    **{key: "environment" for key in ENV_KEYS},
    **{key: "triggering" for key in TRIGGER_KEYS},
    "cache_paths": "cache",
    "changeset": "when",
    "condition": "when",
    "email": "publishing",
    "slack": "publishing",
}
# Each workflow a push matches is a build (and each is a line in the event's record of what
# matched): a file with 10,000 workflows would make 10,000 builds from one delivery. Real files
# have a handful.
MAX_WORKFLOWS = 100
WORKFLOW_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")
DURATION_MESSAGE = f"must be a whole number of minutes from 1 to {MAX_BUILD_MINUTES}"


@dataclass
class Built:
    """What reading the file gave: the pipeline if nothing was wrong, else the errors."""

    pipeline: Pipeline | None
    errors: list[InvalidPipeline] = field(default_factory=list)
    warnings: list[PipelineWarning] = field(default_factory=list)
    workflow_ids: list[str] = field(default_factory=list)


def build(text: str, file: str, seconds: float = PARSE_SECONDS) -> Built:
    # Imported at the first pipeline read: PyYAML is a megabyte an idle daemon does without.
    from oore.pipeline.yamlload import parse_yaml

    ctx = Ctx(file)
    try:
        root = parse_yaml(
            text, file, lambda line, key, message: ctx.warn(line, key, message), seconds
        )
        entries = _workflow_entries(ctx, root)
    except InvalidPipeline as exc:
        return Built(None, [exc], ctx.warnings)
    workflows: dict[str, Workflow] = {}
    errors: list[InvalidPipeline] = []
    for workflow_id, pair in entries:
        try:
            workflows[workflow_id] = _workflow(ctx, workflow_id, pair)
        except InvalidPipeline as exc:
            errors.append(exc)
    # Warnings are found section by section; the reader wants them in file order.
    warnings = sorted(ctx.warnings, key=lambda w: (w.line is None, w.line or 0))
    pipeline = None
    if not errors:
        pipeline = Pipeline(file, frozen_map(workflows), tuple(warnings))
    return Built(pipeline, errors, warnings, list(workflows))


def _workflow_entries(ctx: Ctx, root: YNode | None) -> list[tuple[str, YPair]]:
    if root is None:
        raise ctx.error(1, "workflows", "the file is empty: it needs a workflows: section")
    if not isinstance(root, YMap):
        raise ctx.error(root.line, "", "the file must be a mapping with a workflows: section")
    check_keys(ctx, root, "", TOP_KEYS)
    pair = root.pairs.get("workflows")
    if pair is None:
        raise ctx.error(root.line, "workflows", "no workflows: section: nothing to build")
    workflows = pair.node
    if not isinstance(workflows, YMap) or not workflows.pairs:
        raise ctx.error(
            pair.key_line,
            "workflows",
            f"must map workflow ids to workflows, not {describe(workflows)}",
        )
    if len(workflows.pairs) > MAX_WORKFLOWS:
        raise ctx.error(
            pair.key_line,
            "workflows",
            f"{len(workflows.pairs)} workflows: a file may define at most {MAX_WORKFLOWS}; "
            "remove the ones you do not build, or move them into definitions:",
        )
    for workflow_id, entry in workflows.pairs.items():
        _check_id(ctx, workflow_id, entry)
    return list(workflows.pairs.items())


def _check_id(ctx: Ctx, workflow_id: str, entry: YPair) -> None:
    key = f"workflows.{workflow_id}"
    if not entry.key_is_text:
        raise ctx.error(entry.key_line, key, f"a workflow id is text: quote it ('{workflow_id}')")
    if not WORKFLOW_ID.fullmatch(workflow_id):
        raise ctx.error(
            entry.key_line, key, "a workflow id is letters, digits, '-', '_' and '.' (at most 100)"
        )


def _workflow(ctx: Ctx, workflow_id: str, pair: YPair) -> Workflow:
    path = f"workflows.{workflow_id}"
    if not isinstance(pair.node, YMap):
        raise ctx.error(
            pair.key_line,
            path,
            f"a workflow is a mapping of settings, not {describe(pair.node)} "
            "(is this key indented like the workflow ids above it by mistake?)",
        )
    node = pair.node
    check_keys(ctx, node, path, (*WORKFLOW_KEYS, *UNSUPPORTED), ELSEWHERE)
    for name, message in UNSUPPORTED.items():
        if name in node.pairs:
            ctx.warn(node.pairs[name].key_line, f"{path}.{name}", message)
    if "instance_type" in node.pairs:
        ctx.warn(node.pairs["instance_type"].key_line, f"{path}.instance_type", SELF_HOSTED)
    inputs = parse_inputs(ctx, node, path)
    check_scalars(ctx, node, pair.key_line, path, inputs)
    scripts = node.pairs.get("scripts")
    if scripts is None:
        ctx.warn(pair.key_line, path, "no scripts: a build of this workflow runs no steps")
    return Workflow(
        id=workflow_id,
        name=opt_text(ctx, node, "name", path) or workflow_id,
        max_build_duration=_max_duration(ctx, node, path),
        instance_type=opt_text(ctx, node, "instance_type", path),
        labels=text_list(ctx, node, "labels", path),
        inputs=inputs,
        working_directory=opt_text(ctx, node, "working_directory", path),
        environment=parse_environment(ctx, node, path),
        cache_paths=parse_cache(ctx, node, path),
        triggering=parse_triggering(ctx, node, path),
        when=parse_when(ctx, node, path, inputs),
        scripts=parse_scripts(ctx, scripts, f"{path}.scripts", inputs) if scripts else (),
        artifacts=text_list(ctx, node, "artifacts", path),
        publishing=parse_publishing(ctx, node, path, inputs),
    )


def _max_duration(ctx: Ctx, node: YMap, path: str) -> int:
    pair = node.pairs.get("max_build_duration")
    if pair is None:
        return DEFAULT_MAX_BUILD_MINUTES
    value = pair.node.value if isinstance(pair.node, YScalar) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BUILD_MINUTES:
        raise ctx.error(pair.key_line, f"{path}.max_build_duration", DURATION_MESSAGE)
    return value
