"""SQLite connections for trio: one group-committing writer, a small pool of readers.

Every database call runs in a worker thread (`trio.to_thread.run_sync`) so the event loop never
blocks. Writes are units of work (a function of a `sqlite_utils.Database`) sent to one writer task,
which drains everything waiting and runs it as one transaction, each unit in its own savepoint:
one commit (one fsync) serves a whole batch, and every caller is answered only after the commit,
so "stored before acknowledged" holds. Reads use separate WAL readers that never wait on writes.

A write transaction begins IMMEDIATE: it takes the write lock before it reads, so when another
process holds the database it waits for the lock instead of failing at its first write (a deferred
transaction that has read cannot wait). A batch or read that a lock stops anyway is tried again
(`oore.store.busy`): a lock costs time, never the work.

Each connection has a thread lock held while a worker thread uses it, and `close` takes it
before closing that connection: closing a connection under a statement running in another thread
crashes the process (SQLite frees what the statement uses), while a connection closed first only
makes the next use raise, which callers see as `Unavailable`.
"""

from __future__ import annotations

import functools
import logging
import math
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import trio
from sqlite_utils import Database

from oore.errors import StoreBusy, Unavailable
from oore.store.busy import BUSY, Busy, LockWatch, is_busy, patiently

T = TypeVar("T")
log = logging.getLogger("oore.store")
Unit = Callable[[Database], Any]

MAX_BATCH = 256
BUSY_PATIENCE = 120.0  # seconds a write or read waits out another process's lock
# How long SQLite itself waits for a lock before it hands the attempt back to the retry loop: short,
# so that a worker thread is never stuck in SQLite long and shutdown can stop the waiting.
BUSY_SLICE_MS = 250
OPEN_BUSY_MS = 10_000  # migrations, before the retry loop runs


