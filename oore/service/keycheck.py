"""Does the configured encryption key open what the database has sealed? The daemon's own check
(`oore.daemon.verify_key`) run against a read-only connection, so asking never changes anything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import trio
from sqlite_utils import Database

from oore.config import Settings
from oore.crypto import Sealer
from oore.daemon import KEY_CHECK, KEY_FINGERPRINT, verify_key
from oore.errors import ConfigError, Unavailable
from oore.store.engine import Engine
from oore.store.sqlite import SqliteStore

T = TypeVar("T")


class _WouldWrite(Exception):
    """verify_key got as far as storing its canary: everything it found opened."""


class ReadOnlyEngine(Engine):
    """An `Engine` with one read-only connection; a write is refused with `_WouldWrite`."""

    def __init__(self, path: Path) -> None:  # no super().__init__: it opens read-write
        self.path = path
        uri = f"{path.absolute().as_uri()}?mode=ro"
        self._db = Database(sqlite3.connect(uri, uri=True, check_same_thread=False))

    async def read(self, query: Callable[[Database], T]) -> T:
        try:
            return await trio.to_thread.run_sync(query, self._db)
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot read the database {self.path}: {exc}") from exc

    async def write(
        self, unit: Callable[[Database], T], *, then: Callable[[T], None] | None = None
    ) -> T:
        raise _WouldWrite

    def close(self) -> None:
        self._db.close()


async def check_key(settings: Settings, key: bytes | None) -> str:
    """A sentence on success; raise ConfigError (wrong or missing key) or Unavailable."""
    database = settings.database_path
    if not database.exists():
        return f"no database yet at {database}; nothing sealed to check"
    engine = ReadOnlyEngine(database)
    try:
        store = SqliteStore(engine)
        if key is None:
            return await _without_key(store, database)
        try:
            await verify_key(store, Sealer(key), settings)
        except _WouldWrite:
            return f"opens everything sealed in {database} (no key check stored yet)"
        return f"opens the data sealed in {database}"
    finally:
        engine.close()


async def _without_key(store: SqliteStore, database: Path) -> str:
    stored = [await store.get_meta(name) for name in (KEY_FINGERPRINT, KEY_CHECK)]
    if any(value is not None for value in stored) or await store.sealed_samples(limit=1):
        raise ConfigError(
            f"no encryption key is configured, but {database} holds sealed data; restore "
            "OORE_ENCRYPTION_KEY (env file) or the data dir's encryption-key file from a backup"
        )
    return "none configured yet; oored run generates one (nothing sealed so far)"
