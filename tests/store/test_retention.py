"""Retention in SQLite: which finished builds' logs and artifacts expire (old, beyond the newest N
of their workflow, never queued or running), the mark that outlives a crash until the files are
gone, and old webhook deliveries deleted while their builds keep their trigger."""

from __future__ import annotations

import sqlite3

from oore.ids import new_id
from oore.model import Artifact, Build, BuildStatus, EventState, Repository
from oore.store.base import EventFilter, ExpiringBuild, FileKind
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_build, make_event, make_repo, make_trigger

OLD = "2020-01-01T00:00:00.000Z"
CUTOFF = "2021-01-01T00:00:00.000Z"  # OLD is before it, now is after it


def _set(store: SqliteStore, sql: str, *args: object) -> None:
    # Another connection, as an admin's sqlite3 would: ages rows the store wrote.
    conn = sqlite3.connect(store.engine.path)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


async def _repo(store: SqliteStore) -> Repository:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    return repo


async def _finished(
    store: SqliteStore, repo: Repository, workflow: str = "ios", *, ended: str | None = OLD
) -> Build:
    build = await store.create_build(make_build(repo, workflow))
    for status in (BuildStatus.PREPARING, BuildStatus.RUNNING, BuildStatus.SUCCEEDED):
        await store.transition_build(build.id, status)
    if ended is not None:
        _set(store, "UPDATE builds SET finished_at = ? WHERE id = ?", ended, build.id)
    return build


async def test_old_builds_expire_except_the_newest_of_each_workflow(store: SqliteStore) -> None:
    repo = await _repo(store)
    ios = [await _finished(store, repo) for _ in range(4)]
    android = await _finished(store, repo, "android")
    other = await _repo_named(store, "other")
    elsewhere = await _finished(store, other)  # same workflow name, another repository

    expired = await store.expire_build_files(FileKind.LOGS, CUTOFF, 2, 100)

    assert expired == [ios[0].id, ios[1].id]  # oldest first; the newest 2 of ios stay
    for build in ios[:2]:
        assert (await store.get_build(build.id)).log_expired_at is not None
    for build in [*ios[2:], android, elsewhere]:
        assert (await store.get_build(build.id)).log_expired_at is None
    assert (await store.get_build(ios[0].id)).artifacts_expired_at is None  # logs only


async def _repo_named(store: SqliteStore, name: str) -> Repository:
    repo = make_repo(name, github_id=None)
    await store.create_repository(repo, NO_SECRETS)
    return repo


async def test_recent_builds_keep_their_files(store: SqliteStore) -> None:
    repo = await _repo(store)
    await _finished(store, repo, ended=None)  # finished just now
    assert await store.expire_build_files(FileKind.LOGS, CUTOFF, 0, 100) == []


async def test_queued_and_running_builds_never_expire(store: SqliteStore) -> None:
    repo = await _repo(store)
    queued = await store.create_build(make_build(repo))
    running = await store.create_build(make_build(repo))
    await store.transition_build(running.id, BuildStatus.PREPARING)
    await store.transition_build(running.id, BuildStatus.RUNNING)
    for build in (queued, running):
        _set(
            store,
            "UPDATE builds SET created_at = ?, started_at = ? WHERE id = ?",
            OLD,
            OLD,
            build.id,
        )
    for kind in FileKind:
        assert await store.expire_build_files(kind, CUTOFF, 0, 100) == []


async def test_expiring_artifacts_drops_their_rows_and_marks_the_build(store: SqliteStore) -> None:
    repo = await _repo(store)
    build = await _finished(store, repo)
    artifact = Artifact(new_id(), build.id, "app.apk", f"{build.id}/app.apk", 3, "0" * 64, "x", OLD)
    await store.add_artifacts([artifact])

    assert await store.expire_build_files(FileKind.ARTIFACTS, CUTOFF, 0, 100) == [build.id]

    assert await store.list_artifacts(build.id) == []
    found = await store.get_build(build.id)
    assert found.artifacts_expired_at is not None
    assert found.log_expired_at is None
    assert found.status is BuildStatus.SUCCEEDED  # the history stays


async def test_a_marked_build_is_pending_until_its_files_are_removed(store: SqliteStore) -> None:
    repo = await _repo(store)
    build = await _finished(store, repo)
    await store.expire_build_files(FileKind.LOGS, CUTOFF, 0, 100)
    await store.expire_build_files(FileKind.ARTIFACTS, CUTOFF, 0, 100)

    # What a crash between marking and removing leaves: the next sweep finds it here.
    pending = await store.pending_expiries(100)
    assert pending == [ExpiringBuild(build.id, frozenset({FileKind.LOGS, FileKind.ARTIFACTS}))]
    assert await store.expire_build_files(FileKind.LOGS, CUTOFF, 0, 100) == []  # marked once

    await store.files_removed([build.id])
    assert await store.pending_expiries(100) == []
    assert (await store.get_build(build.id)).log_expired_at is not None


async def test_each_call_marks_at_most_its_batch(store: SqliteStore) -> None:
    repo = await _repo(store)
    builds = [await _finished(store, repo) for _ in range(5)]
    first = await store.expire_build_files(FileKind.LOGS, CUTOFF, 0, 2)
    second = await store.expire_build_files(FileKind.LOGS, CUTOFF, 0, 2)
    assert first + second == [b.id for b in builds[:4]]


async def test_old_deliveries_go_and_their_builds_keep_their_trigger(store: SqliteStore) -> None:
    repo = await _repo(store)
    old, waiting, recent = make_event("old"), make_event("waiting"), make_event("recent")
    for event in (old, waiting, recent):
        await store.insert_event(event)
    trigger = make_trigger()
    build = make_build(repo, event_id=old.id, trigger=trigger)
    assert await store.create_builds_for_event(old.id, [build], "1 build", trigger)
    await store.finish_event(recent.id, EventState.IGNORED, "no workflow", None, None)
    _set(store, "UPDATE webhook_events SET received_at = ? WHERE id != ?", OLD, recent.id)
    held = _stored_size(store, old.id)

    assert await store.delete_old_events(CUTOFF, 100) == (1, held)

    remaining = {e.id for e in (await store.list_events(EventFilter(), None, 100)).items}
    assert remaining == {waiting.id, recent.id}  # a pending one is never deleted
    kept = await store.get_build(build.id)
    assert (kept.event_id, kept.trigger.sha, kept.status) == (None, trigger.sha, build.status)


def _stored_size(store: SqliteStore, event_id: str) -> int:
    conn = sqlite3.connect(store.engine.path)
    try:
        sql = "SELECT length(body) + length(headers) FROM webhook_events WHERE id = ?"
        size: int = conn.execute(sql, [event_id]).fetchone()[0]
        return size
    finally:
        conn.close()
