"""Hostile clients: daemon memory and /api/health latency while clients try to exhaust it.

Targets (issue 10): while 4 WebSocket clients send 15 MB messages the server never reads and 8
clients post 25 MB webhooks that are not validly signed, the daemon's RSS stays <= 150 MB and the
/api/health p99 stays <= 50 ms.

The attackers run in a process of their own, on raw sockets (as an attacker's would; the frame
mask is all zero, so 15 MB need no masking), and reconnect or post again as soon as the daemon
answers or closes. The WebSocket clients use the events stream (`/api/events`) with the admin
token: it stays open as long as the client wants, so it is where unread messages could pile up
(an unauthenticated socket is closed at once). Half the webhook clients send no signature, half
a wrong one; every body is a form-encoded GitHub delivery whose `payload` is 25 MB of JSON (a
long array, costly to parse: the shape that used to be parsed before the signature was checked).
With `--shared-secret` the daemon has OORE_GITHUB_WEBHOOK_SECRET set, so a wrongly signed body
must be read and hashed to be refused; without it, a 25 MB body that names no repository in its
headers is refused on its headers. This process asks /api/health every 20 ms and samples the
daemon's RSS every 100 ms; `rss_after_mib` is taken `--settle` seconds after the attack.
Run: .venv/bin/python -m bench.hostile [--seconds 20] [--repeat 3] [--shared-secret]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import trio

from bench.common import RunningDaemon, daemon, median_figures, peak_rss_mib, summary_ms

MB = 1000 * 1000
FRAME_BYTES = 15 * MB
WEBHOOK_BYTES = 25 * MB
WS_CLIENTS = 4
WEBHOOK_CLIENTS = 8
HEALTH_EVERY = 0.02
# A binary message's header with a 64-bit length and an all-zero mask (XOR with zero leaves the
# payload as it is, so the client need not mask 15 MB per message).
FRAME_HEADER = b"\x82\xff" + FRAME_BYTES.to_bytes(8, "big") + b"\0\0\0\0"
FRAME = b"\0" * FRAME_BYTES
RSS_EVERY = 0.1
TARGETS = {"rss_peak_mib": 150, "health_p99_ms": 50}
SHARED_SECRET = "bench-shared-secret-0123456789"


def webhook_body(size: int) -> bytes:
    """A form-encoded push delivery, padded with a JSON array to `size` bytes."""
    head = {"ref": "refs/heads/main", "repository": {"id": 1, "name": "x", "owner": {"login": "y"}}}
    prefix = "payload=" + quote(json.dumps(head)[:-1] + ',"pad":[')
    suffix = quote("0]}")
    item = quote("0,")
    count = (size - len(prefix) - len(suffix)) // len(item)
    body = (prefix + item * count + suffix).encode()
    return body + b"&x=" + b"0" * max(0, size - len(body) - 3)


class Figures:
    def __init__(self) -> None:
        self.health: list[float] = []
        self.health_errors = 0
        self.rss: list[float] = []
        self.ws_connections = 0
        self.ws_frames_sent = 0
        self.ws_close_codes: dict[str, int] = {}
        self.webhook_answers: dict[str, int] = {}


async def probe_health(client: httpx.AsyncClient, deadline: float, figures: Figures) -> None:
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = await client.get("/api/health")
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        figures.health.append(time.perf_counter() - started)
        figures.health_errors += not ok
        await trio.sleep(HEALTH_EVERY)


async def sample_rss(running: RunningDaemon, deadline: float, figures: Figures) -> None:
    while time.monotonic() < deadline:
        figures.rss.append(running.rss_mib())
        await trio.sleep(RSS_EVERY)


async def websocket_client(running: RunningDaemon, deadline: float, figures: Figures) -> None:
    while time.monotonic() < deadline:
        with trio.move_on_at(_trio_deadline(deadline)):
            code = await _one_connection(running, figures)
            figures.ws_close_codes[code] = figures.ws_close_codes.get(code, 0) + 1


async def _one_connection(running: RunningDaemon, figures: Figures) -> str:
    """One WebSocket that sends 15 MB messages until the server ends it; how it ended."""
    try:
        stream = await _connect(running.url)
    except OSError as exc:
        await trio.sleep(0.05)
        return type(exc).__name__
    async with stream:
        await stream.send_all(_upgrade(running))
        answer = await _read_head(stream)
        if not answer.startswith(b"HTTP/1.1 101"):
            return answer.split(b"\r\n", 1)[0].decode()
        figures.ws_connections += 1
        try:
            while True:
                await stream.send_all(FRAME_HEADER)
                await stream.send_all(FRAME)
                figures.ws_frames_sent += 1
        except trio.BrokenResourceError:
            pass
        return await _close_code(stream)


async def _connect(url: str) -> trio.SocketStream:
    host, port = url.removeprefix("http://").split(":")
    return await trio.open_tcp_stream(host, int(port))


def _upgrade(running: RunningDaemon) -> bytes:
    host = running.url.removeprefix("http://")
    return (
        f"GET /api/events HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {running.admin_token}\r\n\r\n"
    ).encode()


async def _read_head(stream: trio.SocketStream) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        data = await stream.receive_some(4096)
        if not data:
            break
        head += data
    return head


async def _close_code(stream: trio.SocketStream) -> str:
    """The code of the close frame among what the server sent (its messages are skipped)."""
    received = b""
    try:
        with trio.move_on_after(2):
            while data := await stream.receive_some(65536):
                received += data
    except trio.BrokenResourceError:
        pass
    found = received.find(b"\x88")
    while found != -1:
        if found + 4 <= len(received) and 2 <= received[found + 1] <= 125:
            return str(int.from_bytes(received[found + 2 : found + 4], "big"))
        found = received.find(b"\x88", found + 1)
    return "no close frame"


async def webhook_client(
    url: str, deadline: float, figures: Figures, body: bytes, signed: bool
) -> None:
    host = url.removeprefix("http://")
    signature = f"X-Hub-Signature-256: sha256={'0' * 64}\r\n" if signed else ""
    head = (
        f"POST /api/webhooks/github HTTP/1.1\r\nHost: {host}\r\nX-GitHub-Event: push\r\n"
        "X-GitHub-Delivery: hostile\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"{signature}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    while time.monotonic() < deadline:
        with trio.move_on_at(_trio_deadline(deadline)):
            answer = await _post(url, head, body)
            figures.webhook_answers[answer] = figures.webhook_answers.get(answer, 0) + 1


async def _post(url: str, head: bytes, body: bytes) -> str:
    """Send one delivery; the answer's status, or how the connection failed."""
    try:
        stream = await _connect(url)
    except OSError as exc:
        await trio.sleep(0.05)
        return type(exc).__name__
    async with stream:
        try:
            await stream.send_all(head + body)
            status = (await _read_head(stream)).split(b"\r\n", 1)[0]
        except trio.BrokenResourceError:
            return "reset while sending"
        return status.split(b" ")[1].decode() if status else "closed"


