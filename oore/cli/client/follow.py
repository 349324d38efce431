"""Following a build until it finishes: its status (`--wait`) and its log (`logs -f`).

`LogFollower` is the seam. `PollingLogFollower` asks `GET /api/builds/{id}/log` every interval
and prints what is new; the WebSocket `/api/builds/{id}/logs/stream?since=N` (issue 5) is meant
to be a second implementation with the same contract: every line from line `since` (1-based)
emitted exactly once and in order, across dropped connections, then the finished build returned.
Line numbers, not byte offsets, are the position, because both endpoints count in lines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio

from oore.cli.client.errors import BUILD_EXIT, CliError

if TYPE_CHECKING:
    from oore.cli.client.http import Api

T = TypeVar("T")
Build = dict[str, Any]
FINISHED = frozenset(BUILD_EXIT)
SETTLE_SECONDS = 0.25  # the last lines may reach the log file just after the final status
SETTLE_ROUNDS = 8


class LogFollower(Protocol):
    async def follow(self, build_id: str, emit: Callable[[str], None], *, since: int = 1) -> Build:
        """Emit each log line from line `since` once, in order, until the build is finished."""
        ...


@dataclass(slots=True)
class Reconnect:
    """Retries a call while the server is unreachable, backing off, for at most `patience` s.

    Only a server that answered before is waited for: one that cannot be reached at all is
    more likely a wrong --server than a restart, and is reported at once.
    """

    notify: Callable[[str], None]
    contacted: bool = False
    first: float = 0.2
    cap: float = 5.0
    patience: float = 300.0

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        delay, lost_at = self.first, None
        while True:
            try:
                result = await call()
            except CliError as exc:
                now = trio.current_time()
                out_of_time = lost_at is not None and now - lost_at > self.patience
                if not exc.transient or not self.contacted or out_of_time:
                    raise
                if lost_at is None:
                    lost_at = now
                    self.notify(f"{exc.message}; retrying")
                await trio.sleep(delay)
                delay = min(delay * 2, self.cap)
                continue
            self.contacted = True
            if lost_at is not None:
                self.notify("reconnected")
            return result


class PollingLogFollower:
    def __init__(self, api: Api, reconnect: Reconnect, *, interval: float = 1.0) -> None:
        self.api = api
        self.reconnect = reconnect
        self.interval = interval

    async def follow(self, build_id: str, emit: Callable[[str], None], *, since: int = 1) -> Build:
        position = since
        while True:
            build = await self._build(build_id)
            position = await self._emit_new(build_id, position, emit, final=False)
            if build["status"] in FINISHED:
                return await self._settle(build_id, build, position, emit)
            await trio.sleep(self.interval)

    async def _settle(
        self, build_id: str, build: Build, position: int, emit: Callable[[str], None]
    ) -> Build:
        for _ in range(SETTLE_ROUNDS):
            await trio.sleep(SETTLE_SECONDS)
            before, position = position, await self._emit_new(build_id, position, emit, final=False)
            if position == before:
                break
        await self._emit_new(build_id, position, emit, final=True)
        return build

    async def _build(self, build_id: str) -> Build:
        found: Build = await self.reconnect(lambda: self.api.get(f"/api/builds/{build_id}"))
        return found

    async def _emit_new(
        self, build_id: str, position: int, emit: Callable[[str], None], *, final: bool
    ) -> int:
        """Emit the whole lines from `position` on; the next position."""
        path = f"/api/builds/{build_id}/log"
        params = {"since": position}
        response = await self.reconnect(lambda: self.api.send("GET", path, params=params))
        fresh = new_lines(response.text, "X-Next-Line" in response.headers, position, final=final)
        for line in fresh:
            emit(line)
        return position + len(fresh)


def new_lines(text: str, honoured_since: bool, position: int, *, final: bool) -> list[str]:
    """The lines of a log answer from line `position` (1-based) on.

    A server that honours `?since=` sends only those lines (and says so with X-Next-Line); an
    older one sends the whole log. A last line without its newline may still be growing, so it
    counts only when `final`.
    """
    lines = text.split("\n")
    fresh, tail = lines[:-1], lines[-1]
    if not honoured_since:
        fresh, tail = fresh[position - 1 :], tail if len(fresh) >= position - 1 else ""
    return [*fresh, tail] if final and tail else fresh


async def wait_for(
    api: Api,
    build_id: str,
    reconnect: Reconnect,
    on_change: Callable[[Build], None],
    *,
    interval: float = 1.0,
) -> Build:
    """Poll the build until it is finished; `on_change` sees each new status."""
    seen = None
    while True:
        build: Build = await reconnect(lambda: api.get(f"/api/builds/{build_id}"))
        if build["status"] != seen:
            seen = build["status"]
            on_change(build)
        if seen in FINISHED:
            return build
        await trio.sleep(interval)


def follower(api: Api, reconnect: Reconnect, *, interval: float) -> LogFollower:
    """The best follower the server offers; polling until the log WebSocket is used."""
    return PollingLogFollower(api, reconnect, interval=interval)
