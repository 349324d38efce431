"""Tests for the actor runtime: supervisor, mailboxes, and request/reply."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from oore.actors.runtime import (
    ChildSpec,
    NoReply,
    RequestError,
    RequestTimeout,
    Supervisor,
    SupervisorEscalation,
    mailbox,
    reply,
    request,
)
from oore.errors import StoreBusy

Start = Callable[..., Awaitable[None]]


@dataclass
class Probe:
    """A test actor. Incarnation ``i`` stays up ``lifetimes[i]`` seconds after it is ready (the
    last lifetime repeats; ``math.inf`` = until cancelled), then raises or returns."""

    lifetimes: list[float] = field(default_factory=lambda: [math.inf])
    returns: bool = False
    starts: list[float] = field(default_factory=list)
    stops: int = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        incarnation = len(self.starts)
        self.starts.append(trio.current_time())
        task_status.started()
        try:
            await trio.sleep(self.lifetimes[min(incarnation, len(self.lifetimes) - 1)])
        finally:
            self.stops += 1
        if not self.returns:
            raise ValueError(f"boom #{incarnation}")


@dataclass
class Ticker:
    """A healthy sibling that counts seconds until cancelled."""

    ticks: int = 0
    starts: int = 0
    stopped: bool = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts += 1
        task_status.started()
        try:
            while True:
                await trio.sleep(1)
                self.ticks += 1
        finally:
            self.stopped = True


async def run_for(supervisor: Supervisor, seconds: float) -> None:
    """Run ``supervisor`` for ``seconds`` of (autojumped) trio time, then cancel it."""
    with trio.move_on_after(seconds):
        await supervisor.run()


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


# --- start-up --------------------------------------------------------------------------------


async def test_children_start_in_order_and_supervisor_ready_last() -> None:
    events: list[str] = []

    def child(name: str, delay: float) -> Start:
        async def start(*, task_status: trio.TaskStatus[None]) -> None:
            events.append(f"begin {name}")
            await trio.sleep(delay)  # the slowest first: order must not depend on speed
            events.append(f"ready {name}")
            task_status.started()
            await trio.sleep_forever()

        return start

    specs = [ChildSpec("a", child("a", 0.3)), ChildSpec("b", child("b", 0.1))]
    specs.append(ChildSpec("c", child("c", 0.2)))
    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor(specs).run)
        events.append("supervisor ready")
        nursery.cancel_scope.cancel()

    assert events == [
        "begin a",
        "ready a",
        "begin b",
        "ready b",
        "begin c",
        "ready c",
        "supervisor ready",
    ]


async def test_child_failing_before_started_fails_run_with_its_own_error() -> None:
    first, last = Ticker(), Ticker()

    async def broken(*, task_status: trio.TaskStatus[None]) -> None:
        raise KeyError("missing setting OORE_DATA_DIR")

    specs = [ChildSpec("first", first.run), ChildSpec("broken", broken)]
    supervisor = Supervisor([*specs, ChildSpec("last", last.run)])
    with pytest.raises(KeyError, match="OORE_DATA_DIR") as excinfo:
        await supervisor.run()

    assert type(excinfo.value) is KeyError  # not an ExceptionGroup
    assert first.stopped  # the already-started sibling was cancelled
    assert last.starts == 0  # and nothing after the broken child was started
    assert supervisor.restart_counts["broken"] == 0


async def test_child_returning_before_started_fails_run() -> None:
    async def quitter(*, task_status: trio.TaskStatus[None]) -> None:
        return

    with pytest.raises(RuntimeError, match="'quitter' returned before calling"):
        await Supervisor([ChildSpec("quitter", quitter)]).run()


async def test_child_without_restart_propagates_its_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fragile, sibling = Probe(lifetimes=[4]), Ticker()
    specs = [ChildSpec("fragile", fragile.run, restart=False), ChildSpec("sib", sibling.run)]
    supervisor = Supervisor(specs)

    with pytest.raises(ValueError, match="boom #0"):
        await supervisor.run()

    assert len(fragile.starts) == 1
    assert sibling.stopped
    assert trio.current_time() == pytest.approx(4)
    assert dict(supervisor.restart_counts) == {"fragile": 0, "sib": 0}


# --- restarts --------------------------------------------------------------------------------


async def test_crashed_child_is_restarted_and_sibling_keeps_running(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    crasher, sibling = Probe(lifetimes=[5]), Ticker()
    supervisor = Supervisor(
        [ChildSpec("crasher", crasher.run), ChildSpec("sibling", sibling.run)],
        max_restarts=100,
        backoff_initial=1,
    )

    await run_for(supervisor, 30.5)

    # Up 5 s each, backoff 1, 2, 4 (8 would start it after the end): starts at 0, 6, 13, 22.
    assert crasher.starts == [0, 6, 13, 22]
    assert dict(supervisor.restart_counts) == {"crasher": 3, "sibling": 0}
    assert sibling.starts == 1
    assert sibling.ticks == 30  # one tick a second for 30.5 s, never interrupted
    crashes = [r for r in caplog.records if "actor crasher crashed" in r.getMessage()]
    assert len(crashes) == 4  # the fourth crash (at 27 s) waits out its 8 s backoff
    assert crashes[0].levelno == logging.ERROR
    assert crashes[0].exc_info is not None  # the traceback is logged
    assert "boom #0" in crashes[0].getMessage()


async def test_restart_reuses_the_mailbox_owned_by_the_spec_builder(
    autojump_clock: trio.testing.MockClock,
) -> None:
    inbox_send: trio.MemorySendChannel[str]
    inbox: trio.MemoryReceiveChannel[str]
    inbox_send, inbox = mailbox(4)
    handled: list[str] = []

    async def worker(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        async for message in inbox:  # never `async with inbox`: the restart needs it open
            if message == "poison":
                raise ValueError("poisoned")
            handled.append(message)

    supervisor = Supervisor([ChildSpec("worker", worker)], backoff_initial=0.5)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        for message in ["one", "poison", "two"]:
            await inbox_send.send(message)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()

    assert handled == ["one", "two"]
    assert supervisor.restart_counts["worker"] == 1


async def test_restarted_child_failing_before_started_is_restarted_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Only the first start is start-up; later a failure before readiness is an ordinary crash.
    starts: list[float] = []

    async def shaky(*, task_status: trio.TaskStatus[None]) -> None:
        starts.append(trio.current_time())
        if len(starts) in (2, 3):
            raise ConnectionError("database not reachable yet")
        task_status.started()
        await trio.sleep(1 if len(starts) == 1 else math.inf)

    supervisor = Supervisor([ChildSpec("shaky", shaky)], backoff_initial=1)
    await run_for(supervisor, 20)

    assert starts == [0, 2, 4, 8]  # crashed at 1 s, then 2 s and 4 s of backoff
    assert supervisor.restart_counts["shaky"] == 3


async def test_backoff_doubles_up_to_the_maximum(autojump_clock: trio.testing.MockClock) -> None:
    crasher = Probe(lifetimes=[0])
    supervisor = Supervisor(
        [ChildSpec("crasher", crasher.run)],
        max_restarts=100,
        window=1000,
        backoff_initial=1,
        backoff_max=8,
    )

    await run_for(supervisor, 40)

    assert gaps(crasher.starts) == [1, 2, 4, 8, 8, 8, 8]


async def test_backoff_resets_after_a_healthy_run(autojump_clock: trio.testing.MockClock) -> None:
    # Three quick crashes, one incarnation that stays up 150 s (> window), then quick crashes.
    crasher = Probe(lifetimes=[0, 0, 0, 150, 0])
    supervisor = Supervisor(
        [ChildSpec("crasher", crasher.run)],
        max_restarts=100,
        window=100,
        backoff_initial=1,
        backoff_max=64,
    )

    await run_for(supervisor, 165)

    # 1, 2, 4; then 150 s up + 1 s (reset, not 8); then 2, 4 again.
    assert gaps(crasher.starts) == [1, 2, 4, 151, 2, 4]


async def test_early_return_is_a_crash(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    quitter = Probe(lifetimes=[3], returns=True)
    supervisor = Supervisor([ChildSpec("quitter", quitter.run)], backoff_initial=1, window=2)

    await run_for(supervisor, 10)

    # Up 3 s (longer than the 2 s window, so the backoff stays at 1 s): starts at 0, 4, 8.
    assert gaps(quitter.starts) == [4, 4]
    assert supervisor.restart_counts["quitter"] == 2
    messages = [r.getMessage() for r in caplog.records if r.name == "oore.actors.runtime"]
    assert len(messages) == 2
    assert "returned after it was ready" in messages[0]


# --- escalation ------------------------------------------------------------------------------


async def test_too_many_restarts_within_window_escalate(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    flaky, sibling = Probe(lifetimes=[1]), Ticker()
    supervisor = Supervisor(
        [ChildSpec("sibling", sibling.run), ChildSpec("flaky", flaky.run)],
        max_restarts=3,
        window=60,
        backoff_initial=0.5,
    )

    with pytest.raises(SupervisorEscalation) as excinfo:
        await supervisor.run()

    assert type(excinfo.value) is SupervisorEscalation  # plain, not in an ExceptionGroup
    assert excinfo.value.child == "flaky"
    assert isinstance(excinfo.value.__cause__, ValueError)
    assert str(excinfo.value.__cause__) == "boom #3"
    assert len(flaky.starts) == 4  # the first start and three restarts; the 4th is refused
    assert dict(supervisor.restart_counts) == {"sibling": 0, "flaky": 3}
    assert sibling.stopped  # escalation cancelled the sibling
    assert caplog.records[-1].levelno == logging.CRITICAL
    assert "'flaky' crashed more than 3 times within 60s" in caplog.records[-1].getMessage()


async def test_restarts_spread_beyond_the_window_do_not_escalate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Crashes every ~61 s with a 60 s window: never more than one restart in any window.
    steady = Probe(lifetimes=[61])
    supervisor = Supervisor(
        [ChildSpec("steady", steady.run)], max_restarts=1, window=60, backoff_initial=0.5
    )

    await run_for(supervisor, 61.5 * 10 + 1)

    assert supervisor.restart_counts["steady"] == 10
    assert gaps(steady.starts) == [61.5] * 10


async def test_zero_max_restarts_escalates_on_the_first_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    once = Probe(lifetimes=[2])
    supervisor = Supervisor([ChildSpec("once", once.run)], max_restarts=0)

    with pytest.raises(SupervisorEscalation, match="'once'"):
        await supervisor.run()

    assert len(once.starts) == 1
    assert trio.current_time() == pytest.approx(2)


def store_busy() -> Exception:
    return StoreBusy("the database stayed locked by another process for 120s")


def wrapped_store_busy() -> Exception:
    try:
        raise store_busy()
    except StoreBusy as exc:
        try:
            raise RuntimeError("could not record the build's state") from exc
        except RuntimeError as wrapped:
            return wrapped


@dataclass
class Raiser:
    """A test actor that is ready, stays up ``lifetime`` seconds, then raises ``make()``."""

    make: Callable[[], Exception]
    lifetime: float = 1
    starts: int = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts += 1
        task_status.started()
        await trio.sleep(self.lifetime)
        raise self.make()


@pytest.mark.parametrize(
    "make",
    [
        store_busy,
        wrapped_store_busy,
        lambda: ExceptionGroup("nursery", [store_busy(), wrapped_store_busy()]),
    ],
    ids=["itself", "as-cause", "in-a-group"],
)
async def test_a_locked_database_is_not_counted_toward_escalation(
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[], Exception],
) -> None:
    locked, sibling = Raiser(make), Ticker()
    supervisor = Supervisor(
        [ChildSpec("sibling", sibling.run), ChildSpec("locked", locked.run)],
        max_restarts=2,
        window=60,
        backoff_initial=0.5,
        backoff_max=2,
    )

    await run_for(supervisor, 59)

    assert supervisor.restart_counts["locked"] > 10  # far past max_restarts, all in one window
    assert sibling.starts == 1
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    assert "stopped on a locked database" in caplog.records[-1].getMessage()


async def test_a_real_crash_beside_a_locked_database_still_escalates(
    autojump_clock: trio.testing.MockClock,
) -> None:
    mixed = Raiser(lambda: ExceptionGroup("nursery", [store_busy(), ValueError("a bug")]))
    supervisor = Supervisor([ChildSpec("mixed", mixed.run)], max_restarts=2, window=60)

    with pytest.raises(SupervisorEscalation, match="'mixed'"):
        await supervisor.run()

    assert mixed.starts == 3


# --- cancellation ----------------------------------------------------------------------------


async def test_cancelling_the_supervisor_cancels_children_and_is_not_swallowed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    first, second = Ticker(), Ticker()
    supervisor = Supervisor([ChildSpec("first", first.run), ChildSpec("second", second.run)])
    reached_after_run = False

    with trio.move_on_after(5) as scope:
        await supervisor.run()
        reached_after_run = True  # only if run() swallowed the Cancelled

    assert scope.cancelled_caught
    assert not reached_after_run
    assert first.stopped
    assert second.stopped
    assert (first.ticks, second.ticks) == (4, 4)
    assert dict(supervisor.restart_counts) == {"first": 0, "second": 0}


async def test_cancelling_during_backoff_stops_without_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    crasher = Probe(lifetimes=[1])
    supervisor = Supervisor([ChildSpec("crasher", crasher.run)], backoff_initial=10)

    with trio.move_on_after(5) as scope:
        await supervisor.run()

    assert scope.cancelled_caught
    assert len(crasher.starts) == 1
    assert supervisor.restart_counts["crasher"] == 0


async def test_child_failing_while_being_cancelled_neither_restarts_nor_escalates(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    starts = 0

    async def messy(*, task_status: trio.TaskStatus[None]) -> None:
        nonlocal starts
        starts += 1
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            raise OSError("cleanup failed")  # exactly the case under test

    supervisor = Supervisor([ChildSpec("messy", messy)], max_restarts=0)
    with trio.move_on_after(3) as scope:
        await supervisor.run()

    assert scope.cancelled_caught
    assert starts == 1
    assert supervisor.restart_counts["messy"] == 0
    assert ["actor messy failed while stopping: cleanup failed"] == [
        r.getMessage() for r in caplog.records
    ]


class Fatal(BaseException):
    """A BaseException that is not an Exception, like KeyboardInterrupt."""


async def test_base_exceptions_are_never_caught(autojump_clock: trio.testing.MockClock) -> None:
    starts = 0

    async def fatal(*, task_status: trio.TaskStatus[None]) -> None:
        nonlocal starts
        starts += 1
        task_status.started()
        await trio.sleep(1)
        raise Fatal

    supervisor = Supervisor([ChildSpec("fatal", fatal)])
    with pytest.raises(BaseExceptionGroup) as excinfo:
        await supervisor.run()

    assert excinfo.group_contains(Fatal)
    assert starts == 1
    assert supervisor.restart_counts["fatal"] == 0


def test_restart_counts_is_a_read_only_view() -> None:
    supervisor = Supervisor([ChildSpec("a", Ticker().run), ChildSpec("b", Ticker().run)])

    counts = supervisor.restart_counts

    assert dict(counts) == {"a": 0, "b": 0}
    with pytest.raises(TypeError):
        counts["a"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_restarts": -1}, "max_restarts"),
        ({"window": 0}, "window"),
        ({"backoff_initial": 2, "backoff_max": 1}, "backoff"),
    ],
)
def test_supervisor_rejects_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Supervisor([ChildSpec("a", Ticker().run)], **kwargs)  # type: ignore[arg-type]


def test_supervisor_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([ChildSpec("a", Ticker().run), ChildSpec("a", Ticker().run)])


# --- mailbox ---------------------------------------------------------------------------------


def test_mailbox_is_bounded() -> None:
    send: trio.MemorySendChannel[int]
    send, _receive = mailbox(2)
    send.send_nowait(1)
    send.send_nowait(2)
    with pytest.raises(trio.WouldBlock):
        send.send_nowait(3)


def test_mailbox_default_size_is_16() -> None:
    send: trio.MemorySendChannel[int]
    send, _receive = mailbox()
    for n in range(16):
        send.send_nowait(n)
    with pytest.raises(trio.WouldBlock):
        send.send_nowait(16)


@pytest.mark.parametrize("size", [-1, math.inf, 2.5, True])
def test_mailbox_refuses_unbounded_or_invalid_sizes(size: float) -> None:
    with pytest.raises(ValueError, match="mailbox size"):
        mailbox(size)  # type: ignore[arg-type]


# --- request / reply -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Double:
    value: int
    reply: trio.MemorySendChannel[int]


async def doubler(inbox: trio.MemoryReceiveChannel[Double], delay: float = 0) -> None:
    async for message in inbox:
        await trio.sleep(delay)
        await reply(message.reply, message.value * 2)


async def ask_double(inbox: trio.MemorySendChannel[Double], value: int, *, within: float) -> int:
    # The annotated return type is what lets mypy infer `request`'s reply type from the lambda.
    return await request(inbox, lambda r: Double(value, r), timeout=within)


async def test_request_reply_round_trip() -> None:
    send: trio.MemorySendChannel[Double]
    send, receive = mailbox()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(doubler, receive)
        first = await ask_double(send, 21, within=1)
        second = await ask_double(send, 5, within=1)
        nursery.cancel_scope.cancel()

    assert (first, second) == (42, 10)


async def test_request_times_out_when_nobody_answers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    send: trio.MemorySendChannel[Double]
    send, _receive = mailbox(1)  # nobody reads it
    began = trio.current_time()

    with pytest.raises(RequestTimeout, match="no reply within 5s") as excinfo:
        await ask_double(send, 1, within=5)

    assert isinstance(excinfo.value, RequestError)
    assert isinstance(excinfo.value.__cause__, trio.TooSlowError)
    assert trio.current_time() - began == pytest.approx(5)


async def test_request_timeout_covers_a_full_inbox(autojump_clock: trio.testing.MockClock) -> None:
    send: trio.MemorySendChannel[Double]
    send, _receive = mailbox(0)  # rendezvous with nobody: send blocks
    began = trio.current_time()

    with pytest.raises(RequestTimeout):
        await ask_double(send, 1, within=2)

    assert trio.current_time() - began == pytest.approx(2)


async def test_late_reply_after_timeout_is_ignored(autojump_clock: trio.testing.MockClock) -> None:
    send: trio.MemorySendChannel[Double]
    send, receive = mailbox()
    async with trio.open_nursery() as nursery:
        with pytest.raises(RequestTimeout):
            await ask_double(send, 1, within=1)
        message = receive.receive_nowait()
        await trio.sleep(5)
        with pytest.raises(trio.BrokenResourceError):
            message.reply.send_nowait(2)  # the caller closed its end: a callee can tell
        await reply(message.reply, 2)  # and reply() treats that as no error
        nursery.cancel_scope.cancel()

    with pytest.raises(trio.ClosedResourceError):
        message.reply.send_nowait(3)  # reply() closed its end


async def test_callee_closing_without_answer_raises_no_reply() -> None:
    send: trio.MemorySendChannel[Double]
    send, receive = mailbox()

    async def rude() -> None:
        message = await receive.receive()
        await message.reply.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(rude)
        with pytest.raises(NoReply, match="closed the reply channel") as excinfo:
            await ask_double(send, 1, within=60)

    assert isinstance(excinfo.value, RequestError)
    assert not isinstance(excinfo.value, RequestTimeout)


async def test_request_to_a_closed_inbox_raises_no_reply() -> None:
    send: trio.MemorySendChannel[Double]
    send, receive = mailbox()
    await receive.aclose()

    with pytest.raises(NoReply, match="inbox is closed"):
        await ask_double(send, 1, within=1)


async def test_second_reply_is_ignored() -> None:
    reply_send: trio.MemorySendChannel[int]
    reply_send, reply_receive = trio.open_memory_channel(1)

    await reply(reply_send, 1)
    await reply(reply_send, 2)

    assert reply_receive.receive_nowait() == 1
    with pytest.raises(trio.EndOfChannel):
        reply_receive.receive_nowait()
