"""One mapping from errors to `{"error": {"code", "message"}}` answers, for both front ends.

`error_answer` is free of any web framework: the webhook fast path (plain ASGI) and the Quart
handlers installed by `install` both answer with it, so a given error gets the same status, body
and connection handling wherever it is raised. `OoreError` subclasses carry their own status
and code; werkzeug's HTTP errors (404 for an unknown route, 405, 413 from the body limit) keep
their status with a snake_case code; anything else is a bug, logged with its traceback and
answered 500 without details.
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

# A request refused before its body was read (too large, too slow, no room to read it): the
# rest may still be arriving, so the connection cannot carry another request.
CLOSING_STATUSES = frozenset({408, 413, 503})
_MESSAGES = {
    404: "no such endpoint",
    405: "this endpoint does not accept that method",
}


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    status: int
    body: dict[str, Any]
    close: bool  # answer with `Connection: close`


def error_answer(error: BaseException) -> ErrorAnswer:
    if isinstance(error, OoreError):
        extra = {"field": error.field} if hasattr(error, "field") else {}
        return _answer(error.status, error.code, error.message, **extra)
    log.error("unhandled error in a request handler", exc_info=error)
    return _answer(500, "internal_error", "internal error; see the daemon's log")


def too_large(limit: int | None) -> PayloadTooLarge:
    """The one 413 message, whichever front end or check finds the body too large."""
    return PayloadTooLarge(f"the request body is over the {limit}-byte limit")


def _answer(status: int, code: str, message: str, **extra: Any) -> ErrorAnswer:
    body = {"error": {"code": code, "message": message, **extra}}
    return ErrorAnswer(status, body, status in CLOSING_STATUSES)


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
    if answer.close:
        response.headers["Connection"] = "close"
    return response
