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
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path

import trio

from oore.logs.logfile import BATCH_BYTES, Batch, count_lines, joined, read_batches

RING_BYTES = 8 * 1024 * 1024  # recent lines kept in memory per live build
RING_BATCHES = 4096  # and at most this many batches (a slow trickle makes many small ones)
JOIN_BELOW = 64 * 1024  # batches smaller than this are joined for a viewer that is behind
DISK_SLICE_LINES = 4096  # lines read per worker-thread call when catching up
SHARED_SLICE_BYTES = 8 * 1024 * 1024  # whole slices kept for viewers catching up together


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
        if ring[-1].first <= position:  # the usual case: a viewer keeping up
            index = len(ring) - 1
        else:
            index = bisect.bisect_right(ring, position, key=lambda batch: batch.first) - 1
        first = _from(ring[index], position)
        assert first is not None  # position < the batch's end, by the bisect and the bounds
        if len(first.text) >= JOIN_BELOW:
            return first  # usually the very batch every viewer is sent: its message is shared
        run, size = [first], len(first.text)
        for batch in itertools.islice(ring, index + 1, None):
            if not run[-1].continued_by(batch) or size + len(batch.text) > BATCH_BYTES:
                break
            run.append(batch)
            size += len(batch.text)
        return first if len(run) == 1 else joined(run)


class LogHub:
    def __init__(self, logs_dir: Path, *, ring_bytes: int = RING_BYTES) -> None:
        self.logs_dir = logs_dir
        self.ring_bytes = ring_bytes
        self._live: dict[str, _Live] = {}
        self._slices: OrderedDict[tuple[str, int], list[Batch]] = OrderedDict()
        self._slices_bytes = 0
        self._reading: dict[tuple[str, int], trio.Event] = {}

    # --- the streamer's side ----------------------------------------------------------------

    def open(self, build_id: str) -> None:
        self._live.setdefault(build_id, _Live())

    def publish(self, build_id: str, batch: Batch) -> None:
        live = self._live.get(build_id)
        if live is None:
            return
        live.ring.append(batch)
        live.size += len(batch.text)
        while len(live.ring) > 1 and (live.size > self.ring_bytes or len(live.ring) > RING_BATCHES):
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
            more = live.more  # before any await: a batch published meanwhile has set it
            recent = live.take(position)
            if recent is not None:
                position = recent.first + recent.count
                yield recent
                continue
            was = position
            if live.ring and position < live.ring[0].first:
                # Behind what the ring holds: disk has it (the streamer writes before it
                # publishes); read up to the ring, then look again.
                async for missed in self.read(build_id, position, live.ring[0].first):
                    position = missed.first + missed.count
                    yield missed
            elif not live.ring and await self.lines_on_disk(build_id) >= position:
                async for missed in self.read(build_id, position):  # written before we came
                    position = missed.first + missed.count
                    yield missed
            if position == was:  # nothing new anywhere: wait for the next batch (or the close)
                await more.wait()

    async def read(
        self, build_id: str, position: int, until: int | None = None
    ) -> AsyncGenerator[Batch, None]:
        """Lines position..until-1 from disk, a slice of `DISK_SLICE_LINES` at a time (bounded
        memory). Slices start at fixed line numbers and whole ones are kept for a while, so
        viewers that fell behind together share one read, and the same batch objects."""
        while until is None or position < until:
            start = position - (position - 1) % DISK_SLICE_LINES
            batches = await self._slice(build_id, start)
            if not batches:
                return
            for batch in batches:
                piece = _between(batch, position, until)
                if piece is not None:
                    position = piece.first + piece.count
                    yield piece
            if position < batches[-1].first + batches[-1].count:
                return  # reached `until`
            if sum(b.count for b in batches) < DISK_SLICE_LINES:
                return  # the end of what is on disk

    async def _slice(self, build_id: str, start: int) -> list[Batch]:
        key = (build_id, start)
        while (reading := self._reading.get(key)) is not None:
            await reading.wait()  # another viewer is reading this slice: share its read
        found = self._slices.get(key)
        if found is not None:
            return found
        self._reading[key] = reading = trio.Event()
        try:
            batches = await self.on_disk(build_id, start, start + DISK_SLICE_LINES)
            if sum(b.count for b in batches) == DISK_SLICE_LINES:  # whole: it cannot change
                self._slices[key] = batches
                self._slices_bytes += sum(len(b.text) for b in batches)
                while self._slices_bytes > SHARED_SLICE_BYTES and len(self._slices) > 1:
                    _, dropped = self._slices.popitem(last=False)
                    self._slices_bytes -= sum(len(b.text) for b in dropped)
        finally:
            del self._reading[key]
            reading.set()
        return batches


def _from(batch: Batch, position: int) -> Batch | None:
    """The part of `batch` from line `position` on (None when all of it was sent already)."""
    return _between(batch, position, None)


def _between(batch: Batch, position: int, until: int | None) -> Batch | None:
    """The part of `batch` on lines position..until-1 (None when that is nothing)."""
    first = max(position, batch.first)
    end = batch.first + batch.count if until is None else min(until, batch.first + batch.count)
    if first >= end:
        return None
    if (first, end) == (batch.first, batch.first + batch.count):
        return batch
    low = _offset(batch.text, first - batch.first)
    high = _offset(batch.text, end - batch.first)
    return Batch(first, batch.step, batch.stream, batch.text[low:high], end - first)


def _offset(text: bytes, lines: int) -> int:
    """Where line `lines` (0-based) of `text` starts."""
    cut = 0
    for _ in range(lines):
        cut = text.index(b"\n", cut) + 1
    return cut
