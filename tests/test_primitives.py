"""The primitives below every layer: Broadcast (fan-out, never blocking the publisher) and Lull
(background work waits for a pause in the foreground, but never longer than its patience)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from oore.primitives import Broadcast, Lull

# --- broadcast -------------------------------------------------------------------------------


async def test_every_subscriber_gets_every_item_in_order() -> None:
    events: Broadcast[int] = Broadcast()
    with events.subscribe() as one, events.subscribe() as two, events.subscribe() as three:
        assert events.subscriber_count == 3
        for n in range(5):
            events.publish(n)
        got = [[s.receive.receive_nowait() for _ in range(5)] for s in (one, two, three)]

    assert got == [[0, 1, 2, 3, 4]] * 3
    assert not any(s.lagged for s in (one, two, three))


async def test_slow_subscriber_lags_without_blocking_or_affecting_a_fast_one() -> None:
    events: Broadcast[int] = Broadcast()
    fast_got: list[int] = []
    with events.subscribe(buffer=2) as slow, events.subscribe(buffer=4) as fast:
        async with trio.open_nursery() as nursery:

            async def drain() -> None:
                async for item in fast:
                    fast_got.append(item)

            nursery.start_soon(drain)
            await trio.testing.wait_all_tasks_blocked()
            for n in range(10):
                events.publish(n)  # synchronous: it cannot block on the slow subscriber
                await trio.testing.wait_all_tasks_blocked()
            events.close()

        slow_got = [item async for item in slow]

    assert fast_got == list(range(10))
    assert not fast.take_lagged()
    assert slow_got == [0, 1]
    assert slow.take_lagged() is True
    assert slow.take_lagged() is False  # take_lagged clears the flag


async def test_lagged_subscriber_receives_new_items_once_it_has_room() -> None:
    events: Broadcast[int] = Broadcast()
    with events.subscribe(buffer=1) as sub:
        events.publish(1)
        events.publish(2)  # dropped
        assert sub.receive.receive_nowait() == 1
        assert sub.take_lagged()
        events.publish(3)
        assert sub.receive.receive_nowait() == 3
        assert not sub.take_lagged()


async def test_subscription_ends_on_context_exit() -> None:
    events: Broadcast[str] = Broadcast()
    with events.subscribe() as sub:
        assert events.subscriber_count == 1
    assert events.subscriber_count == 0

    events.publish("nobody listens")  # does not fail
    with pytest.raises(trio.ClosedResourceError):
        sub.receive.receive_nowait()


async def test_subscriber_that_closed_its_receive_side_is_dropped() -> None:
    events: Broadcast[str] = Broadcast()
    with events.subscribe() as gone, events.subscribe() as stays:
        await gone.receive.aclose()
        events.publish("x")
        assert events.subscriber_count == 1
        assert stays.receive.receive_nowait() == "x"


async def test_close_ends_every_iteration() -> None:
    events: Broadcast[int] = Broadcast()
    results: dict[str, list[int]] = {}

    async def collect(name: str, *, task_status: trio.TaskStatus[None]) -> None:
        with events.subscribe() as sub:
            task_status.started()
            results[name] = [item async for item in sub]

    async with trio.open_nursery() as nursery:
        await nursery.start(collect, "a")
        await nursery.start(collect, "b")
        events.publish(1)
        events.publish(2)
        events.close()

    assert results == {"a": [1, 2], "b": [1, 2]}
    assert events.subscriber_count == 0
    with pytest.raises(trio.ClosedResourceError):
        events.publish(3)
    with events.subscribe() as late:
        assert [item async for item in late] == []


async def test_a_filtered_subscriber_is_offered_only_what_it_accepts() -> None:
    events: Broadcast[int] = Broadcast()
    with events.subscribe(buffer=1, accept=lambda n: n % 10 == 0) as rare:
        for n in range(1, 10):
            events.publish(n)  # nine items it does not want: it must not lag on them
        assert not rare.pending()
        events.publish(10)
        assert rare.pending()
        assert not rare.pending()  # drained


async def test_pending_reports_a_lag_as_something_arrived() -> None:
    events: Broadcast[int] = Broadcast()
    with events.subscribe(buffer=1) as sub:
        events.publish(1)
        events.publish(2)  # dropped: lagged
        assert sub.pending()
        assert not sub.lagged


# --- lull ------------------------------------------------------------------------------------


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
