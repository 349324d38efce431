"""The provider client refuses private addresses where it sends, by what a name resolves to."""

from __future__ import annotations

import functools
import ipaddress
import socket

import httpx
import pytest
import trio

from oore.errors import Forbidden
from oore.providers.outbound import provider_client


async def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    name = socket.gethostname()  # this machine: resolves (via /etc/hosts) without any DNS server
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 443)}
    if any(ipaddress.ip_address(a).is_global for a in addresses):
        pytest.skip(f"{name} resolves to a public address here")
    async with provider_client(allow_private=False) as http:
        with pytest.raises(Forbidden, match="OORE_ALLOW_PRIVATE_PROVIDERS=1"):
            await http.get(f"https://{name}:9/api/v4/projects")
        with pytest.raises(Forbidden):
            await http.get("http://[::ffff:127.0.0.1]:9/")


async def test_allowed_private_hosts_are_reached() -> None:
    async with provider_client(allow_private=True) as http:
        # Nothing listens on port 9 (discard): reached, and refused by the kernel, not by us.
        with pytest.raises(httpx.ConnectError):
            await http.get("http://127.0.0.1:9/")


async def test_the_connection_goes_to_the_address_the_guard_checked_never_a_new_lookup() -> None:
    # `.invalid` never resolves (RFC 6761): only a connection to the guard's answer succeeds.
    checked: list[tuple[str, int]] = []
    seen: list[bytes] = []

    async def guard(host: str, port: int) -> list[str]:
        checked.append((host, port))
        return ["127.0.0.1"]

    async def answer(stream: trio.SocketStream) -> None:
        seen.append(await stream.receive_some(65536))
        await stream.send_all(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        )
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, answer, 0, host="127.0.0.1")
        [listener] = await nursery.start(serve)
        port = listener.socket.getsockname()[1]
        async with provider_client(allow_private=False, guard=guard) as http:
            response = await http.get(f"http://rebinding.invalid:{port}/hook")
        nursery.cancel_scope.cancel()
    assert response.text == "ok"
    assert checked == [("rebinding.invalid", port)]
    assert f"host: rebinding.invalid:{port}".encode() in seen[0].lower()


async def test_a_guard_refusing_at_connect_time_stops_the_request() -> None:
    async def guard(host: str, port: int) -> list[str]:
        raise Forbidden(f"{host} now resolves to 127.0.0.1")

    async with provider_client(allow_private=False, guard=guard) as http:
        with pytest.raises(Forbidden, match="now resolves to"):
            await http.get("https://hooks.example.com/x")
