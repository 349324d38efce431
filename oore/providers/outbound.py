"""The one way Oore talks to a provider's API: an httpx client that refuses private addresses.

A provider URL is configured (`OORE_GITHUB_URL`, `OORE_GITHUB_API_URL`, `OORE_GITLAB_URL`) and
the settings already refuse plain http and private literal addresses. A host *name* can still
resolve to one (a self-managed GitLab's name pointed at 169.254.169.254, say), so every request
is checked again where it is sent: the host is resolved and each address must be public, unless
`OORE_ALLOW_PRIVATE_PROVIDERS` is set (which is how tests reach their local stand-ins).
Redirects are not followed: a provider API answers where it was asked. The connection goes to
the addresses checked, not to the name looked up a second time (oore.providers.pinned), so a DNS
answer that changes in between cannot point it inside this machine's network.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import trio

from oore import __version__
from oore.errors import Forbidden, Unavailable
from oore.settingstable import is_private_host

if TYPE_CHECKING:
    import httpx

    from oore.providers.pinned import Resolve

TIMEOUT_SECONDS, CONNECT_SECONDS = 30.0, 10.0


def provider_client(
    *,
    allow_private: bool,
    verify: ssl.SSLContext | None = None,
    guard: Resolve | None = None,
) -> httpx.AsyncClient:
    """A client for provider APIs; close it (``async with``) when done. A sender that makes
    many clients passes one `verify` context: building one costs tens of milliseconds.

    Unless private addresses are allowed, every connection goes to addresses `guard` (by
    default `public_addresses`) checked, never to the name looked up again (oore.providers.
    pinned). httpx is imported here, on the first outbound call, not with this module: it is
    about 4 MiB of memory that a daemon with nothing to fetch or report does not need."""
    import httpx

    from oore.providers.pinned import public_only

    tls: ssl.SSLContext | bool = verify if verify is not None else True
    transport = None if allow_private else public_only(tls, guard or public_addresses)
    return httpx.AsyncClient(
        verify=tls,
        transport=transport,
        timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS),
        follow_redirects=False,
        headers={"User-Agent": f"oore/{__version__}"},
    )


async def public_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, each public: `Forbidden` when one is not, `Unavailable`
    when the name does not resolve. Also the SMTP channel's guard, which connects to them."""
    if is_private_host(host):
        raise Forbidden(_refused(host))
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_STREAM)
    except OSError as exc:  # socket.gaierror: the name does not resolve (now)
        raise Unavailable(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    addresses = list(dict.fromkeys(str(address[0]) for *_, address in infos))
    if any(is_private_host(address) for address in addresses):
        raise Forbidden(_refused(host))
    return addresses


def _refused(host: str) -> str:
    return (
        f"{host} is a private, loopback or link-local address: Oore does not send provider "
        "credentials there unless OORE_ALLOW_PRIVATE_PROVIDERS=1"
    )
