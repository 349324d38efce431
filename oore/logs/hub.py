"""Live fan-out of build log lines to viewers, one `Broadcast` per build being written.

The LogStreamer owns the hub and is its only publisher: it writes a batch to disk, flushes it,
then publishes it. A viewer subscribes and reads what it missed from disk, so it never depends
on the live stream being complete: `follow` merges disk and live by line number, so a viewer
that fell behind (its buffer overflowed) or joined late gets every line exactly once, in order,
and the build never waits for it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path

import trio

from oore.actors.runtime import Broadcast, Subscription
from oore.logs.logfile import Batch, count_lines, read_batches

SUBSCRIBER_BUFFER = 16  # batches; past it a viewer catches up from disk
DISK_SLICE_LINES = 4096  # lines read per worker-thread call when catching up


@dataclass(slots=True)
class _Live:
    broadcast: Broadcast[Batch] = field(default_factory=Broadcast)
    closed: trio.Event = field(default_factory=trio.Event)


class LogHub:
    def __init__(self, logs_dir: Path) -> None:
        self.logs_dir = logs_dir
        self._live: dict[str, _Live] = {}

    # --- the streamer's side ----------------------------------------------------------------

    def open(self, build_id: str) -> None:
        self._live.setdefault(build_id, _Live())

    def publish(self, build_id: str, batch: Batch) -> None:
        live = self._live.get(build_id)
        if live is not None:
            live.broadcast.publish(batch)

    def close(self, build_id: str) -> None:
        live = self._live.pop(build_id, None)
        if live is not None:
            live.broadcast.close()
            live.closed.set()

    # --- the viewers' side ------------------------------------------------------------------

    def is_live(self, build_id: str) -> bool:
        return build_id in self._live

    def subscribe(self, build_id: str) -> Subscription[Batch] | None:
        live = self._live.get(build_id)
        return None if live is None else live.broadcast.subscribe(SUBSCRIBER_BUFFER)

    async def on_disk(self, build_id: str, since: int, until: int | None = None) -> list[Batch]:
        return await trio.to_thread.run_sync(
            lambda: list(read_batches(self.logs_dir, build_id, since, until))
        )

    async def lines_on_disk(self, build_id: str) -> int:
        return await trio.to_thread.run_sync(count_lines, self.logs_dir, build_id)

    async def follow(self, build_id: str, since: int) -> AsyncGenerator[Batch, None]:
        """Every line from `since` on, in order and once each, until the log is closed.

        Returns at once, after the lines on disk, when the build's log is not being written.
        """
        subscription = self.subscribe(build_id)
        position = max(since, 1)
        if subscription is None:
            async for batch in self.read(build_id, position):
                yield batch
            return
        with subscription:
            async for batch in self._merge(build_id, subscription, position):
                yield batch

    async def _merge(
        self, build_id: str, subscription: Subscription[Batch], position: int
    ) -> AsyncGenerator[Batch, None]:
        # Subscribed first, read disk second: whatever is published meanwhile is either on
        # disk already or arrives live; duplicates are cut by line number.
        async for batch in self.read(build_id, position):
            position = batch.first + batch.count
            yield batch
        async for batch in subscription:
            if subscription.take_lagged() or batch.first > position:
                async for missed in self.read(build_id, position, batch.first):
                    position = missed.first + missed.count
                    yield missed
            tail = _from(batch, position)
            if tail is not None:
                position = tail.first + tail.count
                yield tail
        async for batch in self.read(build_id, position):  # what came after the last item
            position = batch.first + batch.count
            yield batch

    async def read(
        self, build_id: str, position: int, until: int | None = None
    ) -> AsyncGenerator[Batch, None]:
        """Lines from disk a slice at a time, so catching up costs bounded memory."""
        while until is None or position < until:
            end = position + DISK_SLICE_LINES
            batches = await self.on_disk(
                build_id, position, end if until is None else min(end, until)
            )
            if not batches:
                return
            for batch in batches:
                position = batch.first + batch.count
                yield batch


def _from(batch: Batch, position: int) -> Batch | None:
    """The part of `batch` from line `position` on (None when all of it was sent already)."""
    end = batch.first + batch.count
    if position >= end:
        return None
    if position <= batch.first:
        return batch
    skip = position - batch.first
    cut = 0
    for _ in range(skip):
        cut = batch.text.index(b"\n", cut) + 1
    return Batch(position, batch.step, batch.stream, batch.text[cut:])
