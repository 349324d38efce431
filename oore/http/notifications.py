"""Notifications: the outbox's deliveries (list, resend) and the signed webhook targets.

A webhook target's secret goes in once and never comes out: it is sealed with associated data
naming its row and only the notifier opens it, to sign. The URL is refused when it carries a
user or password or names a private address without OORE_ALLOW_PRIVATE_PROVIDERS (checked
again, resolved, at each send). It is never answered whole, to any token: a receiver's URL
often carries a token in its query, and nothing reads it back (the notifier takes it from the
store), so answers show scheme://host/path with the query as `?…`. A global target (no
repository) receives every repository's builds, so only the admin token may add or remove one
or see it listed; other tokens list the repositories' targets.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, Response, g, jsonify, request

from oore.errors import Forbidden, NotFound, ValidationError
from oore.http import validate
from oore.http.jsonio import read_json_object
from oore.http.services import services
from oore.ids import new_id
from oore.model import DeliveryRecord, DeliveryState, WebhookTarget, utcnow
from oore.notify.webhook import secret_aad
from oore.settingstable import is_private_host
from oore.store.base import DeliveryFilter

blueprint = Blueprint("notifications", __name__)

EVENTS = (
    "queued",
    "started",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
    "skipped",
    "errored",
)
KINDS = ("github_check", "github_status", "gitlab_status", "slack", "email", "webhook")
MIN_SECRET = 16
MAX_SECRET = 256
MAX_URL = 2048
URL_HASH_DIGITS = 12


def delivery_json(d: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "build_id": d.build_id,
        "kind": d.kind,
        "target": d.target,
        "event": d.event,
        "state": str(d.state),
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at if d.state is DeliveryState.PENDING else None,
        "last_error": d.last_error,
        "ref": d.ref,
        "idempotency_key": d.idempotency_key,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
    }


def shown_url(url: str) -> str:
    """`url` as scheme and host only: receivers put their key in the query (`?token=`), in the
    path (Zapier, Discord, n8n: `/hooks/<id>/<key>`) or in the user part; `/…` says there is
    more. `url_sha256` tells targets apart without showing any of it."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    more = parts.path not in ("", "/") or bool(parts.query)
    return f"{parts.scheme}://{host}/{'…' if more else ''}"


def visible_targets(targets: list[WebhookTarget], admin: bool) -> list[WebhookTarget]:
    """The targets a principal may see: a global one (every repository's) is the admin's."""
    return [t for t in targets if admin or t.repository_id is not None]


def target_json(t: WebhookTarget) -> dict[str, Any]:
    return {
        "id": t.id,
        "repository_id": t.repository_id,
        "url": shown_url(t.url),
        "url_sha256": hashlib.sha256(t.url.encode()).hexdigest()[:URL_HASH_DIGITS],
        "events": list(t.events),
        "created_at": t.created_at,
    }


@blueprint.get("/api/notifications")
async def list_deliveries() -> Response:
    args = request.args
    state = args.get("state") or None
    if state is not None and state not in {s.value for s in DeliveryState}:
        raise ValidationError(
            "state", f"must be one of {', '.join(s.value for s in DeliveryState)}"
        )
    where = DeliveryFilter(
        state=DeliveryState(state) if state else None,
        build_id=args.get("build") or None,
        kind=_kind(args.get("kind") or None),
    )
    limit = validate.query_int(args.get("limit"), "limit", default=50, low=1, high=500)
    page = await services().store.list_deliveries(where, args.get("cursor") or None, limit)
    return jsonify(
        {"items": [delivery_json(d) for d in page.items], "next_cursor": page.next_cursor}
    )


@blueprint.post("/api/notifications/<delivery_id>/resend")
async def resend(delivery_id: str) -> Response:
    return jsonify(delivery_json(await services().store.resend_delivery(delivery_id)))


@blueprint.get("/api/notifications/webhooks")
async def list_targets() -> Response:
    targets = visible_targets(await services().store.webhook_targets(), _is_admin())
    return jsonify({"items": [target_json(t) for t in targets]})


@blueprint.post("/api/notifications/webhooks")
async def add_target() -> tuple[Response, int]:
    body = await read_json_object()
    validate.unknown_fields(body, {"url", "secret", "repository_id", "events"})
    url = _url(validate.required_text(body, "url", max_length=MAX_URL))
    secret = validate.required_text(body, "secret", max_length=MAX_SECRET)
    if len(secret) < MIN_SECRET:
        raise ValidationError("secret", f"must be at least {MIN_SECRET} characters")
    repository_id = validate.text(body, "repository_id", required=False, max_length=26)
    if repository_id is None:
        _admin_for_global()
    target = WebhookTarget(new_id(), repository_id, url, _events(body.get("events")), utcnow())
    svc = services()
    sealed = svc.sealer.seal(secret.encode(), secret_aad(target.id))
    await svc.store.add_webhook_target(target, sealed)
    return jsonify(target_json(target)), 201


@blueprint.delete("/api/notifications/webhooks/<target_id>")
async def remove_target(target_id: str) -> tuple[str, int]:
    store = services().store
    target = next((t for t in await store.webhook_targets() if t.id == target_id), None)
    if target is None:
        raise NotFound(f"webhook target {target_id} not found")
    if target.repository_id is None:
        _admin_for_global()
    await store.delete_webhook_target(target_id)
    return "", 204


def _is_admin() -> bool:
    return bool(g.principal.kind == "admin")


def _admin_for_global() -> None:
    if not _is_admin():
        raise Forbidden(
            "a global webhook target (no repository_id) receives every repository's builds: "
            "only the admin token may add or remove one; give repository_id for one repository"
        )


def _kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    return kind


def _url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("url", "must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "url", "must not carry a user or password (the secret signs each delivery)"
        )
    if is_private_host(parts.hostname) and not services().settings.allow_private_providers:
        raise ValidationError(
            "url",
            "is a private, loopback or link-local address; allowed only with "
            "OORE_ALLOW_PRIVATE_PROVIDERS=1",
        )
    return url


def _events(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
        raise ValidationError("events", "must be a list of event names")
    unknown = sorted(set(value) - set(EVENTS))
    if unknown:
        raise ValidationError("events", f"unknown {unknown[0]!r}; known: {', '.join(EVENTS)}")
    return tuple(dict.fromkeys(value))
