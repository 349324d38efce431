"""In-process synchronisation primitives below every layer (store, http and actors use them).

- `Broadcast` / `Subscription`: fan-out to live subscribers that never blocks the publisher; a
  subscriber that falls behind is marked lagged and re-reads from the source of truth.
- `Doorbell`: a resettable wake-up for a mailbox that may overflow on purpose.
- `Lull`: lets background work wait for a pause in foreground work, within a patience.

They hold no I/O and import nothing of Oore's, so any module may use them without an upward
import (tests/test_layers.py checks that).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's view of a `Broadcast`: iterate it (or `receive`) to get items in order.
    When `lagged` is set, items were dropped and the subscriber must catch up from the source of
    truth (e.g. the database or the log file)."""

    def __init__(
        self,
        owner: Broadcast[T],
        send: trio.MemorySendChannel[T],
        receive: trio.MemoryReceiveChannel[T],
        accept: Callable[[T], bool] | None = None,
    ) -> None:
        self._owner = owner
        self._accept = accept
        self._send = send
        self.receive = receive
        self.lagged = False

    def pending(self) -> bool:
        """Drain what has arrived without waiting; True if anything had (or items were lost)."""
        arrived = self.take_lagged()
        while True:
            try:
                self.receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return arrived
            arrived = True

    def take_lagged(self) -> bool:
        """Return whether items were dropped since the last call, and clear the flag."""
        lagged, self.lagged = self.lagged, False
        return lagged

    def _offer(self, item: T) -> bool:
        """Deliver without blocking; False when this subscriber is gone."""
        if self._accept is not None and not self._accept(item):
            return True
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            self.lagged = True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    def _end(self) -> None:
        self._send.close()

    def __aiter__(self) -> trio.MemoryReceiveChannel[T]:
        return self.receive

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner._unsubscribe(self)
        self.receive.close()


class Broadcast(Generic[T]):
    """Fan-out of events to many subscribers, never blocking the publisher."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription[T]] = set()
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def publish(self, item: T) -> None:
        """Offer ``item`` to every subscriber; a full one is marked lagged and misses it."""
        if self._closed:
            # The publisher owns the broadcast: publishing after close is its bug.
            raise trio.ClosedResourceError("publish on a closed Broadcast")
        # Iterate over a copy: a subscriber whose receive side is closed is dropped on the way.
        for subscription in list(self._subscriptions):
            if not subscription._offer(item):
                self._unsubscribe(subscription)

    def subscribe(
        self, buffer: int = 64, accept: Callable[[T], bool] | None = None
    ) -> Subscription[T]:
        """A new subscription; use it as ``with broadcast.subscribe() as sub:``. Only items that
        `accept` (when given) returns true for are offered to it, so that a subscriber to rare
        items is not made to lag by frequent ones. After `close`, the subscription is already
        ended (subscribers racing shutdown is normal)."""
        if buffer < 1:
            raise ValueError(f"a subscription needs a buffer of at least 1, got {buffer!r}")
        send: trio.MemorySendChannel[T]
        receive: trio.MemoryReceiveChannel[T]
        send, receive = trio.open_memory_channel[T](buffer)
        subscription = Subscription(self, send, receive, accept)
        if self._closed:
            subscription._end()
        else:
            self._subscriptions.add(subscription)
        return subscription

    def close(self) -> None:
        """End every subscription's iteration once its buffered items are read."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription._end()
        self._subscriptions.clear()

    def _unsubscribe(self, subscription: Subscription[T]) -> None:
        self._subscriptions.discard(subscription)
        subscription._end()


class Doorbell:
    """A resettable wake-up: `ring` never blocks; `wait` returns once rung since the last wait.

    Used where a bounded mailbox may overflow on purpose: the sender rings instead, and the
    receiver re-reads its work from the source of truth (the database).
    """

    def __init__(self) -> None:
        self._event = trio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = trio.Event()


class Lull:
    """Lets background work wait for a pause in foreground work, within a patience.

    The foreground calls `touch` whenever it does something (a webhook delivery arrives); the
    background awaits `wait` before each piece of work, which returns once nothing touched it
    for `quiet` seconds. While touches keep coming it waits at most `patience` seconds, then
    stops waiting until the next pause: deferred work is late, never starved.
    """

    def __init__(self, quiet: float, patience: float) -> None:
        self.quiet = quiet
        self.patience = patience
        self._last = -math.inf
        self._waiting_since: float | None = None

    def touch(self) -> None:
        now = trio.current_time()
        if now >= self._last + self.quiet:  # a pause since the last touch: patience again
            self._waiting_since = None
        self._last = now

    async def wait(self) -> None:
        while True:
            now = trio.current_time()
            pause_ends = self._last + self.quiet
            if now >= pause_ends:
                self._waiting_since = None
                return
            if self._waiting_since is None:
                self._waiting_since = now
            elif now - self._waiting_since >= self.patience:
                return  # out of patience: work goes on beside the foreground until a pause
            # Until the very instant the pause would end (not now + a difference: with float
            # rounding that can come out a hair short, forever).
            await trio.sleep_until(pause_ends)
