"""Versioned schema migrations: `migrations/NNNN_name.sql`, applied in order, each once.

Applied versions are recorded in `schema_migrations`; each migration and its record are one
transaction, so a crash mid-migration leaves the previous version intact and the next start
retries it. Running `apply` again is a no-op.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from sqlite_utils import Database

from oore.model import utcnow

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    folder = resources.files("oore.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def applied(db: Database) -> list[int]:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    return [row[0] for row in db.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def apply(db: Database) -> list[int]:
    """Apply every pending migration; return the versions applied now."""
    done = set(applied(db))
    newly = []
    for migration in available():
        if migration.version not in done:
            _apply_one(db.conn, migration)
            newly.append(migration.version)
    return newly


def _apply_one(conn: sqlite3.Connection, migration: Migration) -> None:
    record = (
        "INSERT INTO schema_migrations (version, name, applied_at)"
        f" VALUES ({migration.version}, '{migration.name}', '{utcnow()}');"
    )
    # executescript runs the whole script; BEGIN/COMMIT inside it make it one transaction.
    try:
        conn.executescript(f"BEGIN;\n{migration.sql}\n{record}\nCOMMIT;")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
