"""A TCP proxy between `oore` and the daemon that a test can break: stop it (every connection
dropped, new ones refused), start it again on the same port, or cut the next log response in
the middle of its body."""

from __future__ import annotations

import trio

CHUNK = 65536


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.starts = 0
        self.cuts = 0
        self.cut_next_log = False
        self._scope: trio.CancelScope | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until `stop()`; the first start picks a port, later ones reuse it."""
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        self.starts += 1
        with trio.CancelScope() as self._scope:
            async with trio.open_nursery() as nursery:
                task_status.started()
                await trio.serve_listeners(self._relay, listeners, handler_nursery=nursery)

    def stop(self) -> None:
        assert self._scope is not None
        self._scope.cancel()

    async def _relay(self, client: trio.SocketStream) -> None:
        upstream = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
        requests: list[bytes] = []
        async with client, upstream, trio.open_nursery() as nursery:

            async def upward() -> None:
                async for data in client:
                    requests.append(data)
                    await upstream.send_all(data)
                nursery.cancel_scope.cancel()

            async def downward() -> None:
                pending = b""
                async for data in upstream:
                    if not (self.cut_next_log and b"/log?" in requests[-1]):
                        await client.send_all(data)
                        continue
                    pending += data
                    cut = _all_but_last_body_byte(pending)
                    if cut is None:
                        continue  # not all of this response is here yet
                    if cut == len(pending):  # an empty body cannot be cut in the middle
                        await client.send_all(pending)
                        pending = b""
                        continue
                    self.cut_next_log = False
                    self.cuts += 1
                    await client.send_all(pending[:cut])
                    nursery.cancel_scope.cancel()
                    return
                nursery.cancel_scope.cancel()

            nursery.start_soon(upward)
            nursery.start_soon(downward)


def _all_but_last_body_byte(response: bytes) -> int | None:
    """How many bytes to pass on to leave the body one byte short; None until all arrived."""
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if len(body) < length:
        return None
    return len(head) + len(sep) + max(length - 1, 0) if length else len(response)
