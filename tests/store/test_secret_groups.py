"""Secret groups in SQLite (issue 10): a group's scope, kept apart from its sealed values, and
the migration that gives existing groups and repositories their new columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from oore.errors import NotFound
from oore.model import SecretGroup
from oore.store import migrations
from oore.store.sqlite import SqliteStore, migrate, open_sqlite_store
from tests.store.factories import NO_SECRETS, make_repo

SEALED = {
    "A": ("01HROWAAAAAAAAAAAAAAAAAAAA", b"sealed-a"),
    "B": ("01HROWBBBBBBBBBBBBBBBBBBBB", b"b"),
}


async def test_a_new_group_is_for_every_repository_until_scoped(store: SqliteStore) -> None:
    group = await store.replace_secret_group("g", SEALED)
    assert group == SecretGroup("g", ("A", "B"), ())
    assert group.allows("any-repository")
    scoped = await store.replace_secret_group("g", SEALED, ("r1", "r2"))
    assert scoped.repositories == ("r1", "r2")
    assert scoped.allows("r1")
    assert not scoped.allows("r3")


async def test_replacing_values_keeps_the_scope_unless_given(store: SqliteStore) -> None:
    await store.replace_secret_group("g", SEALED, ("r1",))
    kept = await store.replace_secret_group("g", {"C": ("01HROWCCCCCCCCCCCCCCCCCCCC", b"c")})
    assert kept == SecretGroup("g", ("C",), ("r1",))
    cleared = await store.replace_secret_group("g", SEALED, ())
    assert cleared.repositories == ()
    assert await store.secret_groups() == [cleared]


async def test_delete_removes_values_and_scope(store: SqliteStore) -> None:
    await store.replace_secret_group("g", SEALED, ("r1",))
    await store.delete_secret_group("g")
    with pytest.raises(NotFound):
        await store.secret_group("g")
    with pytest.raises(NotFound):
        await store.sealed_secret_group("g")
    with pytest.raises(NotFound):
        await store.delete_secret_group("g")
    assert (await store.replace_secret_group("g", SEALED)).repositories == ()


async def test_allow_fork_secrets_is_stored_and_updatable(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    assert (await store.get_repository(repo.id)).allow_fork_secrets is False
    changed = await store.update_repository(repo.id, {"allow_fork_secrets": True})
    assert changed.allow_fork_secrets is True
    assert (await store.list_repositories())[0].allow_fork_secrets is True


async def test_the_migration_gives_existing_groups_an_open_scope(tmp_path: Path) -> None:
    path = tmp_path / "oore.db"
    conn = sqlite3.connect(path)
    migrations_before = [m for m in migrations.available() if m.version < 3]
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
    )
    for migration in migrations_before:
        conn.executescript(migration.sql)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00.000Z')",
            [migration.version, migration.name],
        )
    conn.executemany(
        "INSERT INTO secrets VALUES (?, ?, ?, ?, '2026-01-01T00:00:00.000Z', ?)",
        [
            ("01HROWAAAAAAAAAAAAAAAAAAAA", "old", "A", b"a", "2026-01-02T00:00:00.000Z"),
            ("01HROWBBBBBBBBBBBBBBBBBBBB", "old", "B", b"b", "2026-01-03T00:00:00.000Z"),
        ],
    )
    conn.commit()
    conn.close()
    assert 3 in migrate(path)
    async with open_sqlite_store(path) as store:
        assert await store.secret_groups() == [SecretGroup("old", ("A", "B"), ())]
