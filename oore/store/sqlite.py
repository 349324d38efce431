"""The SQLite implementation of `Store`, on sqlite-utils, through the group-committing `Engine`.

All SQL of the project lives in the `sqlite_*` modules (one per entity, each a mixin of query
methods composed here) and in `migrations/`. Each public method is one unit of work: one read
snapshot or one write unit (committed with whatever else is waiting); the writes that change a
build, a step, the queue or a repository publish a `Change` on `changes` once committed.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from oore.errors import Unavailable
from oore.groups import unwrap_single
from oore.primitives import Broadcast
from oore.store import migrations
from oore.store.changes import Change
from oore.store.engine import Engine, connect
from oore.store.sqlite_artifacts import ArtifactQueries
from oore.store.sqlite_badges import BadgeQueries
from oore.store.sqlite_builds import BuildQueries
from oore.store.sqlite_credentials import CredentialQueries
from oore.store.sqlite_events import EventQueries
from oore.store.sqlite_github import GithubQueries
from oore.store.sqlite_gitlab import GitLabQueries
from oore.store.sqlite_meta import MetaQueries
from oore.store.sqlite_notifications import NotificationQueries
from oore.store.sqlite_notify_settings import NotificationSettingQueries
from oore.store.sqlite_repositories import RepositoryQueries
from oore.store.sqlite_retention import RetentionQueries
from oore.store.sqlite_secrets import SecretQueries
from oore.store.sqlite_sessions import SessionQueries
from oore.store.sqlite_steps import StepQueries
from oore.store.sqlite_tokens import TokenQueries


class SqliteStore(
    MetaQueries,
    RepositoryQueries,
    EventQueries,
    TokenQueries,
    SessionQueries,
    BuildQueries,
    StepQueries,
    ArtifactQueries,
    BadgeQueries,
    SecretQueries,
    GitLabQueries,
    GithubQueries,
    CredentialQueries,
    NotificationQueries,
    NotificationSettingQueries,
    RetentionQueries,
):
    def __init__(self, engine: Engine, changes: Broadcast[Change] | None = None) -> None:
        self.engine = engine
        self.changes = changes if changes is not None else Broadcast()


@asynccontextmanager
async def open_sqlite_store(
    path: Path, changes: Broadcast[Change] | None = None
) -> AsyncIterator[SqliteStore]:
    """Open (creating and migrating) the database at `path` for the lifetime of the block.

    Committed changes are published on `changes` (a new Broadcast when not given).
    """
    engine = await trio.to_thread.run_sync(_open_engine, path)
    try:
        with unwrap_single():
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                yield SqliteStore(engine, changes)
                nursery.cancel_scope.cancel()
    finally:
        engine.close()


def _open_engine(path: Path) -> Engine:
    _create_private(path)
    try:
        engine = Engine(path)
        migrations.apply(engine.connect_for_migrations())
    except sqlite3.DatabaseError as exc:
        raise Unavailable(f"cannot open the database {path}: {exc}") from exc
    return engine


def migrate(path: Path) -> list[int]:
    """Apply pending migrations without starting the daemon (for `oored migrate`)."""
    _create_private(path)
    db = connect(path)
    try:
        return migrations.apply(db)
    finally:
        db.close()


def _create_private(path: Path) -> None:
    # Webhook bodies and sealed secrets live here: owner-only, like the env file. SQLite gives
    # the -wal and -shm files the database file's permissions.
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
