"""The SQLite implementation of `Store`, on sqlite-utils, through the group-committing `Engine`.

All SQL of the project lives here and in `migrations/`. Each public method is one unit of work:
one read snapshot or one write unit (committed with whatever else is waiting).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from sqlite_utils import Database

from oore.errors import Conflict, NotFound, Unavailable
from oore.groups import unwrap_single
from oore.model import (
    ApiToken,
    Build,
    BuildStatus,
    EventState,
    Provider,
    Repository,
    Step,
    StepStatus,
    WebhookEvent,
    check_build_transition,
    check_step_transition,
    utcnow,
)
from oore.store import migrations, rows
from oore.store.base import EventFilter, Page, RepositorySecrets
from oore.store.engine import Engine, connect
from oore.store.sqlite_builds import BuildQueries, insert_build
from oore.store.sqlite_secrets import SecretQueries

SEALED_COLUMNS = (
    ("repositories", "webhook_secret"),
    ("secrets", "value"),
    ("credentials", "value"),
)
REPOSITORY_FIELDS = frozenset(
    {
        "clone_url",
        "default_branch",
        "active",
        "github_repo_id",
        "github_installation_id",
        "gitlab_project_id",
        "badge_public",
        "allow_fork_secrets",
    }
)
BUILD_FIELDS = frozenset(
    {"queue_reason", "error", "process_group", "started_at", "finished_at", "workspace"}
)
STEP_FIELDS = frozenset({"exit_code", "started_at", "finished_at", "error"})


@asynccontextmanager
async def open_sqlite_store(path: Path) -> AsyncIterator[SqliteStore]:
    """Open (creating and migrating) the database at `path` for the lifetime of the block."""
    engine = await trio.to_thread.run_sync(_open_engine, path)
    try:
        with unwrap_single():
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                yield SqliteStore(engine)
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


class SqliteStore(BuildQueries, SecretQueries):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- health, metadata, counters -------------------------------------------------------

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

    # --- repositories ---------------------------------------------------------------------

    async def create_repository(self, repo: Repository, secrets: RepositorySecrets) -> None:
        row = rows.repository_row(repo) | _secret_columns(secrets)

        def unit(db: Database) -> None:
            try:
                db.table("repositories").insert(row)
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"repository {repo.provider} {repo.full_name} is already registered"
                ) from exc

        await self.engine.write(unit)

    async def get_repository(self, repository_id: str) -> Repository:
        return await self.engine.read(lambda db: _get_repository(db, repository_id))

    async def list_repositories(self) -> list[Repository]:
        sql = f"SELECT {rows.REPOSITORY_COLUMNS} FROM repositories ORDER BY provider, owner, name"
        return await self.engine.read(
            lambda db: [rows.repository(r) for r in rows.dicts(db.execute(sql))]
        )

    async def update_repository(
        self, repository_id: str, changes: dict[str, Any], secrets: RepositorySecrets | None = None
    ) -> Repository:
        unknown = set(changes) - REPOSITORY_FIELDS
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = {k: int(v) if isinstance(v, bool) else v for k, v in changes.items()}
        if secrets is not None:
            values |= _secret_columns(secrets)
        values["updated_at"] = utcnow()

        def unit(db: Database) -> Repository:
            _get_repository(db, repository_id)
            db.table("repositories").update(repository_id, values)
            return _get_repository(db, repository_id)

        return await self.engine.write(unit)

    async def delete_repository(self, repository_id: str) -> None:
        def unit(db: Database) -> None:
            _get_repository(db, repository_id)
            db.execute("DELETE FROM repositories WHERE id = ?", [repository_id])

        await self.engine.write(unit)

    async def find_repository(
        self, provider: Provider, owner: str, name: str, provider_id: int | None
    ) -> Repository | None:
        id_column = "github_repo_id" if provider is Provider.GITHUB else "gitlab_project_id"

        def query(db: Database) -> Repository | None:
            # The provider's numeric id wins: it survives renames and transfers.
            if provider_id is not None and -(2**63) <= provider_id < 2**63:  # SQLite int64
                found = _one_repository(
                    db, f"provider = ? AND {id_column} = ?", [str(provider), provider_id]
                )
                if found:
                    return found
            return _one_repository(
                db,
                "provider = ? AND lower(owner) = lower(?) AND lower(name) = lower(?)",
                [str(provider), owner, name],
            )

        return await self.engine.read(query)

    async def repository_secrets(self, repository_id: str) -> RepositorySecrets:
        def query(db: Database) -> RepositorySecrets:
            row = db.execute(
                "SELECT webhook_secret_sealed, webhook_token_hmac FROM repositories WHERE id = ?",
                [repository_id],
            ).fetchone()
            if row is None:
                raise NotFound(f"repository {repository_id} not found")
            return RepositorySecrets(bytes(row[0]) if row[0] is not None else None, row[1])

        return await self.engine.read(query)

    # --- webhook events -------------------------------------------------------------------

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
        trigger: dict[str, Any] | None,
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
                    json.dumps(trigger) if trigger is not None else None,
                    utcnow(),
                    event_id,
                ],
            )
            return cursor.rowcount == 1

        return await self.engine.write(unit)

    async def reset_event(self, event_id: str) -> WebhookEvent:
        def unit(db: Database) -> WebhookEvent:
            current = _get_event(db, event_id)
            if current.state is EventState.PENDING:
                raise Conflict(f"event {event_id} is still waiting to be processed")
            db.execute(
                "UPDATE webhook_events SET state = 'pending', reason = NULL, trigger = NULL,"
                " processed_at = NULL WHERE id = ?",
                [event_id],
            )
            return _get_event(db, event_id)

        return await self.engine.write(unit)

    # --- API tokens -----------------------------------------------------------------------

    async def create_token(self, token: ApiToken, token_hash: str) -> None:
        row = dataclasses.asdict(token) | {"scope": str(token.scope), "token_hash": token_hash}
        await self.engine.write(lambda db: db.table("api_tokens").insert(row))

    async def find_token(self, token_hash: str) -> ApiToken | None:
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

    # --- builds and steps -----------------------------------------------------------------

    async def create_build(self, build: Build) -> Build:
        """Insert a build, numbering it with the repository's next build number."""
        return await self.engine.write(lambda db: insert_build(db, build))

    async def get_build(self, build_id: str) -> Build:
        return await self.engine.read(lambda db: _get_build(db, build_id))

    async def builds_for_event(self, event_id: str) -> list[Build]:
        return await self.engine.read(
            lambda db: [
                rows.build(r) for r in db.table("builds").rows_where("event_id = ?", [event_id])
            ]
        )

    async def transition_build(self, build_id: str, status: BuildStatus, **fields: Any) -> Build:
        """Change a build's status, guarded by the transition table and its current status."""
        _check_fields(fields, BUILD_FIELDS)
        values = _with_times(fields, started=status is BuildStatus.RUNNING, ended=status.finished)

        def unit(db: Database) -> Build:
            current = _get_build(db, build_id)
            check_build_transition(current.status, status)
            _guarded_update(
                db, "builds", build_id, str(current.status), values | {"status": str(status)}
            )
            return _get_build(db, build_id)

        return await self.engine.write(unit)

    async def create_steps(self, steps: list[Step]) -> None:
        await self.engine.write(
            lambda db: db.table("steps").insert_all([rows.step_row(s) for s in steps])
        )

    async def get_steps(self, build_id: str) -> list[Step]:
        return await self.engine.read(
            lambda db: [
                rows.step(r)
                for r in db.table("steps").rows_where("build_id = ?", [build_id], order_by="idx")
            ]
        )

    async def transition_step(self, step_id: str, status: StepStatus, **fields: Any) -> Step:
        _check_fields(fields, STEP_FIELDS)
        running = status is StepStatus.RUNNING
        values = _with_times(fields, started=running, ended=not running)

        def unit(db: Database) -> Step:
            current = _get_step(db, step_id)
            check_step_transition(current.status, status)
            _guarded_update(
                db, "steps", step_id, str(current.status), values | {"status": str(status)}
            )
            return _get_step(db, step_id)

        return await self.engine.write(unit)


