"""SQLite queries for webhook events: stored before acknowledged, unique per delivery, closed
once (processed, ignored or failed) and re-opened on request.

A mixin of `SqliteStore` (it needs only `self.engine`). Closing an event together with the builds
it creates is `BuildQueries.create_builds_for_event`.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from oore.errors import Conflict
from oore.model import EventState, Trigger, WebhookEvent, utcnow
from oore.store import rows
from oore.store.base import EventFilter, Page
from oore.store.engine import Engine
from oore.store.sqlite_updates import get_row


class EventQueries:
    engine: Engine

    async def insert_event(self, event: WebhookEvent) -> tuple[str, bool]:
        """Store a delivery; return (id, True), or (existing id, False) for a redelivery."""
        row = rows.event_row(event)

        def unit(db: Database) -> tuple[str, bool]:
            cursor = db.execute(
                "INSERT INTO webhook_events"
                f" ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                " ON CONFLICT (provider, delivery_id) DO NOTHING",
                list(row.values()),
            )
            if cursor.rowcount == 1:
                return event.id, True
            existing = db.execute(
                "SELECT id FROM webhook_events WHERE provider = ? AND delivery_id = ?",
                [str(event.provider), event.delivery_id],
            ).fetchone()
            return existing[0], False

        return await self.engine.write(unit)

    async def get_event(self, event_id: str) -> WebhookEvent:
        return await self.engine.read(lambda db: _get_event(db, event_id))

    async def list_events(
        self, where: EventFilter, cursor: str | None, limit: int
    ) -> Page[WebhookEvent]:
        equals = {
            "repository_id": where.repository_id,
            "provider": where.provider,
            "state": where.state,
        }
        return Page(
            *await self.engine.read(
                lambda db: rows.newest_first(
                    db, "webhook_events", equals, cursor, limit, rows.event
                )
            )
        )

    async def event_counts(self) -> dict[tuple[str, str], int]:
        """How many deliveries are stored, by (provider, state)."""
        return await self.engine.read(
            lambda db: {
                (provider, state): count
                for provider, state, count in db.execute(
                    "SELECT provider, state, count(*) FROM webhook_events GROUP BY provider, state"
                )
            }
        )

    async def pending_event_ids(self, limit: int = 500, after: str = "") -> list[str]:
        """Ids of pending events, oldest first, from just after `after` (to page through)."""
        return await self.engine.read(
            lambda db: [
                r[0]
                for r in db.execute(
                    "SELECT id FROM webhook_events WHERE state = 'pending' AND id > ?"
                    " ORDER BY id LIMIT ?",
                    [after, limit],
                )
            ]
        )

    async def finish_event(
        self,
        event_id: str,
        state: EventState,
        reason: str | None,
        repository_id: str | None,
        trigger: Trigger | None,
    ) -> bool:
        """Close a pending event; False when it was no longer pending (processed elsewhere)."""

        def unit(db: Database) -> bool:
            cursor = db.execute(
                "UPDATE webhook_events SET state = ?, reason = ?, repository_id = ?,"
                " trigger = ?, processed_at = ? WHERE id = ? AND state = 'pending'",
                [
                    str(state),
                    reason,
                    repository_id,
                    json.dumps(trigger.to_json()) if trigger is not None else None,
                    utcnow(),
                    event_id,
                ],
            )
            return cursor.rowcount == 1

        return await self.engine.write(unit)

    async def reset_event(self, event_id: str) -> WebhookEvent:
        """Re-open a closed event for processing again; Conflict while it is still pending."""

        def unit(db: Database) -> WebhookEvent:
            current = _get_event(db, event_id)
            if current.state is EventState.PENDING:
                raise Conflict(f"event {event_id} is still waiting to be processed")
            db.execute(
                "UPDATE webhook_events SET state = 'pending', reason = NULL, trigger = NULL,"
                " processed_at = NULL, workflows = NULL WHERE id = ?",
                [event_id],
            )
            return _get_event(db, event_id)

        return await self.engine.write(unit)


def _get_event(db: Database, event_id: str) -> WebhookEvent:
    return get_row(db, "webhook_events", event_id, rows.event, "webhook event")
