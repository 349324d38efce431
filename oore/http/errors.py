"""One mapping from errors to `{"error": {"code", "message"}}` answers, for both front ends.

`error_answer` is free of any web framework: the webhook receivers (plain ASGI, fastpath.py) and
the Quart handlers installed by `install` both answer with it, so a given error gets the same
status and body wherever it is raised. `OoreError` subclasses carry their own status and code;
anything else is a bug, logged with its traceback and answered 500 without details. Quart's
own HTTP errors (werkzeug's 404 for an unknown route, 405, 413 from the body limit) are mapped
by `install`'s handler to the same shape, with a snake_case code.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from quart import Quart, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from oore.errors import OoreError, PayloadTooLarge

log = logging.getLogger("oore.http")

_MESSAGES = {
    404: "no such endpoint",
    405: "this endpoint does not accept that method",
}


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    status: int
    body: dict[str, Any]


def error_answer(error: BaseException) -> ErrorAnswer:
    if isinstance(error, OoreError):
        extra = {"field": error.field} if hasattr(error, "field") else {}
        return _answer(error.status, error.code, error.message, **extra)
    log.error("unhandled error in a request handler", exc_info=error)
    return _answer(500, "internal_error", "internal error; see the daemon's log")


def too_large(limit: int | None) -> PayloadTooLarge:
    """The one 413 message, whichever front end or check finds the body too large."""
    return PayloadTooLarge(f"the request body is over the {limit}-byte limit")


def closing(http_version: str) -> dict[str, str]:
    """`Connection: close`, for an answer sent before the request's body was read (the rest may
    still be arriving: the connection cannot carry another request). HTTP/1 only: HTTP/2 has
    no such header (h2 refuses a response carrying it) and ends the stream instead."""
    return {"Connection": "close"} if http_version.startswith("1") else {}


def _answer(status: int, code: str, message: str, **extra: Any) -> ErrorAnswer:
    return ErrorAnswer(status, {"error": {"code": code, "message": message, **extra}})


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return _response(_answer(status, code, message, **extra))


def install(app: Quart) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _any_error)


async def _any_error(error: Exception) -> Response:
    return _response(error_answer(error))


async def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 413:
        return _response(error_answer(too_large(request.max_content_length)))
    code = re.sub(r"[^a-z0-9]+", "_", (error.name or "error").lower()).strip("_")
    message = _MESSAGES.get(status) or error.description or error.name or "error"
    return _response(_answer(status, code, message))


def _response(answer: ErrorAnswer) -> Response:
    response = jsonify(answer.body)
    response.status_code = answer.status
    if answer.status == 413:  # refused by its declared length, or cut off mid-body
        response.headers.update(closing(request.http_version))
    return response
