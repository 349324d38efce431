"""The Quart-Trio application: blueprints, the body-size limit, and error mapping."""

from __future__ import annotations

from quart import request
from quart_trio import QuartTrio

from oore.errors import PayloadTooLarge
from oore.http import (
    builds,
    errors,
    events,
    logs,
    openapi,
    pipelines,
    repositories,
    secrets,
    system,
    tokens,
    webhooks,
)
from oore.http.auth import authenticate_request
from oore.http.services import APP_KEY, Services
from oore.http.wslimits import DiscardClientMessages


def create_app(svc: Services) -> QuartTrio:
    app = QuartTrio("oore")
    # "//" in a path would otherwise be answered with an HTML redirect instead of JSON.
    app.url_map.merge_slashes = False
    app.config[APP_KEY] = svc
    app.config["MAX_CONTENT_LENGTH"] = svc.settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.before_request(_refuse_large_bodies)
    app.before_request(authenticate_request)
    errors.install(app)
    blueprints = (system, tokens, repositories, webhooks, events, builds, logs, pipelines, secrets)
    for module in (*blueprints, openapi):
        app.register_blueprint(module.blueprint)
    app.asgi_app = DiscardClientMessages(app.asgi_app)  # type: ignore[method-assign]
    return app


async def _refuse_large_bodies() -> None:
    # A declared length over the limit is refused before any of the body is read; a chunked body
    # is cut off by Quart's MAX_CONTENT_LENGTH as soon as it passes the limit.
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the request body is over the {limit}-byte limit")
