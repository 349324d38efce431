"""Bounding what a WebSocket client can make the daemon hold in memory.

Oore's WebSockets (live logs, events) only send; nothing a client sends means anything. Left to
hypercorn and Quart, a client's messages were buffered whole (up to 16 MiB each) and queued
unread: ten in hypercorn's queue, ten in Quart's, per connection, never freed while the handler
ran (bench/RESULTS.md, "Hostile clients": over a gigabyte held for four clients). So:
- a message over `MAX_MESSAGE` is refused with a 1009 close and the connection is closed at
  once: hypercorn on its own kept the connection open, reading (and appending to its buffer)
  the rest of the message, whose size only the client chooses;
- every message that does arrive is read and discarded as it comes, so no queue fills up and a
  client's disconnect is always seen, even by a handler that never calls `receive()`;
- permessage-deflate is not offered back: wsproto inflates each received piece whole before any
  size check, so 64 KiB of compressed zeros would become 64 MB at once.
"""

from __future__ import annotations

from typing import Any, cast

from hypercorn.config import Config
from hypercorn.protocol import h2, h11, ws_stream
from hypercorn.protocol.events import Data, Event, Request, StreamClosed
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from wsproto.events import Message

MAX_MESSAGE = 64 * 1024


class _CappedBuffer(ws_stream.WebsocketBuffer):
    """hypercorn's message buffer, holding nothing once a message is over the limit."""

    def extend(self, event: Message[Any]) -> None:
        if self.length + len(event.data) > self.max_length:
            self.value = None
            self.length = self.max_length + 1  # stays over: later parts are refused too
            raise ws_stream.FrameTooLargeError()
        super().extend(event)

    @property
    def overflowed(self) -> bool:
        return self.length > self.max_length


class _CappedStream(ws_stream.WSStream):
    """hypercorn's WebSocket stream, closing the connection after refusing a message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capped = _CappedBuffer(self.config.websocket_max_message_size)
        self.buffer = self.capped

    async def handle(self, event: Event) -> None:
        await super().handle(event)
        if isinstance(event, Request) and hasattr(self, "handshake"):
            self.handshake.extensions = None  # accept without compression
        if isinstance(event, Data) and self.capped.overflowed and not self.closed:
            # hypercorn has sent the 1009 close; rather than read on until the client has
            # finished sending its message, end the connection (the app is told it is gone).
            await self.send(StreamClosed(stream_id=self.stream_id))


def limit_websockets(config: Config) -> None:
    """Cap incoming WebSocket messages at `MAX_MESSAGE` for servers run with `config`."""
    config.websocket_max_message_size = MAX_MESSAGE
    # hypercorn's protocols make their WebSocket streams from these module-level names; it has
    # no setting for what happens after a message is refused. (HTTP/3 needs aioquic: not used.)
    h11.WSStream = _CappedStream  # type: ignore[attr-defined]
    h2.WSStream = _CappedStream  # type: ignore[attr-defined]


class DiscardClientMessages:
    """ASGI middleware: a WebSocket app never sees client messages; they are read and dropped."""

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            receive = _skipping_messages(receive)
        await self.app(scope, receive, send)


def _skipping_messages(receive: ASGIReceiveCallable) -> ASGIReceiveCallable:
    async def next_event() -> Any:
        while True:
            event = cast(dict[str, Any], await receive())
            if event["type"] != "websocket.receive":
                return event

    return next_event
