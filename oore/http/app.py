"""The Quart-Trio application: blueprints, the body-size limit, error mapping, and the ASGI
layers in front of it (the webhook receivers, the WebSocket message guard)."""

from __future__ import annotations

from quart import request
from quart_trio import QuartTrio

from oore.http import (
    builds,
    credentials,
    errors,
    events,
    github,
    gitlab,
    logs,
    metrics,
    notifications,
    notify_settings,
    openapi,
    pipelines,
    repositories,
    secrets,
    system,
    tokens,
)
from oore.http.auth import authenticate_request
from oore.http.dashboard.blueprints import BLUEPRINTS as DASHBOARD
from oore.http.fastpath import LARGE_BODIES, LargeBodies, WebhookFastPath
from oore.http.services import APP_KEY, Services
from oore.http.wslimits import DiscardClientMessages


def create_app(svc: Services, large_bodies: LargeBodies = LARGE_BODIES) -> QuartTrio:
    app = QuartTrio("oore")
    # "//" in a path would otherwise be answered with an HTML redirect instead of JSON.
    app.url_map.merge_slashes = False
    app.config[APP_KEY] = svc
    app.config["MAX_CONTENT_LENGTH"] = svc.settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.before_request(_refuse_large_bodies)
    app.before_request(authenticate_request)
    errors.install(app)
    blueprints = (
        system,
        metrics,
        tokens,
        repositories,
        events,
        builds,
        logs,
        pipelines,
        secrets,
        gitlab,
        credentials,
        github,
        notifications,
        notify_settings,
    )
    for module in (*blueprints, openapi):
        app.register_blueprint(module.blueprint)
    for blueprint in DASHBOARD:  # the pages, their assets, the public badges
        app.register_blueprint(blueprint)
    # Webhook deliveries are answered before Quart (fastpath.py); WebSocket messages from
    # clients are dropped before they are buffered (wslimits.py).
    app.asgi_app = WebhookFastPath(  # type: ignore[method-assign]
        DiscardClientMessages(app.asgi_app),
        svc.intake,
        svc.settings.max_body_bytes,
        large_bodies,
        svc.settings.trusted_proxies,
    )
    return app


async def _refuse_large_bodies() -> None:
    # A declared length over the limit is refused before any of the body is read; a chunked body
    # is cut off by Quart's MAX_CONTENT_LENGTH as soon as it passes the limit.
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise errors.too_large(limit)
