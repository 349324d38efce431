"""`load` (raise on the first error) and `validate` (answer everything, never raise).

`validate` is what `POST /api/pipelines/validate` and `oore pipeline validate FILE` print, so it
runs exactly the checks `load` runs and reports each problem as `{file, line, key, message}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oore.errors import InvalidPipeline
from oore.pipeline.loader import build
from oore.pipeline.spec import Pipeline
from oore.pipeline.ynodes import PARSE_SECONDS


def load(text: str, file: str = "codemagic.yaml", seconds: float = PARSE_SECONDS) -> Pipeline:
    built = build(text, file, seconds)
    if built.errors or built.pipeline is None:
        raise built.errors[0]
    return built.pipeline


@dataclass
class Report:
    ok: bool
    errors: list[dict[str, object]] = field(default_factory=list)
    warnings: list[dict[str, object]] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)  # the workflows that loaded

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "workflows": self.workflows,
        }


def validate(text: str, file: str = "codemagic.yaml", seconds: float = PARSE_SECONDS) -> Report:
    built = build(text, file, seconds)
    return Report(
        ok=not built.errors,
        errors=[error_json(error) for error in built.errors],
        warnings=[warning.to_json() for warning in built.warnings],
        workflows=built.workflow_ids,
    )


def error_json(error: InvalidPipeline) -> dict[str, object]:
    return {"file": error.file, "line": error.line, "key": error.key, "message": detail(error)}


def detail(error: InvalidPipeline) -> str:
    """The message without the "file:line (key): " prefix `InvalidPipeline` adds."""
    where = error.file if error.line is None else f"{error.file}:{error.line}"
    prefix = f"{where} ({error.key}): " if error.key else f"{where}: "
    text = error.message
    return text[len(prefix) :] if text.startswith(prefix) else text
