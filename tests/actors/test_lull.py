"""Lull: background work waits for a pause in the foreground, but never longer than its patience."""

from __future__ import annotations

import trio
import trio.testing

from oore.actors.runtime import Lull


async def test_wait_returns_at_once_when_nothing_happened(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lull = Lull(quiet=0.02, patience=5)
    start = trio.current_time()
    await lull.wait()
    assert trio.current_time() == start


async def test_wait_waits_for_a_pause_after_a_touch(autojump_clock: trio.testing.MockClock) -> None:
    lull = Lull(quiet=0.02, patience=5)
    lull.touch()
    start = trio.current_time()
    await lull.wait()
    assert trio.current_time() - start >= 0.02


async def test_steady_touches_defer_work_for_the_patience_then_not_until_a_pause(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lull = Lull(quiet=0.02, patience=1)
    done: list[float] = []
    start = trio.current_time()

    async def foreground(seconds: float) -> None:
        until = trio.current_time() + seconds
        while trio.current_time() < until:
            lull.touch()
            await trio.sleep(0.005)

    async def background() -> None:
        await trio.sleep(0.001)  # deliveries are coming in by now
        for _ in range(3):
            await lull.wait()
            done.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(foreground, 3)
        nursery.start_soon(background)
    # Deferred while deliveries kept coming, for the patience (1 s); then not deferred again
    # while they still came: late, never starved.
    assert 1 <= done[0] <= 1.03  # patience, plus at most one quiet period of sleeping
    assert done[1:] == [done[0], done[0]]


async def test_a_pause_restores_the_patience(autojump_clock: trio.testing.MockClock) -> None:
    lull = Lull(quiet=0.02, patience=1)
    lull.touch()
    await lull.wait()  # a pause: the next wait during activity defers again
    lull.touch()
    start = trio.current_time()
    await lull.wait()
    assert 0.02 <= trio.current_time() - start < 0.03


async def test_a_later_burst_is_deferred_again_after_a_quiet_hour(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lull = Lull(quiet=0.02, patience=1)

    async def burst(seconds: float) -> None:
        until = trio.current_time() + seconds
        while trio.current_time() < until:
            lull.touch()
            await trio.sleep(0.005)

    for seconds in (2.0, 0.5):  # the first outlasts the patience; the second does not
        async with trio.open_nursery() as nursery:
            nursery.start_soon(burst, seconds)
            await trio.sleep(0.001)
            start = trio.current_time()
            await lull.wait()
            waited = trio.current_time() - start
        assert waited >= min(seconds, 1) - 0.01
        await trio.sleep(3600)  # nobody waits during the quiet hour
