"""One place that turns errors into `{"error": {"code", "message"}}` responses.

`OoreError` subclasses carry their own status and code; werkzeug's HTTP errors (404 for an
unknown route, 405, 413 from the body limit) keep their status with a snake_case code; anything
else is a bug, logged with its traceback and answered 500 without details.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

from oore.errors import OoreError, PayloadTooLarge

log = logging.getLogger("oore.http")

_MESSAGES = {
    413: "the request body is larger than this server accepts",
    404: "no such endpoint",
    405: "this endpoint does not accept that method",
}


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    response = jsonify({"error": body})
    response.status_code = status
    return response


def install(app: Quart) -> None:
    app.register_error_handler(OoreError, _oore_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


async def _oore_error(error: OoreError) -> Response:
    extra = {"field": error.field} if hasattr(error, "field") else {}
    return _closing_if_unread(error_response(error.status, error.code, error.message, **extra))


async def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 413:
        return await _oore_error(PayloadTooLarge(_MESSAGES[413]))
    code = re.sub(r"[^a-z0-9]+", "_", (error.name or "error").lower()).strip("_")
    message = _MESSAGES.get(status) or error.description or error.name or "error"
    return error_response(status, code, message)


def _closing_if_unread(response: Response) -> Response:
    # A refused body may still be on its way; the connection cannot be reused for another
    # request after it, so say so (a keep-alive client would otherwise wait on it).
    if response.status_code == 413:
        response.headers["Connection"] = "close"
    return response


async def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error in a request handler", exc_info=error)
    return error_response(500, "internal_error", "internal error; see the daemon's log")
