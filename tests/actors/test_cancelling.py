"""`until_set`: work that a build's cancel event interrupts (a hung fetch or clone)."""

from __future__ import annotations

import pytest
import trio

from oore.actors.cancelling import Interrupted, until_set


async def test_setting_the_event_interrupts_the_work_at_once(autojump_clock: object) -> None:
    cancel = trio.Event()

    async def hang() -> str:
        await trio.sleep(3600)
        return "finished"

    async def set_later() -> None:
        await trio.sleep(5)
        cancel.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(set_later)
        with pytest.raises(Interrupted):
            await until_set(cancel, hang)
    assert trio.current_time() == pytest.approx(5)


async def test_work_that_ends_first_gives_its_result_and_its_own_errors() -> None:
    cancel = trio.Event()

    async def answer() -> int:
        await trio.lowlevel.checkpoint()
        return 42

    async def broken() -> None:
        await trio.lowlevel.checkpoint()
        raise ValueError("no such commit")

    assert await until_set(cancel, answer) == 42
    with pytest.raises(ValueError, match="no such commit"):  # itself, not an exception group
        await until_set(cancel, broken)


async def test_an_event_set_before_the_work_starts_stops_it() -> None:
    cancel = trio.Event()
    cancel.set()
    started: list[bool] = []

    async def work() -> None:
        started.append(True)
        await trio.sleep(3600)

    with trio.fail_after(5), pytest.raises(Interrupted):
        await until_set(cancel, work)
