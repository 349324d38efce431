"""Waiting out a database that another process has locked.

Anyone may open `oore.db` with `sqlite3` and hold a transaction (a backup, an operator poking at
rows). SQLite's own busy timeout covers short locks, but not a deferred transaction that read
before it wrote (it fails at once), nor a lock longer than the timeout. So a store call that meets
a lock gives up only its attempt, not its work: it is tried again with backoff, for up to a
patience of minutes, and only then fails with `StoreBusy`. The waiting happens in trio (between
attempts, not in a worker thread), so shutdown can still cancel it. A lock is logged once when
it starts stalling the store and once when it ends, however many calls wait and retry meanwhile.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeVar

import trio

from oore.errors import StoreBusy

T = TypeVar("T")

log = logging.getLogger("oore.store")

# SQLite's primary result codes for "someone else holds the lock"; extended codes (such as
# SQLITE_BUSY_SNAPSHOT, which a deferred transaction gets when it tries to write) keep them in
# the low byte.
_LOCK_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 0.5


class Busy:
    """What an attempt returns when a lock stopped it before it changed anything."""


BUSY: Final = Busy()


def is_busy(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is SQLite reporting a lock."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, sqlite3.OperationalError):
            code = getattr(current, "sqlite_errorcode", 0) & 0xFF
            if code in _LOCK_CODES:
                return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class LockWatch:
    """Counts the store calls waiting on a lock, to log each stall once, and hands out pauses."""

    def __init__(self, path: Path, patience: float) -> None:
        self.path = path
        self.patience = patience
        self.waiting = 0
        self.retries = 0  # attempts made again after a lock stopped them, since start
        self._since = 0.0
        self._freed = False

    @contextmanager
    def stalled(self) -> Iterator[_Stall]:
        now = trio.current_time()
        if self.waiting == 0:
            self._since = now
            log.warning(
                "the database %s is locked by another process; reads and writes wait for it "
                "(up to %gs each)",
                self.path,
                self.patience,
            )
            self._freed = False
        self.waiting += 1
        try:
            yield _Stall(self, now)
            self._freed = True
        finally:
            self.waiting -= 1
            if self.waiting == 0:
                self._log_end(trio.current_time() - self._since)

    def _log_end(self, waited: float) -> None:
        if self._freed:
            log.warning("the database %s is usable again after %.1fs", self.path, waited)
        else:  # every waiter gave up (patience spent) or was cancelled (shutdown)
            log.warning("stopped waiting for the locked database %s after %.1fs", self.path, waited)


class _Stall:
    """One call's wait: exponential pauses until the patience is spent."""

    def __init__(self, watch: LockWatch, since: float) -> None:
        self._watch = watch
        self._since = since
        self._pause = FIRST_PAUSE

    async def pause(self) -> None:
        """Sleep before the next attempt; `StoreBusy` once the patience is spent."""
        waited = trio.current_time() - self._since
        if waited >= self._watch.patience:
            path = self._watch.path
            raise StoreBusy(
                f"the database {path} stayed locked by another process for {waited:.0f}s; "
                f"end that process's transaction (`lsof {path}` names it)"
            )
        await trio.sleep(self._pause)
        self._pause = min(self._pause * 2, LONGEST_PAUSE)
        self._watch.retries += 1


async def patiently(watch: LockWatch, attempt: Callable[[], Awaitable[T | Busy]]) -> T:
    """Run `attempt` until it is not stopped by a lock; `StoreBusy` past the patience."""
    result = await attempt()
    if not isinstance(result, Busy):
        return result
    with watch.stalled() as stall:
        while True:
            await stall.pause()
            result = await attempt()
            if not isinstance(result, Busy):
                return result
