"""A minimal HTTP/1.1 keep-alive load generator on trio: exactly N requests, timed one by one.

httpx spends more CPU per request than the handler under test, and on two shared cores that
would measure the client. Here each connection is one task that sends pre-serialised request
bytes (only a per-request part is spliced in), reads the answer by its status line and
Content-Length alone, and records latency from the first byte sent to the last byte received.
A request that fails is recorded with status 0 and not retried, so N stays N.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

READ_SIZE = 64 * 1024
MAX_HEAD = 64 * 1024
ERROR = 0


class ProtocolError(Exception):
    """The server's answer is not one this minimal client can read."""


@dataclass(frozen=True, slots=True)
class Reply:
    index: int
    status: int
    latency: float
    body: bytes


@dataclass(frozen=True, slots=True)
class LoadResult:
    replies: list[Reply]
    wall_seconds: float
    cpu_seconds: float
    reconnects: int


@dataclass(frozen=True, slots=True)
class PostTemplate:
    """A POST whose bytes are fixed except one header's value, which varies per request."""

    prefix: bytes
    suffix: bytes

    def render(self, value: str) -> bytes:
        return self.prefix + value.encode("latin-1") + self.suffix


def post_template(
    url: str, path: str, headers: Mapping[str, str], varying: str, body: bytes
) -> PostTemplate:
    """Serialise `POST path` once; `varying` is the header whose value `render` fills in."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {urlsplit(url).netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", f"{varying}: "]
    prefix = "\r\n".join(lines).encode("latin-1")
    return PostTemplate(prefix, b"\r\n\r\n" + body)


class Connection:
    """One keep-alive connection; `exchange` sends a request and reads its whole answer."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """(status, body, keep_alive) for one request."""
        await self._stream.send_all(request)
        head = await self._read_head()
        status, length, keep_alive = parse_head(head)
        body = await self._read_exactly(length)
        return status, body, keep_alive

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def _read_head(self) -> bytes:
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > MAX_HEAD:
                raise ProtocolError(f"response head over {MAX_HEAD} bytes")
            await self._fill()
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        return head

    async def _read_exactly(self, length: int) -> bytes:
        while len(self._buffer) < length:
            await self._fill()
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body

    async def _fill(self) -> None:
        data = await self._stream.receive_some(READ_SIZE)
        if not data:
            raise ProtocolError("the server closed the connection mid-response")
        self._buffer += data


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, keep_alive) from an HTTP/1.1 response head."""
    status_line, *header_lines = head.split(b"\r\n")
    version, status, *_ = status_line.split(b" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        raise ProtocolError("chunked responses are not supported")
    keep_alive = version == b"HTTP/1.1" and headers.get(b"connection") != b"close"
    return int(status), int(headers.get(b"content-length", b"0")), keep_alive


async def run_load(
    url: str,
    build: Callable[[int], bytes],
    count: int,
    connections: int,
    rate: float | None = None,
) -> LoadResult:
    """Send requests `build(0)` .. `build(count - 1)` over `connections` connections.

    Closed loop (`rate` None): each connection sends its next request as soon as it has the
    answer to the last, so this measures the most the server sustains. Open loop: request i is
    due at start + i / rate, sent by the next free connection, and its latency counts from when
    it was due (a late send is the server's delay too: no coordinated omission).
    Bound it at the call site (`trio.fail_after`): a server that stops answering stops this.
    """
    host, port = _address(url)
    indexes = iter(range(count))
    replies: list[Reply] = []
    reconnects = [0]
    started, cpu_started = time.perf_counter(), time.process_time()
    schedule = None if rate is None else _Schedule(trio.current_time() + 0.01, rate)
    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(_worker, host, port, build, indexes, replies, reconnects, schedule)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return LoadResult(sorted(replies, key=lambda r: r.index), wall, cpu, reconnects[0])


async def _worker(
    host: str,
    port: int,
    build: Callable[[int], bytes],
    indexes: Iterator[int],
    replies: list[Reply],
    reconnects: list[int],
    schedule: _Schedule | None,
) -> None:
    connection = Connection(await trio.open_tcp_stream(host, port))
    try:
        for index in indexes:
            due = None
            if schedule is not None:
                due = schedule.due(index)
                await trio.sleep_until(due)
            reply, keep_alive = await _one(connection, index, build(index), due)
            replies.append(reply)
            if not keep_alive:
                await connection.aclose()
                connection = Connection(await trio.open_tcp_stream(host, port))
                reconnects[0] += 1
    finally:
        await connection.aclose()


async def _one(
    connection: Connection, index: int, request: bytes, due: float | None
) -> tuple[Reply, bool]:
    started = trio.current_time() if due is None else due
    try:
        status, body, keep_alive = await connection.exchange(request)
    except (OSError, trio.BrokenResourceError, ProtocolError, ValueError) as exc:
        return Reply(index, ERROR, trio.current_time() - started, repr(exc).encode()), False
    return Reply(index, status, trio.current_time() - started, body), keep_alive


@dataclass(frozen=True, slots=True)
class _Schedule:
    start: float  # trio time
    rate: float  # requests per second

    def due(self, index: int) -> float:
        return self.start + index / self.rate


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise ValueError(f"need an http://host:port URL, got {url!r}")
    return parts.hostname, parts.port
