"""SQLite queries for the Slack and SMTP settings (table `notification_settings`).

A mixin of `SqliteStore`. One row per kind: the non-secret config as JSON and the sealed secret
(a Slack webhook URL or bot token, an SMTP password). Nothing caches these rows (the outbox
and the channels read them when they need them), so no write is announced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from oore.errors import Conflict
from oore.model import utcnow
from oore.store import rows
from oore.store.base import NotificationSetting
from oore.store.engine import Engine


class NotificationSettingQueries:
    engine: Engine

    async def notification_setting(self, kind: str) -> NotificationSetting | None:
        found = await self.sealed_notification_setting(kind)
        return found[0] if found else None

    async def sealed_notification_setting(
        self, kind: str
    ) -> tuple[NotificationSetting, bytes | None] | None:
        return await self.engine.read(lambda db: _sealed(db, kind))

    async def put_notification_setting(
        self,
        kind: str,
        config: Mapping[str, Any],
        secret_sealed: bytes | None,
        *,
        clear_secret: bool = False,
        unless_changed_from: Mapping[str, Any] | None = None,
    ) -> NotificationSetting:
        """Replace the config; the secret too unless `secret_sealed` is None (kept as is, or
        removed with `clear_secret`). `unless_changed_from`: the config the caller checked
        before keeping the secret; another write since then raises Conflict (in the same
        transaction, so a kept secret never goes with a config it was not checked against)."""

        def unit(db: Database) -> NotificationSetting:
            if unless_changed_from is not None:
                found = _sealed(db, kind)
                if found is None or dict(found[0].config) != dict(unless_changed_from):
                    raise Conflict(
                        f"the {kind} settings were changed or removed meanwhile; "
                        "read them again and retry"
                    )
            now = utcnow()
            db.execute(
                "INSERT INTO notification_settings (kind, config, secret_sealed, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (kind) DO UPDATE SET config = excluded.config,"
                " secret_sealed = CASE WHEN ? THEN NULL"
                " ELSE coalesce(excluded.secret_sealed, secret_sealed) END,"
                " updated_at = excluded.updated_at",
                [kind, json.dumps(dict(config)), secret_sealed, now, clear_secret],
            )
            found = _sealed(db, kind)
            assert found is not None
            return found[0]

        return await self.engine.write(unit)

    async def delete_notification_setting(self, kind: str) -> bool:
        def unit(db: Database) -> bool:
            cursor = db.execute("DELETE FROM notification_settings WHERE kind = ?", [kind])
            return bool(cursor.rowcount)

        return await self.engine.write(unit)


def _sealed(db: Database, kind: str) -> tuple[NotificationSetting, bytes | None] | None:
    found = rows.dicts(db.execute("SELECT * FROM notification_settings WHERE kind = ?", [kind]))
    if not found:
        return None
    row = found[0]
    sealed = bytes(row["secret_sealed"]) if row["secret_sealed"] is not None else None
    setting = NotificationSetting(
        kind=kind,
        config=json.loads(row["config"]),
        secret_set=sealed is not None,
        updated_at=row["updated_at"],
    )
    return setting, sealed
