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

import httpx
import trio

from oore import __version__
from oore.errors import Forbidden, Unavailable
from oore.settingstable import is_private_host

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def provider_client(*, allow_private: bool) -> httpx.AsyncClient:
    """A client for provider APIs; close it (``async with``) when done."""
    hooks = [] if allow_private else [_refuse_private]
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": f"oore/{__version__}"},
        event_hooks={"request": hooks},
    )


async def _refuse_private(request: httpx.Request) -> None:
    host = request.url.host
    if is_private_host(host):
        raise Forbidden(_refused(host))
    try:
        infos = await trio.socket.getaddrinfo(host, request.url.port or 443)
    except OSError as exc:  # socket.gaierror: the name does not resolve (now)
        raise Unavailable(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    for *_, address in infos:
        if is_private_host(str(address[0])):
            raise Forbidden(_refused(host))


def _refused(host: str) -> str:
    return (
        f"{host} is a private, loopback or link-local address: Oore does not send provider "
        "credentials there unless OORE_ALLOW_PRIVATE_PROVIDERS=1"
    )
