"""The engine waits out another process's lock on the database instead of failing the work.

The lock is a real `BEGIN EXCLUSIVE` on a connection of its own, held longer than SQLite's own
busy wait (`BUSY_SLICE_MS`), so only the engine's retrying gets the work through. These tests run
on the real clock: the waiting happens in SQLite and in worker threads, which a virtual clock
cannot move.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from sqlite_utils import Database

from oore.errors import StoreBusy, Unavailable
from oore.store.engine import BUSY_SLICE_MS, Engine, connect

LOCK_SECONDS = 1.0
assert LOCK_SECONDS * 1000 > 3 * BUSY_SLICE_MS  # longer than SQLite's own wait, by far


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "oore.db"
    db = connect(path)
    db.execute("CREATE TABLE items (n INTEGER PRIMARY KEY, label TEXT NOT NULL)")
    db.close()
    return path


@asynccontextmanager
async def running(engine: Engine) -> AsyncIterator[Engine]:
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            yield engine
            nursery.cancel_scope.cancel()
    finally:
        engine.close()


async def hold_lock(
    path: Path, seconds: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """What `sqlite3 oore.db` with `BEGIN EXCLUSIVE; ...; COMMIT;` does, from its own connection."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    try:
        await trio.to_thread.run_sync(conn.execute, "BEGIN EXCLUSIVE")
        task_status.started()
        await trio.sleep(seconds)
        await trio.to_thread.run_sync(conn.execute, "COMMIT")
    finally:
        conn.close()


def insert_after_reading(n: int) -> Callable[[Database], int]:
    """A unit that reads before it writes: the kind a deferred transaction cannot wait for."""

    def unit(db: Database) -> int:
        before: int = db.execute("SELECT count(*) FROM items").fetchone()[0]
        db.execute("INSERT INTO items (n, label) VALUES (?, ?)", [n, f"item {n}"])
        return before

    return unit


def count(db: Database) -> int:
    found: int = db.execute("SELECT count(*) FROM items").fetchone()[0]
    return found


async def test_a_write_waits_out_a_lock_longer_than_sqlites_own_wait(path: Path) -> None:
    async with running(Engine(path)) as engine, trio.open_nursery() as nursery:
        await nursery.start(hold_lock, path, LOCK_SECONDS)
        began = trio.current_time()
        assert engine.busy_retries == 0
        assert await engine.write(insert_after_reading(1)) == 0
        assert trio.current_time() - began >= LOCK_SECONDS * 0.9  # it waited; it did not fail
        assert await engine.read(count) == 1
        assert engine.busy_retries >= 1  # counted for /metrics


async def test_every_unit_of_a_batch_stopped_by_a_lock_is_stored_once(path: Path) -> None:
    failed: list[BaseException] = []

    async def write(engine: Engine, n: int) -> None:
        try:
            await engine.write(insert_after_reading(n))
        except Exception as exc:
            failed.append(exc)

    async with running(Engine(path)) as engine:
        async with trio.open_nursery() as nursery:
            await nursery.start(hold_lock, path, LOCK_SECONDS)
            for n in range(50):
                nursery.start_soon(write, engine, n)
            nursery.start_soon(write, engine, 7)  # a duplicate key fails alone, as without a lock
        assert await engine.read(count) == 50
        labels = await engine.read(lambda db: [r[0] for r in db.execute("SELECT n FROM items")])
    assert sorted(labels) == list(range(50))
    assert len(failed) == 1, failed
    assert isinstance(failed[0], sqlite3.IntegrityError)


async def test_a_read_stopped_by_a_lock_is_tried_again(path: Path) -> None:
    # WAL readers are not stopped by a writer, so the query meets the lock the one way a reader
    # can: its (deferred) snapshot read first, then needed the lock another process holds, which
    # fails at once, whatever SQLite's busy timeout.
    def touch(db: Database) -> int:
        before = count(db)
        db.execute("INSERT INTO items (n, label) VALUES (1, 'read side')")
        return before + 1

    async with running(Engine(path)) as engine, trio.open_nursery() as nursery:
        await nursery.start(hold_lock, path, LOCK_SECONDS)
        assert await engine.read(touch) == 1


async def test_a_lock_past_the_patience_fails_with_store_busy_then_writes_work_again(
    path: Path,
) -> None:
    async with running(Engine(path, busy_patience=0.3)) as engine:
        async with trio.open_nursery() as nursery:
            await nursery.start(hold_lock, path, LOCK_SECONDS)
            with pytest.raises(StoreBusy, match="stayed locked by another process"):
                await engine.write(insert_after_reading(1))
        assert await engine.write(insert_after_reading(2)) == 0
        assert await engine.read(count) == 1


async def test_a_stall_is_logged_once_however_many_wait(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="oore.store")
    async with running(Engine(path)) as engine:
        async with trio.open_nursery() as nursery:
            await nursery.start(hold_lock, path, LOCK_SECONDS)
            for n in range(20):
                nursery.start_soon(engine.write, insert_after_reading(n))
    messages = [record.getMessage() for record in caplog.records]
    assert sum("is locked by another process" in m for m in messages) == 1, messages
    assert sum("is usable again after" in m for m in messages) == 1, messages


async def test_shutdown_while_waiting_answers_the_waiting_writer(path: Path) -> None:
    engine = Engine(path)
    outcome: list[BaseException] = []

    async def write() -> None:
        try:
            await engine.write(insert_after_reading(1))
        except Unavailable as exc:
            outcome.append(exc)

    with trio.fail_after(LOCK_SECONDS * 5):
        async with trio.open_nursery() as outer:
            await outer.start(hold_lock, path, LOCK_SECONDS * 2)
            async with running(engine):
                outer.start_soon(write)
                await trio.sleep(LOCK_SECONDS / 2)  # the write is waiting for the lock now
            # The writer task is gone; its caller was answered, not left waiting.
            with trio.fail_after(1):
                while not outcome:  # noqa: ASYNC110 - the answer is the event under test
                    await trio.sleep(0.01)
    assert "stopped before this write was stored" in str(outcome[0])
