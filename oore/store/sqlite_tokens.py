"""SQLite queries for API tokens: only their hash is stored; revoking keeps the row.

A mixin of `SqliteStore` (it needs only `self.engine`).
"""

from __future__ import annotations

import dataclasses

from sqlite_utils import Database

from oore.errors import NotFound
from oore.model import ApiToken, utcnow
from oore.store import rows
from oore.store.engine import Engine


class TokenQueries:
    engine: Engine

    async def create_token(self, token: ApiToken, token_hash: str) -> None:
        row = dataclasses.asdict(token) | {"scope": str(token.scope), "token_hash": token_hash}
        await self.engine.write(lambda db: db.table("api_tokens").insert(row))

    async def find_token(self, token_hash: str) -> ApiToken | None:
        """The live token with this hash; None when there is none or it was revoked."""

        def query(db: Database) -> ApiToken | None:
            found = list(
                db.table("api_tokens").rows_where(
                    "token_hash = ? AND revoked_at IS NULL", [token_hash], limit=1
                )
            )
            return rows.token(found[0]) if found else None

        return await self.engine.read(query)

    async def list_tokens(self) -> list[ApiToken]:
        return await self.engine.read(
            lambda db: [rows.token(r) for r in db.table("api_tokens").rows_where(order_by="id")]
        )

    async def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke a token (again: a no-op keeping the first revocation's time)."""

        def unit(db: Database) -> ApiToken:
            db.execute(
                "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                [utcnow(), token_id],
            )
            found = list(db.table("api_tokens").rows_where("id = ?", [token_id]))
            if not found:
                raise NotFound(f"token {token_id} not found")
            return rows.token(found[0])

        return await self.engine.write(unit)

    async def touch_token(self, token_id: str) -> None:
        await self.engine.write(
            lambda db: db.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [utcnow(), token_id]
            )
        )