def connect(path: Path, busy_ms: int = OPEN_BUSY_MS) -> Database:
    """Open one connection with the pragmas every connection needs."""
    conn = sqlite3.connect(
        str(path), check_same_thread=False, isolation_level=None, timeout=busy_ms / 1000
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    return Database(conn, execute_plugins=False)


@dataclass(slots=True)
class _Job:
    unit: Unit
    then: Callable[[Any], None] | None = None
    done: trio.Event = field(default_factory=trio.Event)
    result: Any = None
    error: BaseException | None = None


class Engine:
    """Owns the connections; `run` is the writer task and must live in a nursery."""

    def __init__(self, path: Path, readers: int = 2, busy_patience: float = BUSY_PATIENCE) -> None:
        self.path = path
        self._writer = connect(path)
        self._readers = [connect(path, BUSY_SLICE_MS) for _ in range(readers)]
        self._in_use = {id(db): threading.Lock() for db in [self._writer, *self._readers]}
        self._locks = LockWatch(path, busy_patience)
        self._read_pool_send, self._read_pool = trio.open_memory_channel[Database](readers)
        for db in self._readers:
            self._read_pool_send.send_nowait(db)
        self._jobs_send, self._jobs = trio.open_memory_channel[_Job](math.inf)
        self._closed = False
        self.batches = 0
        self.units = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(self._writer.execute, f"PRAGMA busy_timeout={BUSY_SLICE_MS}")
        task_status.started()
        try:
            async for job in self._jobs:
                batch = [job, *self._drain()]
                try:
                    await patiently(self._locks, functools.partial(self._attempt, batch))
                except StoreBusy as exc:
                    _fail(batch, exc)
                finally:
                    _fail(batch, Unavailable("the store stopped before this write was stored"))
        finally:
            # Nobody may wait forever on a write the writer will never run.
            _fail(self._drain_all(), Unavailable("the store is closed"))

    async def _attempt(self, batch: list[_Job]) -> Busy | None:
        # Shielded: a batch handed to the thread finishes and answers its callers even when
        # the store is shutting down, so no caller waits on a batch that vanished. Only the
        # pauses between attempts can be cancelled.
        with trio.CancelScope(shield=True):
            done = await trio.to_thread.run_sync(self._apply, batch)
        if not done:
            return BUSY
        for job in batch:
            if job.then is not None and job.error is None:
                _run_then(job)
            job.done.set()
        return None

    def _drain_all(self) -> list[_Job]:
        jobs: list[_Job] = []
        while batch := self._drain():
            jobs.extend(batch)
        return jobs

    def _drain(self) -> list[_Job]:
        jobs: list[_Job] = []
        while len(jobs) < MAX_BATCH - 1:
            try:
                jobs.append(self._jobs.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        return jobs

    def _apply(self, batch: list[_Job]) -> bool:
        """Run `batch` as one transaction, leaving each job's result or error; False, with
        nothing stored, when another connection's lock stopped it (run it again later)."""
        with self._in_use[id(self._writer)]:
            return self._apply_locked(batch)

    def _apply_locked(self, batch: list[_Job]) -> bool:
        conn = self._writer.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for job in batch:
                    self._apply_one(self._writer, job)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:  # the transaction failed: nobody's unit was stored
            if is_busy(exc):
                for job in batch:
                    job.result = job.error = None
                return False
            for job in batch:
                job.error = job.error or exc
        self.batches += 1
        self.units += len(batch)
        return True

    @staticmethod
    def _apply_one(db: Database, job: _Job) -> None:
        # The same savepoint name every time: SQLite's statement cache serves these, and the
        # writer thread, which holds the GIL between statements, runs as little as it can.
        conn = db.conn
        conn.execute("SAVEPOINT unit")
        try:
            job.result = job.unit(db)
        except Exception as exc:
            if is_busy(exc):  # the batch stops here and is run again, this unit included
                raise
            job.error = exc
            if not conn.in_transaction:  # the error ended the whole batch's transaction
                raise sqlite3.OperationalError("the batch's transaction was rolled back") from exc
            conn.execute("ROLLBACK TO unit")
            conn.execute("RELEASE unit")
        else:
            conn.execute("RELEASE unit")

    async def write(
        self, unit: Callable[[Database], T], *, then: Callable[[T], None] | None = None
    ) -> T:
        """Run `unit` in the writer's next transaction; return once it is committed.

        `then` gets the unit's result right after the commit, in the writer task: it runs even
        when the caller was cancelled while waiting (an announcement must not depend on whether
        the client that asked for the write is still there). It must not block or raise.
        """
        if self._closed:
            raise Unavailable("the store is closed")
        job = _Job(unit, then)
        self._jobs_send.send_nowait(job)
        await job.done.wait()
        if job.error is not None:
            raise _translate(job.error)
        return job.result  # type: ignore[no-any-return]

    async def read(self, query: Callable[[Database], T]) -> T:
        """Run `query` on a reader connection in a worker thread."""
        if self._closed:
            raise Unavailable("the store is closed")
        db = await self._read_pool.receive()
        try:
            in_use = self._in_use[id(db)]
            return await patiently(self._locks, lambda: _read_once(db, in_use, query))
        finally:
            self._read_pool_send.send_nowait(db)

    @property
    def busy_retries(self) -> int:
        """Reads and writes tried again because another process held the lock, since start."""
        return self._locks.retries

    def connect_for_migrations(self) -> Database:
        """The writer connection, for applying migrations before the writer task starts."""
        return self._writer

    def close(self) -> None:
        self._closed = True
        self._jobs_send.close()
        for db in [self._writer, *self._readers]:
            # A worker thread may be using it right now: wait for it (at most one batch or
            # one read, and only when the store closes, so the event loop may wait here).
            with self._in_use[id(db)]:
                db.close()


def _run_then(job: _Job) -> None:
    assert job.then is not None
    try:
        job.then(job.result)
    except Exception:
        log.exception("a store write's after-commit callback failed; the write is stored")


async def _read_once(
    db: Database, in_use: threading.Lock, query: Callable[[Database], T]
) -> T | Busy:
    try:
        return await trio.to_thread.run_sync(_read_snapshot, db, in_use, query)
    except sqlite3.Error as exc:
        if is_busy(exc):
            return BUSY
        raise _translate(exc) from exc


def _fail(jobs: list[_Job], error: Unavailable) -> None:
    """Answer every job not answered yet with `error`."""
    for job in jobs:
        if not job.done.is_set():
            job.error = error
            job.done.set()


def _read_snapshot(db: Database, in_use: threading.Lock, query: Callable[[Database], T]) -> T:
    # One read transaction, so a query that reads several tables sees one consistent snapshot.
    with in_use, db.atomic():
        return query(db)


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
        return Unavailable(f"the database cannot be used: {exc}")
    return exc
