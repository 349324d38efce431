"""Hostile clients against a real daemon: what they send must not cost it memory or latency.

The WebSocket clients here are raw sockets speaking the protocol by hand, as an attacker's would:
a message's header can announce 15 MB and its mask can be zero (so the payload needs no masking).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import trio

from tests.e2e.daemon import Daemon
from tests.e2e.signin import session_id

MB = 1000 * 1000
FIXTURES = Path(__file__).parent.parent / "fixtures" / "webhooks"
PUSH = FIXTURES / "github" / "push" / "with-new-branch.payload.json"
SHARED_SECRET = "e2e-shared-webhook-secret-0123456789"


# --- raw WebSocket clients ----------------------------------------------------------------------


def frame_header(size: int, opcode: int = 0x2) -> bytes:
    """A final frame's header for `size` (> 125) bytes, with an all-zero mask."""
    # RFC 6455 5.2: the shortest length encoding that fits, or the server refuses the frame.
    length = bytes([0x80 | 126]) + size.to_bytes(2, "big") if size <= 0xFFFF else b""
    length = length or bytes([0x80 | 127]) + size.to_bytes(8, "big")
    return bytes([0x80 | opcode]) + length + b"\0\0\0\0"


@asynccontextmanager
async def raw_websocket(
    daemon: Daemon, path: str, headers: dict[str, str]
) -> AsyncIterator[tuple[bytes, AfterHead]]:
    """A WebSocket handshake on `path`: the response head and the stream after it."""
    host, port = daemon.url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = await stream.receive_some(4096)
            assert data, head
            head += data
        head, _, rest = head.partition(b"\r\n\r\n")
        # The first frames may come in the same segment as the response head: keep them.
        yield head + b"\r\n\r\n", AfterHead(stream, rest)


class AfterHead:
    """The stream after the response head, starting with whatever arrived along with it."""

    def __init__(self, stream: trio.SocketStream, rest: bytes) -> None:
        self.stream = stream
        self.rest = rest

    async def receive_some(self, max_bytes: int) -> bytes:
        if self.rest:
            data, self.rest = self.rest, b""
            return data
        return await self.stream.receive_some(max_bytes)

    async def send_all(self, data: bytes) -> None:
        await self.stream.send_all(data)


async def close_code(stream: AfterHead, within: float) -> int | None:
    """The code of the server's close frame, if it sends one within `within` seconds."""
    received = b""
    with trio.move_on_after(within):
        try:
            while data := await stream.receive_some(65536):
                received += data
                found = received.find(b"\x88")
                if found != -1 and len(received) >= found + 4:
                    return int.from_bytes(received[found + 2 : found + 4], "big")
        except trio.BrokenResourceError:
            pass
    return None


