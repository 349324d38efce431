"""Reading untrusted JSON payloads: decoding, dotted-path lookup and typed getters.

Required values are read with `req_*`, which raise `PayloadError` naming the dotted path; a
parser turns that into `Malformed` at its single entry point. Optional values are read with
`opt_*`, which answer None for anything missing or of the wrong type: a build should not be lost
because a provider changed the shape of a field Oore only displays.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeGuard, TypeVar

_REPR_LIMIT = 80


class PayloadError(Exception):
    """A required part of a payload is missing or wrong; never escapes a parser."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_object(body: bytes) -> dict[str, object]:
    """The body as a JSON object, or PayloadError saying why it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8") from None
    try:
        value: object = json.loads(text)
    # RecursionError: the C decoder gives up on deeply nested arrays (b"[" * 100_000).
    except (ValueError, RecursionError):
        raise PayloadError("payload is not valid JSON") from None
    if not isinstance(value, dict):
        raise PayloadError(f"payload is not a JSON object (it is {kind_of(value)})")
    return value


def value_at(obj: object, path: str) -> object:
    """The value at a dotted path, or None when a step is missing or not an object."""
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def opt_str(obj: object, path: str) -> str | None:
    """A non-empty string at `path`, else None; lone surrogates become '?' so it stores as UTF-8."""
    value = value_at(obj, path)
    if not isinstance(value, str) or not value:
        return None
    return value.encode("utf-8", "replace").decode("utf-8")


def opt_int(obj: object, path: str) -> int | None:
    value = value_at(obj, path)
    return value if _is_int(value) else None


def req_str(obj: object, path: str) -> str:
    value = _present(obj, path)
    if not isinstance(value, str):
        raise _wrong(path, value, "a string")
    if not value:
        raise PayloadError(f"'{path}' is empty")
    if not _is_utf8(value):
        raise PayloadError(f"'{path}' is not valid Unicode")
    return value


def req_int(obj: object, path: str) -> int:
    value = _present(obj, path)
    if _is_int(value):
        return value
    raise _wrong(path, value, "an integer")


def req_number(obj: object, path: str) -> int:
    """A positive integer, such as a pull request number."""
    value = req_int(obj, path)
    if value < 1:
        raise PayloadError(f"'{path}' is {value}, not a positive number")
    return value


def req_dict(obj: object, path: str) -> dict[str, object]:
    value = _present(obj, path)
    if isinstance(value, dict):
        return value
    raise _wrong(path, value, "an object")


def _present(obj: object, path: str) -> object:
    value = value_at(obj, path)
    if value is None:
        raise PayloadError(f"'{path}' is missing")
    return value


def _wrong(path: str, value: object, expected: str) -> PayloadError:
    return PayloadError(f"'{path}' is {kind_of(value)}, not {expected}")


def _is_int(value: object) -> TypeGuard[int]:
    # bool is a subclass of int in Python, but `true` is not a number in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def kind_of(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names = {str: "a string", list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def show(value: str) -> str:
    """A provider-supplied string quoted and cut short, safe to put in a reason."""
    cut = value[:_REPR_LIMIT] + ("..." if len(value) > _REPR_LIMIT else "")
    return repr(cut)


T = TypeVar("T")


def or_none(read: Callable[[dict[str, object]], T], source: bytes | dict[str, object]) -> T | None:
    """`read` applied to a payload (parsed first when given as bytes); None when it cannot be."""
    try:
        return read(source if isinstance(source, dict) else read_object(source))
    except PayloadError:
        return None
