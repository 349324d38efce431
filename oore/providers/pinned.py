"""Outbound connections that go only where the private-address guard looked.

Checking a name's addresses and then letting the HTTP client look the name up again leaves a
gap: a name whose DNS answer changes in between (rebinding: a public address for the check, then
127.0.0.1 or 169.254.169.254) would take a request, and its credentials, inside this machine's
network. So the connection is opened here, to the addresses the guard checked, never by name;
TLS still verifies the certificate against the name (httpcore passes it as server_hostname).

httpx has no argument for a network backend, so `public_only` sets it on the transport's pool
(httpcore's `AsyncConnectionPool._network_backend`, as of httpx 0.28 and httpcore 1.0, the
versions installed here); tests/providers/test_outbound.py fails if that stops taking effect.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

Resolve = Callable[[str, int], Awaitable[list[str]]]
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)  # httpcore's SOCKET_OPTION


class PublicOnly(httpcore.AsyncNetworkBackend):
    def __init__(self, resolve: Resolve) -> None:
        self._resolve = resolve
        self._trio = httpcore.TrioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception = httpcore.ConnectError(f"{host} has no address to connect to")
        for address in await self._resolve(host, port):
            try:
                return await self._trio.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Oore makes no outbound calls over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._trio.sleep(seconds)


def public_only(verify: ssl.SSLContext | bool, resolve: Resolve) -> httpx.AsyncHTTPTransport:
    """A transport that connects only to the addresses `resolve` (the guard) returns."""
    transport = httpx.AsyncHTTPTransport(verify=verify)
    pool = typing.cast(typing.Any, transport)._pool
    pool._network_backend = PublicOnly(resolve)
    return transport