def memory(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024 / MB
    return fields


def bearer(daemon: Daemon) -> dict[str, str]:
    return {"Authorization": f"Bearer {daemon.admin_token.strip()}"}


# --- 1: WebSocket messages ----------------------------------------------------------------------


async def test_a_15_mb_websocket_message_is_refused_with_1009_and_never_held(
    daemon: Daemon,
) -> None:
    assert daemon.process is not None
    before = memory(daemon.process.pid)
    payload = b"\0" * (15 * MB)
    codes: list[int | None] = []

    async def client() -> None:
        async with raw_websocket(daemon, "/api/events", bearer(daemon)) as (head, stream):
            assert head.startswith(b"HTTP/1.1 101"), head
            try:
                for _ in range(3):  # the daemon must not wait for (or keep) the rest
                    await stream.send_all(frame_header(len(payload)) + payload)
            except trio.BrokenResourceError:
                pass
            codes.append(await close_code(stream, within=5))

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(client)
    assert codes == [1009] * 4
    grown = memory(daemon.process.pid)["VmHWM"] - before["VmHWM"]
    # Four clients' 15 MB messages used to be buffered whole and queued (63 -> 1,385 MB).
    assert grown < 15, f"peak RSS grew by {grown:.1f} MB"
    # The daemon is fine and serves others.
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        assert (await http.get("/api/health")).status_code == 200


async def test_websocket_messages_are_read_and_dropped_even_when_nobody_reads_them(
    daemon: Daemon,
) -> None:
    """Messages under the cap are discarded as they come: a client can send far more than any
    buffer holds, and the daemon's memory does not follow."""
    assert daemon.process is not None
    before = memory(daemon.process.pid)
    message = frame_header(60 * 1024) + b"\0" * (60 * 1024)
    async with raw_websocket(daemon, "/api/events", bearer(daemon)) as (head, stream):
        assert head.startswith(b"HTTP/1.1 101"), head
        with trio.fail_after(30):  # 1,000 x 60 KiB: queued unread, it used to stall for good
            for _ in range(1000):
                await stream.send_all(message)
        assert await close_code(stream, within=0.5) is None  # still open: nothing was refused
    grown = memory(daemon.process.pid)["VmHWM"] - before["VmHWM"]
    assert grown < 15, f"peak RSS grew by {grown:.1f} MB"


async def test_websockets_are_not_compressed(daemon: Daemon) -> None:
    """wsproto inflates a compressed piece whole before any size check: 64 KiB of deflated
    zeros would be 64 MB in memory at once. The daemon does not take up the client's offer."""
    offer = {**bearer(daemon), "Sec-WebSocket-Extensions": "permessage-deflate"}
    async with raw_websocket(daemon, "/api/events", offer) as (head, _):
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"sec-websocket-extensions" not in head.lower(), head


# --- 2: webhook bodies are verified before they are parsed ------------------------------------


def hostile_form(size: int) -> bytes:
    """A form-encoded delivery whose `payload` is `size` bytes of costly-to-parse JSON."""
    head = '{"repository": {"id": 1, "name": "x", "owner": {"login": "y"}}, "pad": ['
    prefix = "payload=" + quote(head)
    item = quote("0,")
    return (prefix + item * ((size - len(prefix) - 9) // len(item)) + quote("0]}")).encode()


@pytest.mark.parametrize("shared_secret", [None, SHARED_SECRET], ids=["no-shared", "shared"])
async def test_health_stays_responsive_while_25_mb_forms_with_bad_signatures_arrive(
    daemon_factory: type[Daemon], tmp_path: Path, shared_secret: str | None
) -> None:
    env = {"OORE_GITHUB_WEBHOOK_SECRET": shared_secret} if shared_secret else {}
    daemon = await daemon_factory(tmp_path, **env).start()
    body = hostile_form(25 * MB)
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "hostile",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Hub-Signature-256": "sha256=" + "0" * 64,
    }
    latencies: list[float] = []
    answers: list[int] = []
    done = trio.Event()

    async def post(http: httpx.AsyncClient) -> None:
        for _ in range(3):
            response = await http.post("/api/webhooks/github", content=body, headers=headers)
            answers.append(response.status_code)

    async def probe(http: httpx.AsyncClient) -> None:
        while not done.is_set():
            started = time.perf_counter()
            assert (await http.get("/api/health")).status_code == 200
            latencies.append(time.perf_counter() - started)
            await trio.sleep(0.05)

    async with httpx.AsyncClient(base_url=daemon.url, timeout=60) as http:
        async with httpx.AsyncClient(base_url=daemon.url, timeout=60) as health:
            with trio.fail_after(90):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(probe, health)
                    async with trio.open_nursery() as posters:
                        for _ in range(2):
                            posters.start_soon(post, http)
                    done.set()
    assert answers == [401] * 6
    assert latencies
    # Parsing the body before checking its signature blocked health for seconds (4.8 s).
    assert max(latencies) < 0.5, sorted(latencies)[-5:]
    await daemon.stop()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_a_large_delivery_is_verified_by_the_secret_its_headers_name(
    daemon: Daemon,
) -> None:
    """Over 1 MiB, a body is only taken when the headers say whose secret signs it; then it
    is checked as it arrives and parsed only once it is known to be genuine."""
    push = json.loads(PUSH.read_bytes())
    push["padding"] = "x" * (2 * 1024 * 1024)
    body = json.dumps(push).encode()
    repo_id = push["repository"]["id"]
    async with httpx.AsyncClient(base_url=daemon.url, timeout=30) as http:
        made = await http.post(
            "/api/repositories",
            headers=daemon.headers(),
            json={
                "provider": "github",
                "owner": push["repository"]["owner"]["login"],
                "name": push["repository"]["name"],
                "clone_url": "file:///nonexistent/Codertocat/Hello-World.git",  # never the network
                "github_repo_id": repo_id,
            },
        )
        assert made.status_code == 201, made.text
        secret = made.json()["webhook_secret"]

        def delivery(sign_with: str, **extra: str) -> dict[str, str]:
            return {
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": f"large-{sign_with}-{sorted(extra)}",
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(sign_with, body),
                **extra,
            }

        target = {
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-ID": str(repo_id),
        }
        unnamed = await http.post("/api/webhooks/github", content=body, headers=delivery(secret))
        assert unnamed.status_code == 401, unnamed.text
        assert "X-GitHub-Hook-Installation-Target-ID" in unnamed.json()["error"]["message"]
        wrong = await http.post(
            "/api/webhooks/github", content=body, headers=delivery("not-the-secret", **target)
        )
        assert wrong.status_code == 401, wrong.text
        accepted = await http.post(
            "/api/webhooks/github", content=body, headers=delivery(secret, **target)
        )
        assert accepted.status_code == 202, accepted.text
        # The target header is not signed: it cannot lend one repository's secret to another.
        other = dict(push, repository=dict(push["repository"], id=repo_id + 1, name="Other"))
        other_body = json.dumps(other).encode()
        lent = await http.post(
            "/api/webhooks/github",
            content=other_body,
            headers={
                **delivery(secret, **target),
                "X-Hub-Signature-256": signature(secret, other_body),
            },
        )
        assert lent.status_code == 400, lent.text


# --- 4: the session cookie only from the dashboard's origin -----------------------------------


async def test_a_cookie_websocket_is_refused_from_another_origin(daemon: Daemon) -> None:
    session = await session_id(daemon, daemon.admin_token.strip())
    cookie = {"Cookie": f"oore_session={session}"}
    refused = [
        cookie,
        {**cookie, "Origin": "https://evil.example"},
        {**cookie, "Origin": "null"},
        {**cookie, "Origin": daemon.url.replace("127.0.0.1", "localhost")},
    ]
    for headers in refused:
        async with raw_websocket(daemon, "/api/events", headers) as (head, stream):
            assert head.startswith(b"HTTP/1.1 101"), head
            assert await close_code(stream, within=5) == 4403, headers
    accepted = [
        {**cookie, "Origin": daemon.url},
        {**bearer(daemon), "Origin": "https://evil.example"},
        bearer(daemon),
    ]
    for headers in accepted:
        async with raw_websocket(daemon, "/api/events", headers) as (head, stream):
            assert head.startswith(b"HTTP/1.1 101"), head
            assert await close_code(stream, within=0.5) is None, headers
