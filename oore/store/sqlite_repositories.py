"""SQLite queries for repositories: registration, settings, webhook secrets, the stored pipeline.

A mixin of `SqliteStore` (it needs `self.engine` and `self.changes`). Registering, changing or
deleting a repository announces `repository_changed` once committed, so caches of repositories
(the webhook intake's) invalidate themselves; storing its pipeline does not (nothing caches it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from oore.errors import Conflict, NotFound
from oore.model import Provider, Repository, utcnow
from oore.primitives import Broadcast
from oore.store import rows
from oore.store.base import UPDATABLE_REPOSITORY_FIELDS, RepositorySecrets
from oore.store.changes import Change, ChangeKind
from oore.store.engine import Engine


class RepositoryQueries:
    engine: Engine
    changes: Broadcast[Change]

    async def create_repository(self, repo: Repository, secrets: RepositorySecrets) -> None:
        row = rows.repository_row(repo) | _secret_columns(secrets)

        def unit(db: Database) -> None:
            try:
                db.table("repositories").insert(row)
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"repository {repo.provider} {repo.full_name} is already registered"
                ) from exc

        await self.engine.write(unit, then=self._changed(repo.id))

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
        unknown = set(changes) - UPDATABLE_REPOSITORY_FIELDS
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

        return await self.engine.write(unit, then=self._changed(repository_id))

    async def delete_repository(self, repository_id: str) -> None:
        def unit(db: Database) -> None:
            _get_repository(db, repository_id)
            db.execute("DELETE FROM repositories WHERE id = ?", [repository_id])

        await self.engine.write(unit, then=self._changed(repository_id))

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

    async def get_pipeline(self, repository_id: str) -> str | None:
        """The pipeline stored through the API (used when the commit has no pipeline file)."""

        def query(db: Database) -> str | None:
            row = db.execute(
                "SELECT pipeline_yaml FROM repositories WHERE id = ?", [repository_id]
            ).fetchone()
            if row is None:
                raise NotFound(f"repository {repository_id} not found")
            return row[0]  # type: ignore[no-any-return]

        return await self.engine.read(query)

    async def set_pipeline(self, repository_id: str, text: str | None) -> None:
        def unit(db: Database) -> None:
            cursor = db.execute(
                "UPDATE repositories SET pipeline_yaml = ?, updated_at = ? WHERE id = ?",
                [text, utcnow(), repository_id],
            )
            if cursor.rowcount != 1:
                raise NotFound(f"repository {repository_id} not found")

        await self.engine.write(unit)

    def _changed(self, repository_id: str) -> Callable[[object], None]:
        change = Change(ChangeKind.REPOSITORY_CHANGED, repository_id=repository_id)
        return lambda _: self.changes.publish(change)


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
