"""Field validation for request bodies; each failure is a 422 naming the field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, overload

from oore.errors import BadRequest, ValidationError

_MISSING = object()
MAX_PARAMETER = 512  # far above any OAuth code or state a provider sends back


def unknown_fields(body: dict[str, Any], allowed: Iterable[str]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise ValidationError(extra[0], f"unknown field; allowed: {', '.join(sorted(allowed))}")


def text(
    body: dict[str, Any],
    field: str,
    *,
    required: bool = True,
    pattern: re.Pattern[str] | None = None,
    hint: str = "",
    max_length: int = 255,
) -> str | None:
    value = body.get(field, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty string")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise ValidationError(field, hint or f"must match {pattern.pattern}")
    return value


def required_text(
    body: dict[str, Any],
    field: str,
    *,
    pattern: re.Pattern[str] | None = None,
    hint: str = "",
    max_length: int = 255,
) -> str:
    value = text(body, field, pattern=pattern, hint=hint, max_length=max_length)
    if value is None:  # text() raised already; this keeps the type exact
        raise ValidationError(field, "is required")
    return value


def choice(body: dict[str, Any], field: str, options: Iterable[str]) -> str:
    allowed = list(options)
    value = required_text(body, field)
    if value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(allowed)}")
    return value


def flag(body: dict[str, Any], field: str) -> bool | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")
    return value


def positive_int(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(field, "must be a positive integer")
    if value >= 2**63:
        raise ValidationError(field, "is too large")
    return value


@overload
def query_int(raw: str | None, field: str, *, default: int, low: int, high: int) -> int: ...
@overload
def query_int(raw: str | None, field: str, *, default: None, low: int, high: int) -> int | None: ...
def query_int(
    raw: str | None, field: str, *, default: int | None, low: int, high: int
) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(field, f"must be an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise ValidationError(field, f"must be an integer from {low} to {high}")
    return value


def query_parameter(args: Mapping[str, str], name: str) -> str | None:
    """A provider's callback parameter: None when absent or empty, a 400 when oversized."""
    value = args.get(name)
    if not value:
        return None
    if len(value) > MAX_PARAMETER:
        raise BadRequest(f"the callback's {name} is over {MAX_PARAMETER} characters")
    return value
