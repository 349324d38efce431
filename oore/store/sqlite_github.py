"""SQLite queries for the GitHub App: the app and its sealed secrets, manifest states, and the
installations (with their repositories) GitHub reports through the app's webhooks.

A mixin of `SqliteStore` (it needs `self.engine` and `self.changes`). Saving the app announces
`repository_changed`: the app's webhook secret verifies the deliveries of every repository
registered through it, so the webhook intake must forget what it cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from oore.errors import NotFound
from oore.model import GithubApp, GithubInstallation, GithubInstallationRepo, utcnow
from oore.primitives import Broadcast
from oore.store import rows
from oore.store.base import GithubAppSecrets
from oore.store.changes import Change, ChangeKind
from oore.store.engine import Engine

APP_COLUMNS = "id, app_id, slug, name, owner, html_url, client_id, created_at"


class GithubQueries:
    engine: Engine
    changes: Broadcast[Change]

    async def save_github_app(self, app: GithubApp, secrets: GithubAppSecrets) -> None:
        """Store `app`, replacing any earlier one and forgetting that one's installations."""
        row = {
            **{name: getattr(app, name) for name in app.__slots__},
            "private_key_sealed": secrets.private_key_sealed,
            "webhook_secret_sealed": secrets.webhook_secret_sealed,
            "client_secret_sealed": secrets.client_secret_sealed,
        }

        def unit(db: Database) -> None:
            db.execute("DELETE FROM github_app")
            db.execute("DELETE FROM github_installations")
            db.table("github_app").insert(row)

        change = Change(ChangeKind.REPOSITORY_CHANGED)
        await self.engine.write(unit, then=lambda _: self.changes.publish(change))

    async def github_app(self) -> GithubApp | None:
        def query(db: Database) -> GithubApp | None:
            found = rows.dicts(db.execute(f"SELECT {APP_COLUMNS} FROM github_app LIMIT 1"))
            return GithubApp(**found[0]) if found else None

        return await self.engine.read(query)

    async def github_app_with_secrets(self) -> tuple[GithubApp, GithubAppSecrets] | None:
        """The app and its sealed secrets read together: separate reads could straddle a
        replacement of the app and find the first one's secrets gone."""

        def query(db: Database) -> tuple[GithubApp, GithubAppSecrets] | None:
            found = rows.dicts(
                db.execute(
                    f"SELECT {APP_COLUMNS}, private_key_sealed, webhook_secret_sealed,"
                    " client_secret_sealed FROM github_app LIMIT 1"
                )
            )
            if not found:
                return None
            row = found[0]
            secrets = GithubAppSecrets(
                bytes(row.pop("private_key_sealed")),
                bytes(row.pop("webhook_secret_sealed")),
                bytes(row.pop("client_secret_sealed")),
            )
            return GithubApp(**row), secrets

        return await self.engine.read(query)

    async def github_installation_covers(self, installation_id: int, repo_id: int) -> bool:
        """Whether GitHub reported repository `repo_id` as one installation `installation_id`
        may see (through the app's webhooks or when the installation was read)."""
        return await self.engine.read(
            lambda db: (
                db.execute(
                    "SELECT 1 FROM github_installation_repositories"
                    " WHERE installation_id = ? AND repo_id = ?",
                    [installation_id, repo_id],
                ).fetchone()
                is not None
            )
        )

    async def github_app_secrets(self, app_row_id: str) -> GithubAppSecrets:
        def query(db: Database) -> GithubAppSecrets:
            row = db.execute(
                "SELECT private_key_sealed, webhook_secret_sealed, client_secret_sealed"
                " FROM github_app WHERE id = ?",
                [app_row_id],
            ).fetchone()
            if row is None:
                raise NotFound("no GitHub App is set up; run `oore github setup`")
            return GithubAppSecrets(bytes(row[0]), bytes(row[1]), bytes(row[2]))

        return await self.engine.read(query)

    async def add_manifest_state(self, state_hash: str, expires_at: str) -> None:
        now = utcnow()

        def unit(db: Database) -> None:
            db.execute("DELETE FROM github_manifest_states WHERE expires_at <= ?", [now])
            db.table("github_manifest_states").insert(
                {"state_hash": state_hash, "expires_at": expires_at, "created_at": now}
            )

        await self.engine.write(unit)

    async def take_manifest_state(self, state_hash: str) -> bool:
        """Use a state: True when it existed and had not expired; it is gone afterwards."""
        now = utcnow()

        def unit(db: Database) -> bool:
            taken = db.execute(
                "DELETE FROM github_manifest_states WHERE state_hash = ? AND expires_at > ?",
                [state_hash, now],
            ).rowcount
            return bool(taken == 1)

        return await self.engine.write(unit)

    async def put_github_installation(self, installation: GithubInstallation) -> None:
        """Create or update an installation and replace its repositories."""

        def unit(db: Database) -> None:
            db.execute(
                "INSERT INTO github_installations (id, account, account_type,"
                " repository_selection, suspended, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " account = excluded.account, account_type = excluded.account_type,"
                " repository_selection = excluded.repository_selection,"
                " suspended = excluded.suspended, updated_at = excluded.updated_at",
                [
                    installation.id,
                    installation.account,
                    installation.account_type,
                    installation.repository_selection,
                    int(installation.suspended),
                    installation.updated_at,
                    installation.updated_at,
                ],
            )
            db.execute(
                "DELETE FROM github_installation_repositories WHERE installation_id = ?",
                [installation.id],
            )
            _add_repositories(db, installation.id, installation.repositories)

        await self.engine.write(unit)

    async def change_github_installation_repositories(
        self,
        installation_id: int,
        added: tuple[GithubInstallationRepo, ...],
        removed: tuple[int, ...],
    ) -> None:
        """Add and remove repositories of a known installation (NotFound for an unknown one)."""

        def unit(db: Database) -> None:
            _get_installation(db, installation_id)
            db.conn.executemany(
                "DELETE FROM github_installation_repositories"
                " WHERE installation_id = ? AND repo_id = ?",
                [(installation_id, repo_id) for repo_id in removed],
            )
            _add_repositories(db, installation_id, added)
            db.execute(
                "UPDATE github_installations SET updated_at = ? WHERE id = ?",
                [utcnow(), installation_id],
            )

        await self.engine.write(unit)

    async def delete_github_installation(self, installation_id: int) -> None:
        await self.engine.write(
            lambda db: db.execute(
                "DELETE FROM github_installations WHERE id = ?", [installation_id]
            )
        )

    async def github_installations(self) -> list[GithubInstallation]:
        def query(db: Database) -> list[GithubInstallation]:
            ids = [r[0] for r in db.execute("SELECT id FROM github_installations ORDER BY id")]
            return [_get_installation(db, i) for i in ids]

        return await self.engine.read(query)

    async def github_installation(self, installation_id: int) -> GithubInstallation:
        return await self.engine.read(lambda db: _get_installation(db, installation_id))


