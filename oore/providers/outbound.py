"""The one way Oore talks to a provider's API: an httpx client that refuses private addresses.

A provider URL is configured (`OORE_GITHUB_URL`, `OORE_GITHUB_API_URL`, `OORE_GITLAB_URL`) and
the settings already refuse plain http and private literal addresses. A host *name* can still
resolve to one (a self-managed GitLab's name pointed at 169.254.169.254, say), so every request
is checked again where it is sent: the host is resolved and each address must be public, unless
`OORE_ALLOW_PRIVATE_PROVIDERS` is set (which is how tests reach their local stand-ins).
Redirects are not followed: a provider API answers where it was asked. (httpx resolves the name
again to connect, so a hostile DNS server could still answer differently the second time; the
settings' https requirement is what protects the credentials then.)
"""

from __future__ import annotations

import ssl

import httpx
import trio

from oore import __version__
from oore.errors import Forbidden, Unavailable
from oore.settingstable import is_private_host

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def provider_client(
    *, allow_private: bool, verify: ssl.SSLContext | None = None
) -> httpx.AsyncClient:
    """A client for provider APIs; close it (``async with``) when done. A sender that makes
    many clients passes one `verify` context: building one costs tens of milliseconds."""
    hooks = [] if allow_private else [_refuse_private]
    return httpx.AsyncClient(
        verify=verify if verify is not None else True,
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": f"oore/{__version__}"},
        event_hooks={"request": hooks},
    )


async def _refuse_private(request: httpx.Request) -> None:
    await public_addresses(request.url.host, request.url.port or 443)


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
