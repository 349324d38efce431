"""The provider client refuses private addresses where it sends, by what a name resolves to."""

from __future__ import annotations

import ipaddress
import socket

import httpx
import pytest

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
