"""The runtime every Oore actor runs under: a one_for_one `Supervisor`, bounded mailboxes and
one-shot request/reply (`Broadcast`, `Doorbell` and `Lull` live below, in `oore.primitives`).
Mailboxes belong to whoever builds the `ChildSpec`s, not to the actor, so they outlive a
restart: the supervisor calls the actor's ``start`` again on the same channels. An actor must
therefore never close its inbox receive channel (write ``async for msg in inbox:``, not
``async with inbox:``), or its restarted self finds the inbox closed and senders get
``BrokenResourceError``. A mailbox is a wake-up, not the source of truth: messages in flight
when an actor crashes are lost, which is why every actor re-reads the work it owns from the
database when it starts.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NoReturn, TypeVar

import trio

from oore.errors import StoreBusy

__all__ = [
    "ChildSpec",
    "NoReply",
    "RequestError",
    "RequestTimeout",
    "Supervisor",
    "SupervisorEscalation",
    "mailbox",
    "reply",
    "request",
]

T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R")

logger = logging.getLogger("oore.actors.runtime")


class SupervisorEscalation(Exception):
    """A child crashed more than max_restarts times within window seconds; the daemon must exit
    non-zero so launchd/systemd restarts it from a clean state."""

    def __init__(self, child: str, message: str = "") -> None:
        super().__init__(message or f"child {child!r} crashed too often; escalating")
        self.child = child


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One supervised actor. ``start`` is awaited as ``start(task_status=...)``, afresh on every
    (re)start, and must call ``task_status.started()`` once it is ready to serve."""

    name: str
    start: Callable[..., Awaitable[None]]
    restart: bool = True


class _Readiness:
    """Forwards ``started()`` to the real task status and remembers that it was called, so a
    crash before readiness (start-up must fail) can be told from a crash after it (restart)."""

    def __init__(self, outer: trio.TaskStatus[None]) -> None:
        self._outer = outer
        self.ready = False

    def started(self, value: None = None) -> None:
        self.ready = True
        self._outer.started()


class _Backoff:
    """Exponential delay between restarts; a child that stayed up longer than ``window`` is
    considered healthy again and starts over from the initial delay."""

    def __init__(self, initial: float, maximum: float, window: float) -> None:
        self._initial, self._maximum, self._window = initial, maximum, window
        self._next = initial

    def delay(self, uptime: float) -> float:
        if uptime > self._window:
            self._next = self._initial
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay


class _RestartWindow:
    """Restart times of one child within the last ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit, self._window = limit, window
        self._times: deque[float] = deque()

    def admit(self, now: float) -> bool:
        """Record a restart at ``now``; False when it would exceed the limit."""
        while self._times and self._times[0] <= now - self._window:
            self._times.popleft()
        if len(self._times) >= self._limit:
            return False
        self._times.append(now)
        return True


class Supervisor:
    """Runs children one_for_one: a crashed child is restarted alone, its siblings keep running."""

    def __init__(
        self,
        children: Sequence[ChildSpec],
        *,
        max_restarts: int = 5,
        window: float = 60.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
    ) -> None:
        _check_config(children, max_restarts, window, backoff_initial, backoff_max)
        self._children = tuple(children)
        self._max_restarts = max_restarts
        self._window = window
        self._backoff = (backoff_initial, backoff_max)
        self._restarts = {child.name: 0 for child in children}

    @property
    def restart_counts(self) -> Mapping[str, int]:
        """Total restarts per child (a read-only live view), for /metrics and tests."""
        return MappingProxyType(self._restarts)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the children in order, report ready, then supervise until cancelled.

        Raises the child's own error if it fails before it is ready, and `SupervisorEscalation`
        (never wrapped in an exception group) when a child crashes too often.
        """
        try:
            async with trio.open_nursery(strict_exception_groups=True) as nursery:
                for child in self._children:
                    await nursery.start(self._supervise, child)
                task_status.started()
        except BaseExceptionGroup as group:
            sole = _sole_error(group)
            if sole is None:
                raise
            _raise_saving_context(sole)

    async def _supervise(self, child: ChildSpec, *, task_status: trio.TaskStatus[None]) -> None:
        first = readiness = _Readiness(task_status)
        backoff = _Backoff(*self._backoff, self._window)
        restarts = _RestartWindow(self._max_restarts, self._window)
        while True:
            began = trio.current_time()
            crash = await _run_child(child, readiness)
            # Failing before the first readiness is a start-up failure: fail loudly, don't loop.
            if not first.ready or not child.restart:
                raise crash
            delay = backoff.delay(trio.current_time() - began)
            await self._before_restart(child, crash, restarts, delay)
            await trio.sleep(delay)
            self._restarts[child.name] += 1
            readiness = _Readiness(trio.TASK_STATUS_IGNORED)

    async def _before_restart(
        self, child: ChildSpec, crash: Exception, restarts: _RestartWindow, delay: float
    ) -> None:
        """Log the crash; raise `SupervisorEscalation` past the limit, Cancelled on shutdown."""
        trace = _traceback_of(crash)
        if trio.current_effective_deadline() == -math.inf:
            # Failing while the supervisor is cancelled is shutdown noise, not a reason to
            # restart or escalate: log it and let Cancelled win.
            logger.error("actor %s failed while stopping: %s", child.name, crash, exc_info=trace)
            await trio.lowlevel.checkpoint()
        if _transient(crash):
            # The store waited minutes for another process's lock before it gave up: that lock
            # ends, and restarting the daemon would not end it sooner, so it is not counted.
            logger.warning(
                "actor %s stopped on a locked database, restart in %.2fs (not counted "
                "toward escalation): %s",
                child.name,
                delay,
                crash,
            )
            return
        if not restarts.admit(trio.current_time()):
            message = (
                f"actor {child.name!r} crashed more than {self._max_restarts} times "
                f"within {self._window:g}s; escalating"
            )
            logger.critical("%s: %s", message, crash, exc_info=trace)
            raise SupervisorEscalation(child.name, message) from crash
        number = self._restarts[child.name] + 1
        logger.error(
            "actor %s crashed, restart #%d in %.2fs: %s",
            child.name,
            number,
            delay,
            crash,
            exc_info=trace,
        )


