"""SQLite queries for notifications: the outbox's deliveries and the signed webhook targets.

A mixin of `SqliteStore`. Deliveries are planned by `oore.store.outbox` inside the build changes'
own transactions; here the notifier claims the due ones (in order within a chain, within each
target's free room), records what happened, the API lists and resends them, and retention and
deleting a build remove finished ones. Only a resend is announced (`NOTIFICATIONS_CHANGED`, to
wake the notifier): the rest is the notifier's own bookkeeping, which nothing caches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from oore.errors import Conflict, NotFound
from oore.ids import first_id_at
from oore.model import DeliveryRecord, DeliveryState, WebhookTarget, utcnow
from oore.primitives import Broadcast
from oore.store import rows
from oore.store.base import DeliveryFilter, Page
from oore.store.changes import Change, ChangeKind
from oore.store.engine import Engine

# A delivery waits while an earlier one of its chain (build, kind, target) is still on its way;
# a dead one does not hold the chain up.
_UNBLOCKED = (
    "NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.chain = d.chain AND e.id < d.id"
    " AND e.state IN ('pending', 'sending'))"
)
_CHAIN_REF = (
    "(SELECT e.ref FROM deliveries e WHERE e.chain = d.chain AND e.id < d.id"
    " AND e.ref IS NOT NULL ORDER BY e.id DESC LIMIT 1) AS chain_ref"
)
# A chain is done when none of its deliveries is on its way any more. Retention and deleting a
# build remove done chains only, and whole: a check run's later updates find the run's id on the
# chain's first delivery (`_CHAIN_REF`); without it they would make a second run.
_CHAIN_DONE = (
    "NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.chain = d.chain"
    " AND e.state IN ('pending', 'sending'))"
)
# When a finished delivery last happened: sent, or (re)queued (a dead one's last try follows its
# `retry_since` within the maximum age).
_LAST_ACTIVE = "max(e.retry_since, coalesce(e.delivered_at, ''))"
# Status kinds set where a commit or check run stands: sending an older event again after a
# later one would set it back (or, for a check run's `queued`, make a second run that never
# completes).
STATUS_KINDS = {
    "github_check": "GitHub check run",
    "github_status": "GitHub commit status",
    "gitlab_status": "GitLab commit status",
}
CLAIM_LIMIT = 256


class NotificationQueries:
    engine: Engine
    changes: Broadcast[Change]

    # --- the notifier's -----------------------------------------------------------------------

    async def reset_sending(self) -> int:
        """Put deliveries left `sending` (the daemon died mid-send) back to pending; the
        interrupted send counts as an attempt (it may have reached the target: a channel that
        creates something looks for it first when `attempts` is not 0)."""

        def unit(db: Database) -> int:
            return db.execute(
                "UPDATE deliveries SET state = 'pending', attempts = attempts + 1"
                " WHERE state = 'sending'"
            ).rowcount

        return await self.engine.write(unit)

    async def claim_deliveries(
        self, now: str, in_flight: Mapping[str, int], per_target: int
    ) -> list[DeliveryRecord]:
        """Mark due deliveries `sending` and return them, oldest first, at most `per_target`
        minus `in_flight[target]` per target, each with its chain's latest ref."""

        def unit(db: Database) -> list[DeliveryRecord]:
            due = rows.dicts(
                db.execute(
                    "SELECT * FROM (SELECT d.*, " + _CHAIN_REF + ", ROW_NUMBER() OVER"
                    " (PARTITION BY d.target ORDER BY d.id) AS rank FROM deliveries d"
                    " WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND " + _UNBLOCKED + ")"
                    " WHERE rank <= ? ORDER BY id LIMIT ?",
                    [now, per_target, CLAIM_LIMIT],
                )
            )
            chosen = [r for r in due if r["rank"] <= per_target - in_flight.get(r["target"], 0)]
            db.conn.executemany(
                "UPDATE deliveries SET state = 'sending' WHERE id = ? AND state = 'pending'",
                [(r["id"],) for r in chosen],
            )
            return [rows.delivery(r | {"state": "sending"}) for r in chosen]

        return await self.engine.write(unit)

    async def next_delivery_due(self) -> str | None:
        """When the earliest pending delivery not held up by its chain is due; None: none."""
        sql = "SELECT min(next_attempt_at) FROM deliveries d WHERE state = 'pending' AND "
        sql += _UNBLOCKED
        return await self.engine.read(lambda db: db.execute(sql).fetchone()[0])

    async def delivery_sent(self, delivery_id: str, ref: str | None) -> None:
        def unit(db: Database) -> None:
            db.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, ref = ?,"
                " delivered_at = ?, last_error = NULL WHERE id = ?",
                [ref, utcnow(), delivery_id],
            )

        await self.engine.write(unit)

    async def delivery_failed(
        self, delivery_id: str, error: str, next_attempt_at: str | None
    ) -> None:
        """Record a failed attempt: pending again at `next_attempt_at`, or dead when None."""
        state = DeliveryState.DEAD if next_attempt_at is None else DeliveryState.PENDING

        def unit(db: Database) -> None:
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_error = ?,"
                " next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?",
                [str(state), error, next_attempt_at, delivery_id],
            )

        await self.engine.write(unit)

    # --- the API's ----------------------------------------------------------------------------

    async def list_deliveries(
        self, where: DeliveryFilter, cursor: str | None, limit: int
    ) -> Page[DeliveryRecord]:
        equals = {"state": where.state, "build_id": where.build_id, "kind": where.kind}
        return Page(
            *await self.engine.read(
                lambda db: rows.newest_first(db, "deliveries", equals, cursor, limit, rows.delivery)
            )
        )

    async def get_delivery(self, delivery_id: str) -> DeliveryRecord:
        return await self.engine.read(lambda db: _get_delivery(db, delivery_id))

    async def resend_delivery(self, delivery_id: str) -> DeliveryRecord:
        """Put a dead or delivered delivery back to pending, due now, with a fresh maximum age;
        Conflict while it is still pending or sending."""

        def unit(db: Database) -> DeliveryRecord:
            found = _get_delivery(db, delivery_id)
            _refuse_superseded(db, found)
            now = utcnow()
            cursor = db.execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, retry_since = ?"
                " WHERE id = ? AND state IN ('dead', 'delivered')",
                [now, now, delivery_id],
            )
            if cursor.rowcount != 1:
                raise Conflict(f"delivery {delivery_id} is {found.state}; it will be sent anyway")
            return _get_delivery(db, delivery_id)

        return await self.engine.write(
            unit,
            then=lambda _: self.changes.publish(Change(ChangeKind.NOTIFICATIONS_CHANGED)),
        )

    async def delete_old_deliveries(self, before: str, limit: int) -> tuple[int, int]:
        """Delete the chains (each whole: its first delivery holds the check run's id) of about
        `limit` deliveries that are all done and last happened before `before`. Returns how many
        deliveries went and the bytes of payload they held.

        The scan walks ids upward and stops below the first id made at `before` (nothing made
        since can be that old), so a batch reads what it deletes, not the whole outbox, while
        the single writer waits."""

        def unit(db: Database) -> tuple[int, int]:
            old = (
                "SELECT DISTINCT chain FROM (SELECT d.chain FROM deliveries d WHERE d.id < ?"
                " AND +d.state IN ('delivered', 'dead')"  # + : walk the ids, not the states
                " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.chain = d.chain"
                f" AND (e.state IN ('pending', 'sending') OR {_LAST_ACTIVE} >= ?))"
                " ORDER BY d.id LIMIT ?)"
            )
            chains = [r[0] for r in db.execute(old, [first_id_at(before), before, limit])]
            if not chains:
                return 0, 0
            marks = ", ".join("?" * len(chains))
            count, size = db.execute(
                "SELECT count(*), coalesce(sum(length(payload)), 0) FROM deliveries"
                f" WHERE chain IN ({marks})",
                chains,
            ).fetchone()
            db.execute(f"DELETE FROM deliveries WHERE chain IN ({marks})", chains)
            return int(count), int(size)

        return await self.engine.write(unit)

    async def delivery_counts(self) -> dict[tuple[str, str], int]:
        """How many deliveries there are, by (kind, state)."""
        sql = "SELECT kind, state, count(*) FROM deliveries GROUP BY kind, state"
        return await self.engine.read(
            lambda db: {(k, s): n for k, s, n in db.execute(sql).fetchall()}
        )

    # --- signed webhook targets ---------------------------------------------------------------

    async def add_webhook_target(self, target: WebhookTarget, secret_sealed: bytes) -> None:
        row = _target_row(target) | {"secret_sealed": secret_sealed}

        def unit(db: Database) -> None:
            repository = target.repository_id
            if (
                repository is not None
                and not db.execute(
                    "SELECT 1 FROM repositories WHERE id = ?", [repository]
                ).fetchone()
            ):
                raise NotFound(f"repository {repository} not found")
            db.table("notification_targets").insert(row)

        await self.engine.write(unit)

    async def webhook_targets(self) -> list[WebhookTarget]:
        sql = f"SELECT {_TARGET_COLUMNS} FROM notification_targets ORDER BY id"
        return await self.engine.read(lambda db: [_target(r) for r in rows.dicts(db.execute(sql))])

    async def sealed_webhook_target(self, target_id: str) -> tuple[WebhookTarget, bytes]:
        def query(db: Database) -> tuple[WebhookTarget, bytes]:
            found = rows.dicts(
                db.execute(
                    f"SELECT {_TARGET_COLUMNS}, secret_sealed FROM notification_targets"
                    " WHERE id = ?",
                    [target_id],
                )
            )
            if not found:
                raise NotFound(f"webhook target {target_id} not found")
            return _target(found[0]), bytes(found[0]["secret_sealed"])

        return await self.engine.read(query)

    async def delete_webhook_target(self, target_id: str) -> None:
        def unit(db: Database) -> None:
            cursor = db.execute("DELETE FROM notification_targets WHERE id = ?", [target_id])
            if cursor.rowcount != 1:
                raise NotFound(f"webhook target {target_id} not found")

        await self.engine.write(unit)


