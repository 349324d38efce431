"""Closing the engine while a worker thread is inside SQLite: the work in hand finishes first.

A connection closed under a statement running in another thread crashes the whole process, so
`Engine.close` waits for the connection's user; after that, reads and writes say the store is
closed. Real clock: the work happens in worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from sqlite_utils import Database

from oore.errors import Unavailable
from oore.store.engine import Engine, connect


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "oore.db"
    db = connect(path)
    db.execute("CREATE TABLE items (n INTEGER PRIMARY KEY)")
    db.close()
    return path


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    finally:
        conn.close()


async def test_a_write_in_progress_is_committed_before_the_connection_closes(path: Path) -> None:
    engine = Engine(path)
    inside = threading.Event()

    def slow_unit(db: Database) -> int:
        db.execute("INSERT INTO items (n) VALUES (1)")
        inside.set()
        time.sleep(0.3)  # close() is called meanwhile, from the event loop
        db.execute("INSERT INTO items (n) VALUES (2)")
        return 2

    outcome: dict[str, Any] = {}

    async def write() -> None:
        try:
            outcome["result"] = await engine.write(slow_unit)
        except Unavailable as exc:
            outcome["error"] = exc

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            nursery.start_soon(write)
            await trio.to_thread.run_sync(inside.wait)
            engine.close()
    assert outcome == {"result": 2}
    assert _count(path) == 2
    with pytest.raises(Unavailable, match="closed"):
        await engine.write(lambda db: db.execute("INSERT INTO items (n) VALUES (3)"))


async def test_a_read_in_progress_finishes_before_the_connection_closes(path: Path) -> None:
    engine = Engine(path, readers=1)
    inside = threading.Event()

    def slow_query(db: Database) -> list[int]:
        inside.set()
        time.sleep(0.3)
        return [row[0] for row in db.execute("SELECT n FROM items")]

    outcome: dict[str, Any] = {}

    async def read() -> None:
        outcome["result"] = await engine.read(slow_query)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.run)
            nursery.start_soon(read)
            await trio.to_thread.run_sync(inside.wait)
            engine.close()
    assert outcome == {"result": []}
    with pytest.raises(Unavailable, match="closed"):
        await engine.read(slow_query)
