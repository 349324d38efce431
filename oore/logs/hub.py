"""Live fan-out of build log lines to viewers: one ring of recent batches per build being written.

The LogStreamer owns the hub and is its only publisher: it writes a batch to disk, flushes it,
then publishes it. The hub keeps the most recent batches of each live build, up to `ring_bytes`
(shared by every viewer, so memory does not grow with viewers), and wakes the viewers waiting
for more. A viewer is only a line number: it takes what follows that line from the ring when the
ring still holds it, and from disk when it does not (it fell behind, or joined late). So every
viewer gets every line exactly once, in order, and the build never waits for any of them.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path

import trio

from oore.logs.logfile import BATCH_BYTES, Batch, count_lines, joined, read_batches

RING_BYTES = 8 * 1024 * 1024  # recent lines kept in memory per live build
JOIN_BELOW = 64 * 1024  # batches smaller than this are joined for a viewer that is behind
DISK_SLICE_LINES = 4096  # lines read per worker-thread call when catching up


@dataclass(slots=True)
class _Live:
    ring: deque[Batch] = field(default_factory=deque)
    size: int = 0  # bytes of text in the ring
    more: trio.Event = field(default_factory=trio.Event)  # set when a batch is published

    @property
    def end(self) -> int:
        """The line after the last one published."""
        return self.ring[-1].first + self.ring[-1].count if self.ring else 0

    def take(self, position: int) -> Batch | None:
        """What the ring holds from line `position` on (up to `BATCH_BYTES`), or None when the
        ring no longer (or not yet) holds that line."""
        ring = self.ring
        if not ring or not ring[0].first <= position < self.end:
            return None
        index = bisect.bisect_right(ring, position, key=lambda batch: batch.first) - 1
        first = _from(ring[index], position)
        assert first is not None  # position < the batch's end, by the bisect and the bounds
        if len(first.text) >= JOIN_BELOW:
            return first  # usually the very batch every viewer is sent: its message is shared
        run, size = [first], len(first.text)
        for batch in itertools.islice(ring, index + 1, None):
            if (batch.step, batch.stream) != (first.step, first.stream):
                break
            if size + len(batch.text) > BATCH_BYTES:
                break
            run.append(batch)
            size += len(batch.text)
        return first if len(run) == 1 else joined(run)


class LogHub:
    def __init__(self, logs_dir: Path, *, ring_bytes: int = RING_BYTES) -> None:
        self.logs_dir = logs_dir
        self.ring_bytes = ring_bytes
        self._live: dict[str, _Live] = {}

    # --- the streamer's side ----------------------------------------------------------------

    def open(self, build_id: str) -> None:
        self._live.setdefault(build_id, _Live())

    def publish(self, build_id: str, batch: Batch) -> None:
        live = self._live.get(build_id)
        if live is None:
            return
        live.ring.append(batch)
        live.size += len(batch.text)
        while live.size > self.ring_bytes and len(live.ring) > 1:
            live.size -= len(live.ring.popleft().text)
        live.more.set()
        live.more = trio.Event()

    def close(self, build_id: str) -> None:
        live = self._live.pop(build_id, None)
        if live is not None:
            live.more.set()

    # --- the viewers' side ------------------------------------------------------------------

    def is_live(self, build_id: str) -> bool:
        return build_id in self._live

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
        position = max(since, 1)
        while True:
            live = self._live.get(build_id)
            if live is None:  # closed (or never opened): everything is on disk
                async for batch in self.read(build_id, position):
                    position = batch.first + batch.count
                    yield batch
                return
            recent = live.take(position)
            if recent is not None:
                position = recent.first + recent.count
                yield recent
            elif live.ring and position < live.ring[0].first:
                # Behind what the ring holds: disk has it (the streamer writes before it
                # publishes); read up to the ring, then look again.
                async for missed in self.read(build_id, position, live.ring[0].first):
                    position = missed.first + missed.count
                    yield missed
            elif not live.ring and await self.lines_on_disk(build_id) >= position:
                async for missed in self.read(build_id, position):  # written before we came
                    position = missed.first + missed.count
                    yield missed
                if live.end == 0:  # nothing published meanwhile: wait for the next batch
                    await live.more.wait()
            else:
                await live.more.wait()

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
