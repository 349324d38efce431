"""SQLite queries for the daemon's own records: health, metadata, counters, sealed samples.

A mixin of `SqliteStore` (it needs only `self.engine`).
"""

from __future__ import annotations

from sqlite_utils import Database

from oore.store.engine import Engine

# Every column holding a sealed value, with the table it is in: its associated data names both.
SEALED_COLUMNS = (
    ("repositories", "webhook_secret"),
    ("secrets", "value"),
    ("credentials", "value"),
    ("repository_credentials", "secret"),
    ("gitlab_application", "secret"),
    ("gitlab_connection", "access_token"),
    ("gitlab_connection", "refresh_token"),
    ("github_app", "private_key"),
    ("github_app", "webhook_secret"),
    ("github_app", "client_secret"),
)


class MetaQueries:
    engine: Engine

    def write_stats(self) -> dict[str, int]:
        """Since start: transactions committed, write units in them, lock-stopped retries."""
        engine = self.engine
        return {
            "batches": engine.batches,
            "writes": engine.units,
            "busy_retries": engine.busy_retries,
        }

    async def ping(self) -> None:
        await self.engine.read(lambda db: db.execute("SELECT count(*) FROM schema_migrations"))

    async def get_meta(self, key: str) -> bytes | None:
        def query(db: Database) -> bytes | None:
            row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
            return bytes(row[0]) if row else None

        return await self.engine.read(query)

    async def set_meta(self, key: str, value: bytes) -> None:
        await self.engine.write(
            lambda db: db.table("meta").upsert({"key": key, "value": value}, pk="key")
        )

    async def sealed_samples(self, limit: int = 3) -> list[tuple[bytes, bytes]]:
        """A few sealed values with their associated data, to prove the key opens them."""

        def query(db: Database) -> list[tuple[bytes, bytes]]:
            found = []
            for table, column in SEALED_COLUMNS:
                sql = (
                    f"SELECT id, {column}_sealed FROM {table}"
                    f" WHERE {column}_sealed IS NOT NULL LIMIT ?"
                )
                for row_id, blob in db.execute(sql, [limit]):
                    found.append((bytes(blob), f"{table}:{row_id}:{column}".encode()))
            return found

        return await self.engine.read(query)

    async def increment_counter(self, name: str, by: int = 1) -> None:
        await self.engine.write(
            lambda db: db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                [name, by],
            )
        )

    async def counters(self) -> dict[str, int]:
        return await self.engine.read(
            lambda db: dict(db.execute("SELECT name, value FROM counters").fetchall())
        )
