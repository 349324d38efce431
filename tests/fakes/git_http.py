"""A private git host on loopback: git's smart HTTP (`git http-backend`) behind a tiny server.

The server answers 401 to any request whose ``Authorization`` header is not exactly the expected
one, as GitHub and GitLab do for a private repository, and otherwise runs git's own CGI program
for it, so the daemon fetches over the real protocol. Each request is recorded (method, path,
whether it was authorised) and may be held a while, so a test can watch the processes of a fetch
in flight. Start it in the test's nursery: ``server = await nursery.start(serve_git_http, ...)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import trio

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
MAX_HEAD = 64 * 1024
REFUSED = (
    b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="private"\r\n'
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    authorised: bool


@dataclass(slots=True)
class GitHttpServer:
    repos: dict[str, Path]  # URL name ("app.git") -> the git directory served under it
    authorization: str | None  # the exact header value required; None: a public host
    hold: float = 0.0  # seconds each authorised request waits before it is answered
    port: int = 0
    seen: list[Seen] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def serve(self, *, task_status: trio.TaskStatus[GitHttpServer]) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            try:
                request = await _read_request(stream)
            except (ValueError, trio.BrokenResourceError):
                return
            await stream.send_all(await self._answer(request))

    async def _answer(self, request: Request) -> bytes:
        authorised = self.authorization is not None and (
            request.headers.get("authorization") == self.authorization
        )
        self.seen.append(Seen(request.method, request.path, authorised))
        if self.authorization is not None and not authorised:
            return REFUSED
        await trio.sleep(self.hold)
        name, _, rest = request.path.lstrip("/").partition("/")
        gitdir = self.repos.get(name)
        if gitdir is None:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        return await _run_backend(gitdir, rest, request)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


async def serve_git_http(
    repos: dict[str, Path],
    authorization: str | None,
    *,
    hold: float = 0.0,
    task_status: trio.TaskStatus[GitHttpServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    await GitHttpServer(repos, authorization, hold).serve(task_status=task_status)


async def _read_request(stream: trio.SocketStream) -> Request:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = await stream.receive_some(65536)
        if not chunk or len(buffer) > MAX_HEAD:
            raise ValueError("no complete request head")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    path, _, query = target.partition("?")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(stream, rest)
    else:
        body = await _read_exactly(stream, rest, int(headers.get("content-length", "0")))
    return Request(method, path, query, headers, body)


async def _read_exactly(stream: trio.SocketStream, buffer: bytes, size: int) -> bytes:
    while len(buffer) < size:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise ValueError("body cut short")
        buffer += chunk
    return buffer[:size]


async def _read_chunked(stream: trio.SocketStream, buffer: bytes) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in buffer:
            buffer += await _more(stream)
        size_line, _, buffer = buffer.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(buffer) < size + 2:
            buffer += await _more(stream)
        body += buffer[:size]
        buffer = buffer[size + 2 :]
        if size == 0:
            return body


async def _more(stream: trio.SocketStream) -> bytes:
    chunk = await stream.receive_some(65536)
    if not chunk:
        raise ValueError("chunked body cut short")
    return chunk


async def _run_backend(gitdir: Path, rest: str, request: Request) -> bytes:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(gitdir.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "REQUEST_METHOD": request.method,
        "PATH_INFO": f"/{gitdir.name}/{rest}",
        "QUERY_STRING": request.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(request.body)),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_CONTENT_ENCODING": request.headers.get("content-encoding", ""),
        "HTTP_GIT_PROTOCOL": request.headers.get("git-protocol", ""),
    }
    done = await trio.run_process(
        [HTTP_BACKEND], stdin=request.body, capture_stdout=True, env=env, check=True
    )
    head, _, body = done.stdout.partition(b"\r\n\r\n")  # CGI: headers, blank line, body
    status = b"200 OK"
    headers = []
    for line in head.splitlines():
        if line.lower().startswith(b"status:"):
            status = line.split(b":", 1)[1].strip()
        else:
            headers.append(line)
    lines = [b"HTTP/1.1 " + status, *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
