"""`load_off_loop` and `validate_off_loop` read in a worker thread: the event loop keeps running
while a slow file is read (issue 10: a 0.78 MB file of anchors blocked the daemon for 2.5 s)."""

from __future__ import annotations

import time

import pytest
import trio

from oore.errors import InvalidPipeline
from oore.pipeline.offloop import load_off_loop, validate_off_loop
from tests.pipeline.hostile import anchors, many_workflows

TICK = 0.005


async def _longest_stall(work: trio.Event) -> float:
    """The longest the loop went without running this task, until `work` is set."""
    longest, last = 0.0, time.monotonic()
    while not work.is_set():
        await trio.sleep(TICK)
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    return longest


async def test_the_event_loop_runs_while_a_slow_file_is_read() -> None:
    done = trio.Event()
    stalls: list[float] = []

    async def watch() -> None:
        stalls.append(await _longest_stall(done))

    started = time.monotonic()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        await trio.sleep(TICK * 4)  # the watcher is running before the reading starts
        report = await validate_off_loop(anchors())
        done.set()
    took = time.monotonic() - started
    assert report.ok or "took longer than" in report.errors[0]["message"]
    assert took > 0.3, took  # the file really is slow to read, so the stall would show
    # On the event loop the stall is the whole reading; a busy machine can delay the loop's
    # thread a little, so the bound is a share of the reading time.
    assert stalls[0] < max(0.25, took / 3), (stalls, took)


async def test_load_off_loop_raises_what_load_raises() -> None:
    with pytest.raises(InvalidPipeline) as caught:
        await load_off_loop(many_workflows(101), "codemagic.yaml")
    assert "at most 100" in caught.value.message
    with pytest.raises(InvalidPipeline) as caught:
        await load_off_loop(anchors(), "codemagic.yaml", seconds=0.05)
    assert "took longer than 0.05 s" in caught.value.message


async def test_a_cancelled_reader_gives_up_at_once() -> None:
    started = time.monotonic()
    with trio.move_on_after(0.05):
        await load_off_loop(anchors())
    assert time.monotonic() - started < 0.5