def _trio_deadline(monotonic_deadline: float) -> float:
    return trio.current_time() + (monotonic_deadline - time.monotonic())


async def attack(
    running: RunningDaemon, seconds: float, ws_clients: int, webhook_clients: int
) -> Figures:
    """The attacking clients, in this process (the `--attacker` mode)."""
    figures = Figures()
    body = webhook_body(WEBHOOK_BYTES)
    deadline = time.monotonic() + seconds
    async with trio.open_nursery() as nursery:
        for _ in range(ws_clients):
            nursery.start_soon(websocket_client, running, deadline, figures)
        for i in range(webhook_clients):
            nursery.start_soon(webhook_client, running.url, deadline, figures, body, i % 2 == 0)
    return figures


async def observe(running: RunningDaemon, seconds: float) -> Figures:
    """Health latency and RSS, from a process of their own: the attackers' work (and any pause
    of their event loop) must not count as the daemon's latency."""
    figures = Figures()
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as health:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample_rss, running, deadline, figures)
            nursery.start_soon(probe_health, health, deadline, figures)
    return figures


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    env = {"OORE_GITHUB_WEBHOOK_SECRET": SHARED_SECRET} if args.shared_secret else {}
    with daemon(**env) as running:
        time.sleep(1)
        idle = running.rss_mib()
        target = json.dumps([running.url, running.admin_token, running.pid])
        command = [sys.executable, "-m", "bench.hostile", "--attacker", target]
        options = ["--seconds", str(args.seconds), "--ws-clients", str(args.ws_clients)]
        options += ["--webhook-clients", str(args.webhook_clients)]
        attackers = subprocess.Popen([*command, *options], stdout=subprocess.PIPE)
        figures = trio.run(observe, running, args.seconds)
        attacked = json.loads(attackers.communicate(timeout=args.seconds + 30)[0])
        time.sleep(args.settle)
        after = running.rss_mib()
        hwm = peak_rss_mib(running.pid)
    health = summary_ms(figures.health)
    return {
        "idle_rss_mib": round(idle, 1),
        "rss_peak_mib": round(max(figures.rss), 1),
        "rss_hwm_mib": round(hwm, 1),
        "rss_after_mib": round(after, 1),
        "health_p50_ms": health["p50_ms"],
        "health_p99_ms": health["p99_ms"],
        "health_max_ms": health["max_ms"],
        "health_requests": health["count"],
        "health_errors": figures.health_errors,
        **attacked,
    }


def run_attacker(args: argparse.Namespace) -> None:
    url, token, pid = json.loads(args.attacker)
    running = RunningDaemon(url, pid, Path(), token)
    figures = trio.run(attack, running, args.seconds, args.ws_clients, args.webhook_clients)
    print(
        json.dumps(
            {
                "ws_connections": figures.ws_connections,
                "ws_messages_sent_whole": figures.ws_frames_sent,
                "ws_close_codes": figures.ws_close_codes,
                "webhook_answers": figures.webhook_answers,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--settle", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ws-clients", type=int, default=WS_CLIENTS)
    parser.add_argument("--webhook-clients", type=int, default=WEBHOOK_CLIENTS)
    parser.add_argument(
        "--shared-secret",
        action="store_true",
        help="set OORE_GITHUB_WEBHOOK_SECRET, so a wrongly signed body must be read and hashed",
    )
    parser.add_argument("--attacker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attacker:
        run_attacker(args)
        return
    runs = []
    for _ in range(args.repeat):
        runs.append(one_run(args))
        print(json.dumps(runs[-1]), flush=True)
    medians = median_figures(runs)
    met = {k: medians.get(k) is not None and medians[k] <= v for k, v in TARGETS.items()}  # type: ignore[operator]
    print(json.dumps({"runs": len(runs), "medians": medians, "targets_met": met}, indent=2))


if __name__ == "__main__":
    main()
