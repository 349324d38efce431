"""The pipeline file (`codemagic.yaml` compatible): load, validate, and pick workflows to run.

Pure functions over text and values: no I/O, no trio. `load` gives a `Pipeline` or raises
`oore.errors.InvalidPipeline` naming file, line and key; `validate` answers the same checks as a
`Report` and never raises; `select` says which workflows a webhook trigger runs and why the
others are skipped; `evaluate`, `script_should_run` and `interpolate_inputs` serve the executor.
"""

from __future__ import annotations

from oore.pipeline.changeset import changeset_admits
from oore.pipeline.condition import Condition, ConditionError, parse_condition
from oore.pipeline.env import UnknownInput, input_text, interpolate_inputs, resolve_inputs
from oore.pipeline.evaluate import evaluate
from oore.pipeline.report import Report, load, validate
from oore.pipeline.select import (
    Selection,
    input_defaults,
    script_should_run,
    select,
    when_admits,
    workflow_for_manual,
)
from oore.pipeline.spec import (
    DEFAULT_MAX_BUILD_MINUTES,
    MAX_BUILD_MINUTES,
    PIPELINE_FILES,
    BranchPattern,
    Environment,
    InputSpec,
    Pipeline,
    PipelineWarning,
    Publishing,
    Script,
    TagPattern,
    Triggering,
    When,
    Workflow,
)

__all__ = [
    "DEFAULT_MAX_BUILD_MINUTES",
    "MAX_BUILD_MINUTES",
    "PIPELINE_FILES",
    "BranchPattern",
    "Condition",
    "ConditionError",
    "Environment",
    "InputSpec",
    "Pipeline",
    "PipelineWarning",
    "Publishing",
    "Report",
    "Script",
    "Selection",
    "TagPattern",
    "Triggering",
    "UnknownInput",
    "When",
    "Workflow",
    "changeset_admits",
    "evaluate",
    "input_defaults",
    "input_text",
    "interpolate_inputs",
    "load",
    "parse_condition",
    "resolve_inputs",
    "script_should_run",
    "select",
    "validate",
    "when_admits",
    "workflow_for_manual",
]
