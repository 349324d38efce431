from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from oore.errors import Conflict, IllegalTransition, NotFound
from oore.ids import new_id
from oore.model import (
    Build,
    BuildStatus,
    EventState,
    Provider,
    Repository,
    Step,
    StepStatus,
    WebhookEvent,
    utcnow,
)
from oore.store import migrations
from oore.store.base import EventFilter, RepositorySecrets
from oore.store.sqlite import SqliteStore, migrate, open_sqlite_store

NO_SECRETS = RepositorySecrets(None, None)


def make_repo(name: str = "app", github_id: int | None = 42) -> Repository:
    now = utcnow()
    return Repository(
        id=new_id(),
        provider=Provider.GITHUB,
        owner="acme",
        name=name,
        clone_url=f"file:///srv/{name}.git",
        github_repo_id=github_id,
        created_at=now,
        updated_at=now,
    )


def make_event(delivery: str, provider: Provider = Provider.GITHUB) -> WebhookEvent:
    return WebhookEvent(
        id=new_id(),
        provider=provider,
        event_type="push",
        delivery_id=delivery,
        received_at=utcnow(),
        headers={"x-github-event": "push"},
        body=b'{"ref": "refs/heads/main"}',
    )


def make_build(repo: Repository, workflow: str = "default", event_id: str | None = None) -> Build:
    return Build(
        id=new_id(),
        repository_id=repo.id,
        number=0,
        workflow=workflow,
        status=BuildStatus.QUEUED,
        trigger={"kind": "push"},
        created_at=utcnow(),
        event_id=event_id,
    )


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
        "notification_outbox",
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


async def test_repository_crud_and_unique(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, RepositorySecrets(b"sealed", None))
    got = await store.get_repository(repo.id)
    assert got.full_name == "acme/app"
    assert got.has_webhook_secret is True
    with pytest.raises(Conflict, match="already registered"):
        await store.create_repository(make_repo(), NO_SECRETS)
    updated = await store.update_repository(repo.id, {"active": False, "default_branch": "dev"})
    assert (updated.active, updated.default_branch) == (False, "dev")
    assert await store.find_repository(Provider.GITHUB, "ACME", "App", None) == updated
    assert (await store.find_repository(Provider.GITHUB, "x", "y", 42)) == updated
    assert await store.find_repository(Provider.GITLAB, "acme", "app", None) is None
    await store.delete_repository(repo.id)
    with pytest.raises(NotFound):
        await store.get_repository(repo.id)


async def test_event_delivery_is_unique_per_provider(store: SqliteStore) -> None:
    first = make_event("d-1")
    assert await store.insert_event(first) == (first.id, True)
    assert await store.insert_event(make_event("d-1")) == (first.id, False)
    other = make_event("d-1", Provider.GITLAB)
    assert await store.insert_event(other) == (other.id, True)
    assert await store.pending_event_ids() == sorted([first.id, other.id])


async def test_finish_event_only_once(store: SqliteStore) -> None:
    ev = make_event("d-2")
    await store.insert_event(ev)
    assert await store.finish_event(ev.id, EventState.IGNORED, "ping", None, None) is True
    assert await store.finish_event(ev.id, EventState.PROCESSED, None, None, {"a": 1}) is False
    got = await store.get_event(ev.id)
    assert (got.state, got.reason, got.body) == (EventState.IGNORED, "ping", ev.body)
    reset = await store.reset_event(ev.id)
    assert reset.state is EventState.PENDING
    with pytest.raises(Conflict):
        await store.reset_event(ev.id)


async def test_list_events_filters_and_cursor(store: SqliteStore) -> None:
    ids = []
    for i in range(5):
        ev = make_event(f"d-{i}", Provider.GITHUB if i % 2 else Provider.GITLAB)
        await store.insert_event(ev)
        ids.append(ev.id)
    page = await store.list_events(EventFilter(), None, 2)
    assert [e.id for e in page.items] == ids[::-1][:2]
    page2 = await store.list_events(EventFilter(), page.next_cursor, 2)
    page3 = await store.list_events(EventFilter(), page2.next_cursor, 2)
    assert [e.id for e in page2.items + page3.items] == ids[::-1][2:]
    assert page3.next_cursor is None
    github = await store.list_events(EventFilter(provider=Provider.GITHUB), None, 10)
    assert [e.id for e in github.items] == [ids[3], ids[1]]


async def test_build_numbers_and_transitions(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    first = await store.create_build(make_build(repo))
    second = await store.create_build(make_build(repo, "other"))
    assert (first.number, second.number) == (1, 2)
    with pytest.raises(IllegalTransition):
        await store.transition_build(first.id, BuildStatus.SUCCEEDED)
    assert (await store.get_build(first.id)).status is BuildStatus.QUEUED
    await store.transition_build(first.id, BuildStatus.PREPARING)
    running = await store.transition_build(first.id, BuildStatus.RUNNING)
    assert running.started_at is not None
    done = await store.transition_build(first.id, BuildStatus.SUCCEEDED)
    assert done.finished_at is not None
    with pytest.raises(IllegalTransition):
        await store.transition_build(first.id, BuildStatus.RUNNING)


async def test_one_build_per_event_and_workflow(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    ev = make_event("d-9")
    await store.insert_event(ev)
    await store.create_build(make_build(repo, event_id=ev.id))
    with pytest.raises(Conflict):
        await store.create_build(make_build(repo, event_id=ev.id))
    assert len(await store.builds_for_event(ev.id)) == 1


async def test_steps(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    build = await store.create_build(make_build(repo))
    steps = [Step(id=new_id(), build_id=build.id, index=i, name=f"s{i}") for i in range(2)]
    await store.create_steps(steps)
    with pytest.raises(IllegalTransition):
        await store.transition_step(steps[0].id, StepStatus.SUCCEEDED)
    await store.transition_step(steps[0].id, StepStatus.RUNNING)
    done = await store.transition_step(steps[0].id, StepStatus.FAILED, exit_code=3)
    assert (done.exit_code, done.finished_at is not None) == (3, True)
    assert [s.status for s in await store.get_steps(build.id)] == ["failed", "pending"]


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


async def test_counters_and_meta(store: SqliteStore) -> None:
    await store.increment_counter("webhooks_rejected")
    await store.increment_counter("webhooks_rejected", 2)
    assert await store.counters() == {"webhooks_rejected": 3}
    assert await store.get_meta("k") is None
    await store.set_meta("k", b"v1")
    await store.set_meta("k", b"v2")
    assert await store.get_meta("k") == b"v2"


async def test_closed_store_is_unavailable(tmp_path: Path) -> None:
    from oore.errors import Unavailable

    async with open_sqlite_store(tmp_path / "c.db") as s:
        await s.ping()
    with pytest.raises(Unavailable):
        await s.ping()
