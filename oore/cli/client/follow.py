"""Following a build until it finishes: its status (`--wait`) and its log (`logs -f`).

`LogFollower` is the seam; `WebSocketLogFollower` takes lines as the server pushes them over
`/api/builds/{id}/logs/stream?since=N`. The contract: every line from line `since` (1-based)
emitted exactly once and in order, across dropped connections, then the finished build returned.
Line numbers, not byte offsets, are the position, because both endpoints count in lines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio

from oore.cli.client.errors import BUILD_EXIT, CliError, ExitCode

if TYPE_CHECKING:
    from oore.cli.client.http import Api

T = TypeVar("T")
Build = dict[str, Any]
FINISHED = frozenset(BUILD_EXIT)


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


def new_lines(text: str, honoured_since: bool, position: int, *, final: bool) -> list[str]:
    """The lines of a `GET .../log` answer from line `position` (1-based) on.

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


class WebSocketLogFollower:
    """Lines pushed as they are written, over `WS /api/builds/{id}/logs/stream?since=N`.

    After a dropped connection it reconnects (with `Reconnect`'s back-off) asking for the line
    after the last one it emitted, so each line is emitted once; the server's `end` message
    says the build is over and its log complete.
    """

    def __init__(self, api: Api, reconnect: Reconnect) -> None:
        self.api = api
        self.reconnect = reconnect
        self.position = 1
        self._lost_at: float | None = None

    async def follow(self, build_id: str, emit: Callable[[str], None], *, since: int = 1) -> Build:
        self.position = since
        # One HTTP call first: an unreachable server, a bad token or an unknown build are
        # reported exactly as for every other command.
        await self._build(build_id)
        delay = self.reconnect.first
        while True:
            try:
                await self._stream(build_id, emit)
                return await self._build(build_id)
            except CliError as exc:
                now = trio.current_time()
                lost_for = 0.0 if self._lost_at is None else now - self._lost_at
                if not exc.transient or lost_for > self.reconnect.patience:
                    raise
                if self._lost_at is None:  # each outage is announced once, and its end
                    self._lost_at, delay = now, self.reconnect.first
                    self.reconnect.notify(f"{exc.message}; retrying")
                await trio.sleep(delay)
                delay = min(delay * 2, self.reconnect.cap)

    async def _build(self, build_id: str) -> Build:
        found: Build = await self.reconnect(lambda: self.api.get(f"/api/builds/{build_id}"))
        return found

    async def _stream(self, build_id: str, emit: Callable[[str], None]) -> None:
        from trio_websocket import (  # imported here: `oore --help` stays fast
            ConnectionClosed,
            HandshakeError,
            open_websocket_url,
        )

        from oore.logs.wire import decode

        url = _websocket_url(self.api.server, f"/api/builds/{build_id}/logs/stream")
        token = self.api.token
        headers = [(b"Authorization", f"Bearer {token}".encode())] if token else []
        try:
            async with open_websocket_url(
                f"{url}?since={self.position}",
                extra_headers=headers,
                message_queue_size=64,
                receive_buffer_size=256 * 1024,  # the default, 4 KiB, is a syscall per 4 KiB
            ) as socket:
                if self._lost_at is not None:
                    self._lost_at = None
                    self.reconnect.notify("reconnected")
                while True:
                    message = decode(await socket.get_message())
                    if message["type"] == "lines":
                        self._emit(message, emit)
                    elif message["type"] == "end":
                        return
        except ConnectionClosed as exc:
            why = exc.reason
            code, text = (why.code, why.reason) if why is not None else (None, None)
            raise _closed(code, text, self.api.server) from None
        except (HandshakeError, OSError) as exc:
            raise CliError(
                f"lost the connection to {self.api.server}: {exc}. Is oored running? "
                "Check --server/OORE_SERVER",
                ExitCode.UNREACHABLE,
                transient=True,
            ) from None

    def _emit(self, message: dict[str, Any], emit: Callable[[str], None]) -> None:
        for offset, line in enumerate(message["text"].split("\n")[:-1]):
            number = message["first"] + offset
            if number >= self.position:  # a reconnect may resend lines already shown
                emit(line)
                self.position = number + 1


def _websocket_url(server: str, path: str) -> str:
    scheme, _, rest = server.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}{path}"


def _closed(code: int | None, reason: str | None, server: str) -> CliError:
    if code == 4401:
        return CliError(f"the server rejected the token: {reason}", ExitCode.AUTH)
    if code == 4403:
        return CliError(f"not allowed: {reason}", ExitCode.AUTH)
    if code == 4404:
        return CliError(f"not found: {reason}", ExitCode.NOT_FOUND)
    if code == 4410:  # retention removed the log
        return CliError(f"gone: {reason}", ExitCode.NOT_FOUND)
    # Anything else (the daemon restarting, a proxy hanging up): reconnect and resume.
    return CliError(
        f"the log stream from {server} closed ({code})", ExitCode.UNREACHABLE, transient=True
    )


def follower(api: Api, reconnect: Reconnect, *, interval: float) -> LogFollower:
    """The WebSocket follower; `interval` matters only to the polling one it replaced."""
    del interval
    return WebSocketLogFollower(api, reconnect)
