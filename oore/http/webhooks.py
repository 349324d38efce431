"""Webhook receivers as Quart routes: thin wrappers over `oore.webhooks.intake`.

In the running daemon, webhook traffic is answered by the ASGI fast path in `fastpath.py`
before it reaches Quart; these routes serve the same answers for the in-process test client and
keep the endpoints in the URL map, where the OpenAPI test and the route-auth test look for them.
"""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from oore.http.auth import public
from oore.http.jsonio import read_body
from oore.http.services import services
from oore.webhooks.intake import Answer, Headers

blueprint = Blueprint("webhooks", __name__)


@blueprint.post("/api/webhooks/github")
@public
async def github_webhook() -> tuple[Response, int]:
    raw = await read_body()
    return _respond(await services().intake.github(Headers(dict(request.headers)), raw))


@blueprint.post("/api/webhooks/gitlab/<repository_id>")
@public
async def gitlab_webhook(repository_id: str) -> tuple[Response, int]:
    raw = await read_body()
    headers = Headers(dict(request.headers))
    return _respond(await services().intake.gitlab(repository_id, headers, raw))


def _respond(answer: Answer) -> tuple[Response, int]:
    return jsonify(answer.body), answer.status
