"""SQLite queries for secret groups: sealed values (one row each) and the group's scope.

A mixin of `SqliteStore` (it needs only `self.engine`). A group is a `secret_groups` row (its scope:
a JSON list of repository ids, empty = every repository) and one `secrets` row per variable.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from oore.errors import NotFound
from oore.model import SecretGroup, utcnow
from oore.store.engine import Engine


class SecretQueries:
    engine: Engine

    async def replace_secret_group(
        self,
        group: str,
        sealed: dict[str, tuple[str, bytes]],
        repositories: tuple[str, ...] | None = None,
    ) -> SecretGroup:
        """Replace a group's values; `sealed` maps name → (row id, blob sealed for that id).

        `repositories` replaces the group's scope; None keeps it (a new group: every repository),
        so re-entering values never silently widens who may use them.
        """
        now = utcnow()
        scope = json.dumps(list(repositories or ()))
        keep_scope = repositories is None

        def unit(db: Database) -> SecretGroup:
            db.execute("DELETE FROM secrets WHERE group_name = ?", [group])
            db.table("secrets").insert_all(
                {
                    "id": row_id,
                    "group_name": group,
                    "name": name,
                    "value_sealed": blob,
                    "created_at": now,
                    "updated_at": now,
                }
                for name, (row_id, blob) in sealed.items()
            )
            update = "updated_at = excluded.updated_at"
            if not keep_scope:
                update += ", repositories = excluded.repositories"
            db.execute(
                "INSERT INTO secret_groups (name, repositories, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET {update}",
                [group, scope, now, now],
            )
            return _get_group(db, group)

        return await self.engine.write(unit)

    async def secret_groups(self) -> list[SecretGroup]:
        return await self.engine.read(_groups)

    async def secret_group(self, group: str) -> SecretGroup:
        """The group's variable names and scope; NotFound when there is no such group."""
        return await self.engine.read(lambda db: _get_group(db, group))

    async def sealed_secret_group(self, group: str) -> list[tuple[str, str, bytes]]:
        """(row id, name, sealed blob) of each value in the group; NotFound when it is empty."""

        def query(db: Database) -> list[tuple[str, str, bytes]]:
            found = [
                (r[0], r[1], bytes(r[2]))
                for r in db.execute(
                    "SELECT id, name, value_sealed FROM secrets WHERE group_name = ? ORDER BY name",
                    [group],
                )
            ]
            if not found:
                raise NotFound(f"secret group {group} not found")
            return found

        return await self.engine.read(query)

    async def delete_secret_group(self, group: str) -> None:
        def unit(db: Database) -> None:
            values = db.execute("DELETE FROM secrets WHERE group_name = ?", [group]).rowcount
            scope = db.execute("DELETE FROM secret_groups WHERE name = ?", [group]).rowcount
            if values == 0 and scope == 0:
                raise NotFound(f"secret group {group} not found")

        await self.engine.write(unit)


def _groups(db: Database, only: str | None = None) -> list[SecretGroup]:
    """Every group (or only the one named), with its variable names and scope."""
    where, params = (" WHERE {} = ?", [only]) if only is not None else ("", [])
    names: dict[str, list[str]] = {}
    for group, name in db.execute(
        "SELECT group_name, name FROM secrets" + where.format("group_name") + " ORDER BY 1, 2",
        params,
    ):
        names.setdefault(group, []).append(name)
    scopes = db.execute(
        "SELECT name, repositories FROM secret_groups" + where.format("name") + " ORDER BY 1",
        params,
    )
    return [SecretGroup(n, tuple(names.get(n, ())), tuple(json.loads(s))) for n, s in scopes]


def _get_group(db: Database, group: str) -> SecretGroup:
    found = _groups(db, group)
    if not found:
        raise NotFound(f"secret group {group} not found")
    return found[0]
