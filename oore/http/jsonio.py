"""Reading request bodies: JSON objects only, with a 400 that says what is wrong."""

from __future__ import annotations

import json
from typing import Any

from quart import request

from oore.errors import BadRequest


async def read_body() -> bytes:
    """The raw body (the size limit is enforced while it is read, as a 413)."""
    data: bytes = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    return data


async def read_json_object() -> dict[str, Any]:
    raw = await read_body()
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    value = _decoded(raw)
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        # JSON may escape a lone surrogate (\ud800) that no UTF-8 text can hold; refuse it
        # here rather than fail later when the value is encoded.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("the request body holds a lone surrogate (\\ud800-\\udfff)") from None
    return value


def _decoded(raw: bytes) -> object:
    try:
        return json.loads(raw)
    # Besides JSONDecodeError (and UnicodeDecodeError, also a ValueError), the decoder raises
    # RecursionError for deep nesting (b"[" * 100_000) and a plain ValueError for an integer
    # over Python's 4,300-digit limit: the client's mistake, never a 500.
    except RecursionError:
        raise BadRequest(
            "the request body is not valid JSON: it is nested too deeply; send a flat object"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    except ValueError:
        raise BadRequest(
            "the request body is not valid JSON: a number in it has more than 4,300 digits"
        ) from None
