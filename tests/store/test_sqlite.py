"""The SQLite store as a whole: migrations, group commit, opening and closing, the composition
of the per-entity query modules, and where its changes are published."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest
import trio

import oore.store
from oore.errors import Conflict, Unavailable
from oore.model import Repository
from oore.primitives import Broadcast
from oore.store import migrations
from oore.store.base import Store
from oore.store.changes import Change, ChangeKind
from oore.store.sqlite import SqliteStore, migrate, open_sqlite_store
from tests.store.factories import NO_SECRETS, make_event, make_repo


def test_migrations_from_empty_then_rerun(tmp_path: Path) -> None:
    path = tmp_path / "oore.db"
    versions = [m.version for m in migrations.available()]
    assert versions[0] == 1
    assert migrate(path) == versions
    assert migrate(path) == []
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    recorded = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert recorded == versions
    for table in (
        "repositories",
        "builds",
        "steps",
        "webhook_events",
        "artifacts",
        "api_tokens",
        "secrets",
        "credentials",
        "deliveries",  # 0007 replaced the initial notification_outbox
        "notification_settings",
        "notification_targets",
    ):
        assert table in tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_failed_migration_leaves_no_trace(tmp_path: Path) -> None:
    from oore.store.engine import connect

    db = connect(tmp_path / "x.db")
    migrations.applied(db)
    broken = migrations.Migration(99, "broken", "CREATE TABLE t (a INT); SELECT nonsense();")
    with pytest.raises(sqlite3.OperationalError):
        migrations._apply_one(db.conn, broken)
    assert not db.conn.in_transaction
    assert "t" not in db.table_names()
    assert migrations.applied(db) == []


async def test_concurrent_writes_are_group_committed(store: SqliteStore) -> None:
    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(store.insert_event, make_event(f"g-{i}"))
    assert len(await store.pending_event_ids(1000)) == 200
    assert store.engine.batches < store.engine.units / 4


async def test_a_failing_unit_does_not_spoil_its_batch(store: SqliteStore) -> None:
    repo = make_repo()
    results: dict[str, object] = {}

    async def create(key: str, r: Repository) -> None:
        try:
            await store.create_repository(r, NO_SECRETS)
            results[key] = "ok"
        except Conflict:
            results[key] = "conflict"

    await store.create_repository(repo, NO_SECRETS)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(create, "dup", make_repo())
        nursery.start_soon(create, "new", make_repo("other", github_id=7))
    assert results == {"dup": "conflict", "new": "ok"}
    assert len(await store.list_repositories()) == 2


async def test_closed_store_is_unavailable(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path / "c.db") as s:
        await s.ping()
    with pytest.raises(Unavailable):
        await s.ping()


async def test_changes_go_to_the_broadcast_it_is_opened_with(tmp_path: Path) -> None:
    changes: Broadcast[Change] = Broadcast()
    async with open_sqlite_store(tmp_path / "b.db", changes) as opened:
        store: Store = opened  # the Protocol, checked by mypy where it is used in oore/
        assert store.changes is changes
        with changes.subscribe() as sub:
            repo = make_repo()
            await store.create_repository(repo, NO_SECRETS)
            change = sub.receive.receive_nowait()
    assert (change.kind, change.repository_id) == (ChangeKind.REPOSITORY_CHANGED, repo.id)


async def test_each_store_has_its_own_changes_unless_given_one(tmp_path: Path) -> None:
    async with (
        open_sqlite_store(tmp_path / "1.db") as one,
        open_sqlite_store(tmp_path / "2.db") as two,
    ):
        assert isinstance(one.changes, Broadcast)
        assert one.changes is not two.changes


# Writes that change nothing a subscriber follows (builds, steps, the queue, repositories).
NOT_ANNOUNCED = {
    "set_meta",
    "increment_counter",
    "insert_event",
    "finish_event",
    "reset_event",
    "create_token",
    "revoke_token",
    "touch_token",
    "create_session",  # dashboard sessions: read on each request, never cached
    "touch_session",
    "delete_session",
    "create_steps",  # a build's steps are created before it runs; each is announced as it moves
    "set_build_fields",  # recorded facts (workspace, process group), see RECORDED_FIELDS
    "add_artifacts",
    "set_pipeline",
    "replace_secret_group",
    "delete_secret_group",
    "add_manifest_state",  # GitHub App rows other than the app itself: nothing caches them
    "take_manifest_state",
    "put_github_installation",
    "change_github_installation_repositories",
    "delete_github_installation",
    "set_gitlab_application",  # GitLab OAuth rows: nothing caches them
    "add_gitlab_state",
    "take_gitlab_state",
    "set_gitlab_connection",
    "set_gitlab_project",
    "set_repository_credential",  # read on each fetch, never cached
    "delete_repository_credential",
    "reset_sending",  # the notifier's own outbox bookkeeping: nothing follows it
    "claim_deliveries",
    "delivery_sent",
    "delivery_failed",
    "add_webhook_target",  # read by the outbox inside each build change, never cached
    "delete_webhook_target",
    "put_notification_setting",  # Slack/SMTP: read by the outbox and channels, never cached
    "delete_notification_setting",
    # Retention: a build's status does not change when its files expire, and followers of
    # finished builds (durations, the dashboard) must not see it finish twice.
    "expire_build_files",
    "files_removed",
    "delete_old_events",
    "delete_old_deliveries",  # finished notifications only; nobody follows those
}


def test_every_store_write_announces_or_is_listed_as_not_announcing() -> None:
    """A new write method must decide: announce after commit (`then=`) or be listed above."""
    silent, announcing = set(), set()
    for path in Path(oore.store.__file__).parent.glob("sqlite_*.py"):
        for method in ast.walk(ast.parse(path.read_text())):
            if not isinstance(method, ast.AsyncFunctionDef):
                continue
            for call in ast.walk(method):
                if isinstance(call, ast.Call) and ast.unparse(call.func) == "self.engine.write":
                    has_then = any(k.arg == "then" for k in call.keywords)
                    (announcing if has_then else silent).add(method.name)
    assert silent == NOT_ANNOUNCED
    assert {"create_build", "transition_build", "update_repository"} <= announcing
