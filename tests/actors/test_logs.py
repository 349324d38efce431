from __future__ import annotations

from pathlib import Path

import trio

from oore.actors.logs import LogStreamer
from oore.actors.messages import LogChunk, LogClose, LogMessage, LogOpen
from oore.actors.runtime import ChildSpec, Supervisor, mailbox
from oore.logs.hub import LogHub
from oore.logs.lines import MAX_LINE
from oore.logs.logfile import read_batches


async def _stream(tmp_path: Path, messages: list[LogMessage], cap: int = 10_000) -> str:
    send: trio.MemorySendChannel[LogMessage]
    inbox: trio.MemoryReceiveChannel[LogMessage]
    send, inbox = mailbox(8)
    streamer = LogStreamer(LogHub(tmp_path / "logs"), inbox, cap=cap)
    async with trio.open_nursery() as nursery:
        await nursery.start(streamer.run)
        for message in messages:
            await send.send(message)
        await send.aclose()
    return (tmp_path / "logs" / "B1.log").read_text()


async def test_secret_split_across_reads_is_masked(tmp_path: Path) -> None:
    text = await _stream(
        tmp_path,
        [
            LogOpen("B1", ("hunter2-secret",)),
            LogChunk("B1", 0, "stdout", b"token is hunter2-se"),
            LogChunk("B1", 0, "stdout", b"cret; done\nnext line"),
            LogClose("B1"),
        ],
    )
    assert "hunter2" not in text
    assert text == "token is ********; done\nnext line\n"


async def test_streams_keep_their_own_partial_lines(tmp_path: Path) -> None:
    text = await _stream(
        tmp_path,
        [
            LogChunk("B1", 0, "stdout", b"out-"),
            LogChunk("B1", 0, "stderr", b"err-line\n"),
            LogChunk("B1", 0, "stdout", b"line\n"),
            LogClose("B1"),
        ],
    )
    assert text.splitlines() == ["err-line", "out-line"]


async def test_endless_line_is_cut(tmp_path: Path) -> None:
    text = await _stream(
        tmp_path, [LogChunk("B1", 0, "stdout", b"x" * (MAX_LINE * 2 + 10)), LogClose("B1")]
    )
    assert [len(line) for line in text.splitlines()] == [MAX_LINE, MAX_LINE, 10]


async def test_size_cap_writes_one_notice(tmp_path: Path) -> None:
    chunks: list[LogMessage] = [LogChunk("B1", 0, "stdout", b"0123456789\n") for _ in range(50)]
    text = await _stream(tmp_path, [*chunks, LogClose("B1")], cap=100)
    lines = text.splitlines()
    assert lines[:9] == ["0123456789"] * 9
    assert "log size limit of 100 bytes reached" in lines[-1]
    assert len(lines) == 10


async def test_index_numbers_lines_with_step_and_stream(tmp_path: Path) -> None:
    await _stream(
        tmp_path,
        [
            LogChunk("B1", 0, "stdout", b"a\nb\n"),
            LogChunk("B1", 0, "stderr", b"c\n"),
            LogChunk("B1", 1, "stdout", b"d\ne\n"),
            LogClose("B1"),
        ],
    )
    batches = list(read_batches(tmp_path / "logs", "B1", 1))
    assert [(b.first, b.step, b.stream, b.text) for b in batches] == [
        (1, 0, "stdout", b"a\nb\n"),
        (3, 0, "stderr", b"c\n"),
        (4, 1, "stdout", b"d\ne\n"),
    ]
    from_four = list(read_batches(tmp_path / "logs", "B1", 4))
    assert [(b.first, b.text) for b in from_four] == [(4, b"d\ne\n")]
    assert next(iter(read_batches(tmp_path / "logs", "B1", 2, until=4))).text == b"b\n"


async def test_a_secret_across_the_cut_of_an_endless_line_is_masked(tmp_path: Path) -> None:
    secret = "hunter2-secret"
    text = await _stream(
        tmp_path,
        [
            LogOpen("B1", (secret,)),
            LogChunk("B1", 0, "stdout", b"a" * (MAX_LINE - 6) + b"hunter2"),  # no newline yet
            LogChunk("B1", 0, "stdout", b"-secret" + b"b" * (MAX_LINE * 2)),
            LogClose("B1"),
        ],
        cap=10**6,
    )
    assert "hunter2" not in text
    assert "-secret" not in text
    assert text.replace("\n", "") == "a" * (MAX_LINE - 6) + "********" + "b" * (MAX_LINE * 2)
    assert max(len(line) for line in text.splitlines()) == MAX_LINE


async def test_a_restarted_streamer_still_masks_and_drops_the_build_that_crashed_it(
    tmp_path: Path,
) -> None:
    # The real supervisor restarts the same streamer while builds go on sending; the fault is
    # real too: a directory stands where B2's log file must go, so opening it raises.
    send: trio.MemorySendChannel[LogMessage]
    inbox: trio.MemoryReceiveChannel[LogMessage]
    send, inbox = mailbox(8)
    logs = tmp_path / "logs"
    streamer = LogStreamer(LogHub(logs), inbox, cap=10_000)
    supervisor = Supervisor([ChildSpec("log-streamer", streamer.run)], backoff_initial=0)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        (logs / "B2.log").mkdir()
        await send.send(LogOpen("B1", ("hunter2-secret",)))
        await send.send(LogOpen("B2"))
        with trio.fail_after(5):
            while not supervisor.restart_counts["log-streamer"]:  # noqa: ASYNC110
                await trio.sleep(0.01)
        closed = [trio.Event(), trio.Event()]
        for message in (
            LogChunk("B2", 0, "stdout", b"would crash it again\n"),
            LogClose("B2", closed[0]),
            LogChunk("B1", 0, "stdout", b"after hunter2-secret\n"),
            LogClose("B1", closed[1]),
        ):
            await send.send(message)
        with trio.fail_after(5):
            for event in closed:  # B2's close is answered: its executor does not wait in vain
                await event.wait()
        nursery.cancel_scope.cancel()
    assert supervisor.restart_counts["log-streamer"] == 1
    assert (logs / "B1.log").read_text() == "after ********\n"
    assert list((logs / "B2.log").iterdir()) == []
