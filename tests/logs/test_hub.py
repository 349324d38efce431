from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import pytest
import trio

from oore.actors.logs import LogStreamer
from oore.actors.messages import LogChunk, LogClose, LogMessage, LogOpen
from oore.actors.runtime import mailbox
from oore.logs.hub import DISK_SLICE_LINES, RING_BYTES, LogHub, _from
from oore.logs.logfile import Batch, LogWriter

LINES = 3000


async def _viewer(hub: LogHub, since: int, delay: float, seen: list[bytes]) -> None:
    async for batch in hub.follow("B1", since):
        assert batch.first == since + len(seen), "gap or duplicate"
        seen.extend(batch.text.splitlines())
        await trio.sleep(delay)


@pytest.mark.parametrize("ring_bytes", [RING_BYTES, 64], ids=["ring", "tiny-ring"])
async def test_fast_slow_and_late_viewers_get_every_line_once(
    tmp_path: Path, ring_bytes: int
) -> None:
    # With a tiny ring the slow and the late viewer read most lines from disk.
    hub = LogHub(tmp_path / "logs", ring_bytes=ring_bytes)
    send: trio.MemorySendChannel[LogMessage]
    inbox: trio.MemoryReceiveChannel[LogMessage]
    send, inbox = mailbox(4)
    streamer = LogStreamer(hub, inbox, cap=10**9)
    fast: list[bytes] = []
    slow: list[bytes] = []
    late: list[bytes] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(streamer.run)
        await send.send(LogOpen("B1"))
        # The hub has no "opened" event to wait on; the streamer opens it within a batch.
        while not hub.is_live("B1"):  # noqa: ASYNC110
            await trio.sleep(0.01)
        nursery.start_soon(_viewer, hub, 1, 0, fast)
        nursery.start_soon(_viewer, hub, 1, 0.005, slow)  # falls behind: catch-up from disk
        for i in range(LINES):
            await send.send(LogChunk("B1", 0, "stdout", f"line {i + 1}\n".encode()))
            if i == LINES // 2:
                nursery.start_soon(_viewer, hub, 10, 0, late)  # joins mid-way, from line 10
        await send.send(LogClose("B1"))
        with trio.fail_after(60):
            while hub.is_live("B1"):  # noqa: ASYNC110
                await trio.sleep(0.01)
        await send.aclose()
    expected = [f"line {i + 1}".encode() for i in range(LINES)]
    assert fast == expected
    assert slow == expected
    assert late == expected[9:]


async def test_follow_of_a_finished_log_replays_and_returns(tmp_path: Path) -> None:
    hub = LogHub(tmp_path / "logs")
    send: trio.MemorySendChannel[LogMessage]
    inbox: trio.MemoryReceiveChannel[LogMessage]
    send, inbox = mailbox(4)
    async with trio.open_nursery() as nursery:
        await nursery.start(LogStreamer(hub, inbox, cap=10**9).run)
        await send.send(LogChunk("B1", 0, "stdout", b"x\ny\n"))
        await send.send(LogClose("B1"))
        await send.aclose()
    batches = [b async for b in hub.follow("B1", 2)]
    assert [(b.first, b.text) for b in batches] == [(2, b"y\n")]


def test_from_cuts_a_batch_at_a_line() -> None:
    batch = Batch(5, 0, "stdout", b"a\nb\nc\n")
    assert _from(batch, 4) == batch
    assert _from(batch, 6) == Batch(6, 0, "stdout", b"b\nc\n")
    assert _from(batch, 8) is None


async def test_read_gives_exactly_the_lines_asked_for_and_shares_whole_slices(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    writer = LogWriter(logs, "B1")
    total = DISK_SLICE_LINES * 2 + 100
    lines = [b"line %d\n" % n for n in range(1, total + 1)]
    for start in range(0, total, 1000):  # steps change every 1000 lines: several batches
        writer.append(start // 1000, "stdout", b"".join(lines[start : start + 1000]))
    writer.close()
    hub = LogHub(logs)
    cases = [(1, None), (2, 3), (5, DISK_SLICE_LINES + 7), (DISK_SLICE_LINES, None), (total, None)]
    cases += [(total + 1, None), (300, 300), (4000, 4200)]
    for position, until in cases:
        got = [b async for b in hub.read("B1", position, until)]
        text = b"".join(b.text for b in got)
        assert text == b"".join(lines[position - 1 : (until or total + 1) - 1]), (position, until)
        numbers = [b.first for b in got]
        assert numbers == sorted(numbers)
    # Two viewers catching up from nearby lines get the same batch objects after their first.
    first = [b async for b in hub.read("B1", 10, DISK_SLICE_LINES)]
    second = [b async for b in hub.read("B1", 20, DISK_SLICE_LINES)]
    assert any(a is b for a, b in zip(first[1:], second[1:], strict=False))


class _PublishingWhileCounting(LogHub):
    """Publishes a line just after a viewer counted the lines on disk: the race in which a
    viewer used to wait for the *next* batch while this one sat in the ring."""

    def __init__(self, logs: Path, writer: LogWriter) -> None:
        super().__init__(logs)
        self.writer = writer

    async def lines_on_disk(self, build_id: str) -> int:
        counted = await super().lines_on_disk(build_id)
        batch = self.writer.append(0, "stdout", b"hello\n")
        self.writer.flush()
        self.publish(build_id, batch)
        return counted


async def test_a_line_published_while_a_viewer_looks_at_the_disk_is_not_missed(
    tmp_path: Path,
) -> None:
    writer = LogWriter(tmp_path, "B1")
    hub = _PublishingWhileCounting(tmp_path, writer)
    hub.open("B1")
    with trio.fail_after(5):
        async with aclosing(hub.follow("B1", 1)) as lines:
            async for batch in lines:
                assert batch.text == b"hello\n"
                break
    writer.close()


async def test_viewers_reading_one_slice_at_once_share_the_read(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path, "B1")
    writer.append(0, "stdout", b"".join(b"%08d\n" % n for n in range(DISK_SLICE_LINES * 2)))
    writer.close()
    hub = LogHub(tmp_path)
    got: list[list[Batch]] = [[], []]

    async def viewer(into: list[Batch], since: int) -> None:
        async for batch in hub.read("B1", since):
            into.append(batch)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(viewer, got[0], 1)
        nursery.start_soon(viewer, got[1], 1)
    assert [b.first for b in got[0]] == [b.first for b in got[1]]
    assert all(a is b for a, b in zip(got[0], got[1], strict=True))
    cached = sum(len(b.text) for batches in hub._slices.values() for b in batches)
    assert hub._slices_bytes == cached
