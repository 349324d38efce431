"""Build inputs: checking the values a build is started with, and `${{ inputs.name }}` text.

Codemagic replaces `${{ inputs.inputId }}` with the value given when the build starts, the default
otherwise; in text, booleans read `true`/`false` (https://docs.codemagic.io/knowledge-codemagic/
build-inputs/). Values from the API arrive typed; from the command line they arrive as text, so
"3" is a number and "true" a boolean where the input says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from oore.errors import ValidationError
from oore.pipeline.scalars import INPUT_REFERENCE
from oore.pipeline.spec import InputSpec, Workflow

InputValue = str | bool | int | float


class UnknownInput(ValueError):
    """The text names an input that has no value; `name` says which."""

    def __init__(self, name: str, known: Mapping[str, object]) -> None:
        known_names = ", ".join(sorted(known)) or "none"
        super().__init__(
            f"unknown input {name!r} in ${{{{ inputs.{name} }}}} (known: {known_names})"
        )
        self.name = name


def interpolate_inputs(text: str, inputs: Mapping[str, object]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in inputs:
            raise UnknownInput(name, inputs)
        return input_text(inputs[name])

    return INPUT_REFERENCE.sub(replace, text)


def input_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_inputs(workflow: Workflow, given: Mapping[str, object]) -> dict[str, InputValue]:
    """Every input's value for a build: given ones checked, the rest from defaults."""
    for name in given:
        if name not in workflow.inputs:
            known = ", ".join(workflow.inputs) or "none"
            raise ValidationError(f"inputs.{name}", f"unknown input (known: {known})")
    values: dict[str, InputValue] = {}
    for name, spec in workflow.inputs.items():
        value = _checked(spec, given[name]) if name in given else spec.default
        if value is None:
            raise ValidationError(f"inputs.{name}", "is required: it has no default")
        values[name] = value
    return values


def _checked(spec: InputSpec, value: object) -> InputValue:
    field = f"inputs.{spec.name}"
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError(field, "must be true or false")
    if spec.type == "number":
        return _number(field, value)
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    if spec.type == "choice" and value not in spec.options:
        raise ValidationError(field, f"must be one of {', '.join(spec.options)}")
    return value


def _number(field: str, value: object) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise ValidationError(field, "must be a number")