class _ChildReturned(RuntimeError):
    """A supervised child returned; long-lived actors run until cancelled, so this is a crash."""


async def _run_child(child: ChildSpec, readiness: _Readiness) -> Exception:
    """Run one incarnation of ``child``; return why it stopped (it never stops cleanly)."""
    try:
        await child.start(task_status=readiness)
    except Exception as exc:
        # Only Exception: Cancelled and KeyboardInterrupt must propagate untouched.
        return exc
    when = "after it was ready" if readiness.ready else "before calling task_status.started()"
    return _ChildReturned(
        f"actor {child.name!r} returned {when}; an actor must run until cancelled"
    )


def _transient(crash: BaseException) -> bool:
    """Whether `crash` came (as itself, a cause, or every error of a group) from `StoreBusy`."""
    if isinstance(crash, BaseExceptionGroup):
        return all(_transient(inner) for inner in crash.exceptions)
    cause: BaseException | None = crash
    while cause is not None:
        if isinstance(cause, StoreBusy):
            return True
        cause = cause.__cause__
    return False


def _traceback_of(crash: Exception) -> Exception | None:
    # A plain return has no traceback worth printing; the message says it all.
    return None if isinstance(crash, _ChildReturned) else crash


def _check_config(
    children: Sequence[ChildSpec],
    max_restarts: int,
    window: float,
    backoff_initial: float,
    backoff_max: float,
) -> None:
    names = [child.name for child in children]
    if len(set(names)) != len(names):
        raise ValueError(f"child names must be unique: {names}")
    if max_restarts < 0 or window <= 0:
        raise ValueError("max_restarts must be >= 0 and window > 0")
    if not 0 <= backoff_initial <= backoff_max:
        raise ValueError("backoff needs 0 <= backoff_initial <= backoff_max")


def _sole_error(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    """The single Exception inside ``group`` (however deeply nested), else None."""
    if len(group.exceptions) != 1:
        return None
    (inner,) = group.exceptions
    if isinstance(inner, BaseExceptionGroup):
        return _sole_error(inner)
    return inner if isinstance(inner, Exception) else None


def _raise_saving_context(exc: Exception) -> NoReturn:
    # Raising inside `except` would chain the group as __context__ (a cycle, since the group
    # holds exc); keep the context exc already had, as trio's own `Nursery.start` does.
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context


def mailbox(size: int = 16) -> tuple[trio.MemorySendChannel[T], trio.MemoryReceiveChannel[T]]:
    """A bounded actor inbox; ``size`` 0 is a rendezvous. Unbounded mailboxes are refused because
    they hide back-pressure until memory runs out."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"mailbox size must be a whole number >= 0, got {size!r}")
    return trio.open_memory_channel[T](size)


class RequestError(Exception):
    """A `request` got no answer; catch this to handle both reasons alike."""


class RequestTimeout(RequestError):
    """The callee did not answer in time (busy, stuck, or crashed while holding the request)."""


class NoReply(RequestError):
    """The callee closed the reply channel without answering, or its inbox is closed."""


async def request(
    inbox: trio.MemorySendChannel[M],
    make: Callable[[trio.MemorySendChannel[R]], M],
    *,
    # A mandatory bound rather than a caller-side scope: every request must be bounded (DESIGN 1),
    # and owning the scope lets us tell our deadline (RequestTimeout) from the caller's (Cancelled).
    timeout: float,  # noqa: ASYNC109
) -> R:
    """Send ``make(reply_channel)`` to ``inbox`` and wait for one answer, all within ``timeout``
    seconds (a full inbox counts against it). Raises `RequestTimeout` or `NoReply`; catch
    `RequestError` for both. A callee that crashes while holding the request never closes the
    reply channel, so the caller sees `RequestTimeout`, not `NoReply`.

    mypy cannot infer the reply type from a lambda alone; annotate the target, as in
    ``status: BuildStatus = await request(inbox, lambda r: GetStatus(build_id, r), timeout=5)``.
    """
    reply_send, reply_receive = trio.open_memory_channel[R](1)
    try:
        # Closing our end on the way out lets a late `reply` see that we gave up.
        with trio.fail_after(timeout), reply_receive:
            await inbox.send(make(reply_send))
            return await reply_receive.receive()
    except trio.TooSlowError as exc:
        raise RequestTimeout(f"no reply within {timeout:g}s") from exc
    except trio.EndOfChannel as exc:
        raise NoReply("the callee closed the reply channel without answering") from exc
    except trio.BrokenResourceError as exc:
        raise NoReply("the callee's inbox is closed") from exc


async def reply(channel: trio.MemorySendChannel[R], value: R) -> None:
    """Answer a request once and close the reply channel; a caller that gave up is not an error."""
    try:
        channel.send_nowait(value)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await channel.aclose()
