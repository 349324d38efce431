"""SQLite queries for repositories' own git credentials: one row per repository, secret sealed.

A mixin of `SqliteStore` (it needs only `self.engine`). The secret is only ever read by the
credential source that hands it to git (`oore.providers.credentials`); the API reads the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlite_utils import Database

from oore.errors import NotFound
from oore.store.base import CredentialKind, RepositoryCredential
from oore.store.engine import Engine

_COLUMNS = "id, repository_id, kind, username, public_key, origin, created_at"


class CredentialQueries:
    engine: Engine

    async def set_repository_credential(
        self, credential: RepositoryCredential, secret_sealed: bytes
    ) -> None:
        """Store (replacing any) the repository's credential; NotFound for no such repository."""
        row = dataclasses.asdict(credential) | {
            "kind": str(credential.kind),
            "secret_sealed": secret_sealed,
        }

        def unit(db: Database) -> None:
            if not db.execute(
                "SELECT 1 FROM repositories WHERE id = ?", [credential.repository_id]
            ).fetchone():
                raise NotFound(f"repository {credential.repository_id} not found")
            db.table("repository_credentials").insert(row, replace=True)

        await self.engine.write(unit)

    async def repository_credential(self, repository_id: str) -> RepositoryCredential | None:
        found = await self.sealed_repository_credential(repository_id)
        return None if found is None else found[0]

    async def sealed_repository_credential(
        self, repository_id: str
    ) -> tuple[RepositoryCredential, bytes] | None:
        """The credential and its sealed secret (AAD repository_credentials:<id>:secret)."""

        def query(db: Database) -> tuple[RepositoryCredential, bytes] | None:
            row = db.execute(
                f"SELECT {_COLUMNS}, secret_sealed FROM repository_credentials"
                " WHERE repository_id = ?",
                [repository_id],
            ).fetchone()
            return None if row is None else (_credential(row[:-1]), bytes(row[-1]))

        return await self.engine.read(query)

    async def delete_repository_credential(self, repository_id: str) -> bool:
        """Remove the repository's credential; whether there was one."""

        def unit(db: Database) -> bool:
            cursor = db.execute(
                "DELETE FROM repository_credentials WHERE repository_id = ?", [repository_id]
            )
            return bool(cursor.rowcount)

        return await self.engine.write(unit)


def _credential(row: tuple[Any, ...]) -> RepositoryCredential:
    row_id, repository_id, kind, username, public_key, origin, created_at = row
    return RepositoryCredential(
        id=row_id,
        repository_id=repository_id,
        kind=CredentialKind(kind),
        username=username,
        public_key=public_key,
        origin=origin,
        created_at=created_at,
    )
