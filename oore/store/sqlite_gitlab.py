"""SQLite queries for GitLab OAuth: the application, sign-in states, the connection's tokens and
the projects enabled through it. Secrets arrive sealed and leave sealed: opening them is the
provider code's business (`oore.providers.gitlab_connection`).

A mixin of `SqliteStore` (it needs only `self.engine`). None of these writes is announced:
nothing caches them (the repositories an enable registers are announced by their own writes).
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from oore.model import utcnow
from oore.store.base import (
    GITLAB_ROW,
    GitLabProjectLink,
    SealedGitLabApplication,
    SealedGitLabConnection,
)
from oore.store.engine import Engine


class GitLabQueries:
    engine: Engine

    async def set_gitlab_application(self, app: SealedGitLabApplication) -> None:
        """Store the application; another application id drops the connection and pending
        sign-ins, whose tokens and codes were issued to the old one."""

        def unit(db: Database) -> None:
            old = db.execute(
                "SELECT application_id FROM gitlab_application WHERE id = ?", [GITLAB_ROW]
            ).fetchone()
            if old is not None and old[0] != app.application_id:
                db.execute("DELETE FROM gitlab_connection")
                db.execute("DELETE FROM gitlab_oauth_states")
            now = utcnow()
            db.execute(
                "INSERT INTO gitlab_application"
                " (id, application_id, secret_sealed, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " application_id = excluded.application_id,"
                " secret_sealed = excluded.secret_sealed, updated_at = excluded.updated_at",
                [GITLAB_ROW, app.application_id, app.secret_sealed, now, now],
            )

        await self.engine.write(unit)

    async def gitlab_application(self) -> SealedGitLabApplication | None:
        def query(db: Database) -> SealedGitLabApplication | None:
            row = db.execute(
                "SELECT application_id, secret_sealed FROM gitlab_application WHERE id = ?",
                [GITLAB_ROW],
            ).fetchone()
            return SealedGitLabApplication(row[0], bytes(row[1])) if row else None

        return await self.engine.read(query)

    async def add_gitlab_state(self, state_hash: str, expires_at: str) -> None:
        def unit(db: Database) -> None:
            # Sign-ins nobody finished pile up otherwise; each new one sweeps the stale.
            db.execute("DELETE FROM gitlab_oauth_states WHERE expires_at <= ?", [utcnow()])
            db.execute(
                "INSERT INTO gitlab_oauth_states (state_hash, expires_at) VALUES (?, ?)",
                [state_hash, expires_at],
            )

        await self.engine.write(unit)

    async def take_gitlab_state(self, state_hash: str, now: str) -> bool:
        """Use up a state: True once if it exists and has not expired, then never again."""

        def unit(db: Database) -> bool:
            cursor = db.execute(
                "DELETE FROM gitlab_oauth_states WHERE state_hash = ? AND expires_at > ?",
                [state_hash, now],
            )
            return cursor.rowcount == 1

        return await self.engine.write(unit)

    async def set_gitlab_connection(self, connection: SealedGitLabConnection) -> None:
        now = utcnow()
        values: list[Any] = [
            GITLAB_ROW,
            connection.username,
            connection.access_token_sealed,
            connection.refresh_token_sealed,
            connection.expires_at,
            now,
            now,
        ]
        await self.engine.write(
            lambda db: db.execute(
                "INSERT INTO gitlab_connection (id, username, access_token_sealed,"
                " refresh_token_sealed, expires_at, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " username = excluded.username,"
                " access_token_sealed = excluded.access_token_sealed,"
                " refresh_token_sealed = excluded.refresh_token_sealed,"
                " expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                values,
            )
        )

    async def gitlab_connection(self) -> SealedGitLabConnection | None:
        def query(db: Database) -> SealedGitLabConnection | None:
            row = db.execute(
                "SELECT access_token_sealed, refresh_token_sealed, expires_at, username"
                " FROM gitlab_connection WHERE id = ?",
                [GITLAB_ROW],
            ).fetchone()
            if row is None:
                return None
            return SealedGitLabConnection(bytes(row[0]), bytes(row[1]), row[2], row[3])

        return await self.engine.read(query)

    async def set_gitlab_project(self, link: GitLabProjectLink) -> None:
        now = utcnow()
        values = [link.repository_id, link.project_id, link.hook_id, now, now]
        await self.engine.write(
            lambda db: db.execute(
                "INSERT INTO gitlab_projects"
                " (repository_id, project_id, hook_id, enabled_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (repository_id) DO UPDATE SET"
                " project_id = excluded.project_id, hook_id = excluded.hook_id,"
                " updated_at = excluded.updated_at",
                values,
            )
        )

    async def gitlab_project_link(self, repository_id: str) -> GitLabProjectLink | None:
        def query(db: Database) -> GitLabProjectLink | None:
            row = db.execute(
                "SELECT repository_id, project_id, hook_id FROM gitlab_projects"
                " WHERE repository_id = ?",
                [repository_id],
            ).fetchone()
            return GitLabProjectLink(row[0], row[1], row[2]) if row else None

        return await self.engine.read(query)

    async def gitlab_project_links(self) -> list[GitLabProjectLink]:
        def query(db: Database) -> list[GitLabProjectLink]:
            cursor = db.execute(
                "SELECT repository_id, project_id, hook_id FROM gitlab_projects ORDER BY project_id"
            )
            return [GitLabProjectLink(r[0], r[1], r[2]) for r in cursor]

        return await self.engine.read(query)
