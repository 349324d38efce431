"""Stored webhook deliveries: list (filters, cursor pages), read one, process one again."""

from __future__ import annotations

from typing import TypeVar

from quart import Blueprint, Response, jsonify, request

from oore.errors import ValidationError
from oore.http import present, validate
from oore.http.services import services
from oore.model import EventState, Provider
from oore.store.base import EventFilter

blueprint = Blueprint("events", __name__)
E = TypeVar("E", Provider, EventState)


@blueprint.get("/api/webhooks/events")
async def list_events() -> Response:
    args = request.args
    where = EventFilter(
        repository_id=args.get("repository") or None,
        provider=_enum(Provider, args.get("provider"), "provider"),
        state=_enum(EventState, args.get("state"), "state"),
    )
    limit = validate.query_int(args.get("limit"), "limit", default=50, low=1, high=500)
    page = await services().store.list_events(where, args.get("cursor") or None, limit)
    return jsonify(
        {"items": [present.event_summary(e) for e in page.items], "next_cursor": page.next_cursor}
    )


@blueprint.get("/api/webhooks/events/<event_id>")
async def get_event(event_id: str) -> Response:
    store = services().store
    event = await store.get_event(event_id)
    return jsonify(present.event_detail(event, await store.builds_for_event(event_id)))


@blueprint.post("/api/webhooks/events/<event_id>/reprocess")
async def reprocess_event(event_id: str) -> tuple[Response, int]:
    svc = services()
    event = await svc.store.reset_event(event_id)
    svc.reprocess(event.id)
    return jsonify(present.event_summary(event)), 202


def _enum(kind: type[E], raw: str | None, field: str) -> E | None:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise ValidationError(field, f"must be one of {', '.join(m.value for m in kind)}") from None