def delete_build_deliveries(db: Database, build_id: str) -> None:
    """In a build's deletion: its deliveries, but for chains still on their way (a finished
    build's outcome may not have reached GitHub yet); retention takes those once done."""
    db.execute(f"DELETE FROM deliveries AS d WHERE build_id = ? AND {_CHAIN_DONE}", [build_id])


def _refuse_superseded(db: Database, found: DeliveryRecord) -> None:
    what = STATUS_KINDS.get(found.kind)
    if what is None:
        return
    later = db.execute(
        "SELECT id, event FROM deliveries WHERE chain = (SELECT chain FROM deliveries WHERE id = ?)"
        " AND id > ? ORDER BY id DESC LIMIT 1",
        [found.id, found.id],
    ).fetchone()
    if later is not None:
        raise Conflict(
            f"delivery {found.id} ({found.event}) was followed by delivery {later[0]}"
            f" ({later[1]}) of the same {what}: sending it again would"
            f" set it back to {found.event}; resend {later[0]} instead"
        )


def _get_delivery(db: Database, delivery_id: str) -> DeliveryRecord:
    found = rows.dicts(db.execute("SELECT * FROM deliveries WHERE id = ?", [delivery_id]))
    if not found:
        raise NotFound(f"delivery {delivery_id} not found")
    return rows.delivery(found[0])


_TARGET_COLUMNS = "id, repository_id, url, events, created_at"


def _target(row: dict[str, Any]) -> WebhookTarget:
    return WebhookTarget(
        id=row["id"],
        repository_id=row["repository_id"],
        url=row["url"],
        events=tuple(json.loads(row["events"])),
        created_at=row["created_at"],
    )


def _target_row(target: WebhookTarget) -> dict[str, Any]:
    return {
        "id": target.id,
        "repository_id": target.repository_id,
        "url": target.url,
        "events": json.dumps(list(target.events)),
        "created_at": target.created_at,
    }
