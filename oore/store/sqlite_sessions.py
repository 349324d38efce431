"""SQLite queries for dashboard sessions: stored by the hash of their id, live only while
unexpired and while the API token they were made from is not revoked.

A mixin of `SqliteStore` (it needs only `self.engine`).
"""

from __future__ import annotations

from sqlite_utils import Database

from oore.model import WebSession, utcnow
from oore.store import rows
from oore.store.engine import Engine

# The API token's name comes along, so a page can say who is signed in without a second query;
# a session of a revoked (or deleted) API token is not live.
_LIVE = """
SELECT s.*, t.name AS token_name FROM sessions s
LEFT JOIN api_tokens t ON t.id = s.token_id
WHERE s.id_hash = ? AND s.expires_at > ?
  AND (s.token_id IS NULL OR (t.id IS NOT NULL AND t.revoked_at IS NULL))
"""


class SessionQueries:
    engine: Engine

    async def create_session(self, session: WebSession) -> None:
        """Store a new session; expired ones are removed in the same unit (so the table holds
        only what could still be used)."""
        row = {
            "id_hash": session.id_hash,
            "token_id": session.token_id,
            "token_hash": session.token_hash,
            "scope": str(session.scope),
            "csrf_secret": session.csrf_secret,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
            "last_seen_at": session.last_seen_at,
        }

        def unit(db: Database) -> None:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", [utcnow()])
            db.table("sessions").insert(row)

        await self.engine.write(unit)

    async def find_session(self, id_hash: str) -> WebSession | None:
        """The live session with this id hash, or None (unknown, expired, or its token revoked)."""

        def query(db: Database) -> WebSession | None:
            found = rows.dicts(db.execute(_LIVE, [id_hash, utcnow()]))
            return rows.web_session(found[0]) if found else None

        return await self.engine.read(query)

    async def touch_session(self, id_hash: str) -> None:
        await self.engine.write(
            lambda db: db.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", [utcnow(), id_hash]
            )
        )

    async def delete_session(self, id_hash: str) -> None:
        await self.engine.write(
            lambda db: db.execute("DELETE FROM sessions WHERE id_hash = ?", [id_hash])
        )