def _add_repositories(
    db: Database, installation_id: int, repos: Iterable[GithubInstallationRepo]
) -> None:
    db.conn.executemany(
        "INSERT INTO github_installation_repositories (installation_id, repo_id, full_name,"
        " private) VALUES (?, ?, ?, ?) ON CONFLICT (installation_id, repo_id) DO UPDATE SET"
        " full_name = excluded.full_name, private = excluded.private",
        [(installation_id, r.id, r.full_name, int(r.private)) for r in repos],
    )


def _get_installation(db: Database, installation_id: int) -> GithubInstallation:
    found = rows.dicts(
        db.execute("SELECT * FROM github_installations WHERE id = ?", [installation_id])
    )
    if not found:
        raise NotFound(
            f"GitHub App installation {installation_id} is not known; install the app on the "
            "account (GitHub then tells Oore through the app's webhook)"
        )
    repos = db.execute(
        "SELECT repo_id, full_name, private FROM github_installation_repositories"
        " WHERE installation_id = ? ORDER BY full_name",
        [installation_id],
    )
    return _installation(found[0], [GithubInstallationRepo(r[0], r[1], bool(r[2])) for r in repos])


def _installation(row: dict[str, Any], repos: list[GithubInstallationRepo]) -> GithubInstallation:
    return GithubInstallation(
        id=row["id"],
        account=row["account"],
        account_type=row["account_type"],
        repository_selection=row["repository_selection"],
        suspended=bool(row["suspended"]),
        repositories=tuple(repos),
        updated_at=row["updated_at"],
    )
