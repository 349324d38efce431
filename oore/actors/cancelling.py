"""Running work that a build's cancel event interrupts.

A build's cancel is a `trio.Event` (the supervisor sets it, the executor watches it). Work that
does not look at the event itself (a mirror fetch, the workspace clone, a wait for the
repository's git lock) is run through `until_set`, which cancels it the moment the event is set,
so that a build can be cancelled in every state, preparing included. A build superseded by a
newer one (`cancel_previous_builds`) says which: `superseded`, `cancel_reason`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from oore.groups import unwrap_single
from oore.model import Build

T = TypeVar("T")


def superseded(build: Build, by_number: int) -> str:
    """Why `build` was cancelled by `cancel_previous_builds`: the newer build of its line."""
    trigger = build.trigger
    if trigger.pr_number is not None:
        line = f"a newer commit on pull request #{trigger.pr_number}"
    else:
        line = f"a newer push to {trigger.branch}"
    return f"cancelled by #{by_number} ({line})"


def cancel_reason(current: Build, default: str | None) -> str | None:
    """The reason to record for a cancelled build: who superseded it, if one did."""
    if current.cancelled_by_number is not None:
        return superseded(current, current.cancelled_by_number)
    return default


class Interrupted(Exception):
    """The event was set before the work finished; the work was cancelled."""


async def until_set(event: trio.Event, work: Callable[[], Awaitable[T]]) -> T:
    """`work()`'s result; raises `Interrupted` once `event` is set (work cancelled, then)."""
    done: list[T] = []
    # The work runs in the nursery's body, not as a child, so its errors reach the caller
    # as themselves (unwrapped) and a daemon shutdown still cancels it as usual.
    with unwrap_single():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_when_set, event, nursery.cancel_scope)
            done.append(await work())
            nursery.cancel_scope.cancel()
    if not done:
        raise Interrupted
    return done[0]


async def _cancel_when_set(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