def _secret_columns(secrets: RepositorySecrets) -> dict[str, Any]:
    return {
        "webhook_secret_sealed": secrets.webhook_secret_sealed,
        "webhook_token_hmac": secrets.webhook_token_hmac,
    }


def _one_repository(db: Database, where: str, params: list[Any]) -> Repository | None:
    sql = f"SELECT {rows.REPOSITORY_COLUMNS} FROM repositories WHERE {where} LIMIT 1"
    found = rows.dicts(db.execute(sql, params))
    return rows.repository(found[0]) if found else None


def _get_repository(db: Database, repository_id: str) -> Repository:
    found = _one_repository(db, "id = ?", [repository_id])
    if found is None:
        raise NotFound(f"repository {repository_id} not found")
    return found


def _get_event(db: Database, event_id: str) -> WebhookEvent:
    found = rows.dicts(db.execute("SELECT * FROM webhook_events WHERE id = ?", [event_id]))
    if not found:
        raise NotFound(f"webhook event {event_id} not found")
    return rows.event(found[0])


def _get_build(db: Database, build_id: str) -> Build:
    found = rows.dicts(db.execute("SELECT * FROM builds WHERE id = ?", [build_id]))
    if not found:
        raise NotFound(f"build {build_id} not found")
    return rows.build(found[0])


def _get_step(db: Database, step_id: str) -> Step:
    found = rows.dicts(db.execute("SELECT * FROM steps WHERE id = ?", [step_id]))
    if not found:
        raise NotFound(f"step {step_id} not found")
    return rows.step(found[0])


def _with_times(fields: dict[str, Any], *, started: bool, ended: bool) -> dict[str, Any]:
    """The update's values, with started_at/finished_at stamped now unless given."""
    values = dict(fields)
    if started:
        values.setdefault("started_at", utcnow())
    if ended:
        values.setdefault("finished_at", utcnow())
    return values


def _check_fields(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")


def _guarded_update(
    db: Database, table: str, row_id: str, expected_status: str, values: dict[str, Any]
) -> None:
    # Guarded by the status we read: the single atomic claim DESIGN.md §7 needs for sharing a
    # queue between nodes (queued → preparing) is this same statement.
    assignments = ", ".join(f"{column} = ?" for column in values)
    cursor = db.execute(
        f"UPDATE {table} SET {assignments} WHERE id = ? AND status = ?",
        [*values.values(), row_id, expected_status],
    )
    if cursor.rowcount != 1:
        raise Conflict(f"{table[:-1]} {row_id} changed status concurrently")
