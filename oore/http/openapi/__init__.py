"""The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json`.

Every route is one row of `operations.OPERATIONS`; schemas are built in `schemas`; the
document in `spec`, which is imported at the first request for it: the operation table and the
schemas are about a megabyte of memory that a daemon nobody asks for its API description
does not need. `tests/http/test_openapi.py` compares the rows with the app's URL map and
checks real responses against the documented schemas, so a route or field added without
documenting it fails CI.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, jsonify

from oore.http.auth import public
from oore.http.services import services

blueprint = Blueprint("openapi", __name__)


def document(server_url: str | None = None) -> dict[str, Any]:
    from oore.http.openapi.spec import document as build

    return build(server_url)


@blueprint.get("/api/openapi.json")
@public
async def openapi_json() -> Response:
    return jsonify(document(services().settings.base_url))
