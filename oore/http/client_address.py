"""Who a request comes from: the connection's address or, when the connection is from a reverse
proxy the admin trusts (OORE_TRUSTED_PROXIES), the client that proxy says it forwarded for.

Only named proxies are believed: anyone else can write any address into `X-Forwarded-For`.
The header is read from its right end, where each proxy appends the address that connected to
it; the first address there that is not itself a trusted proxy is the client. Something that is
no address there leaves the last proxy's address: a proxy writes what it saw, so the left part
of the header, which the client wrote, is never reached. What this feeds: the sign-in throttle
(one key per client, not one for everyone behind the proxy) and the logs that name a source.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
HEADER = "X-Forwarded-For"
MAX_ADDRESS = 64  # "[" + the longest IPv6 text (45) + "]:65535", with room to spare


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The client's address: `peer` (the connection's) unless a trusted proxy forwarded for
    someone; `forwarded_for` is every `X-Forwarded-For` header value, in order."""
    if not peer:
        return "unknown"
    believed = _address(peer)
    if not trusted or believed is None or not _is_trusted(believed, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        believed = address
        if not _is_trusted(address, trusted):
            break
    return str(believed)


def from_scope(scope: dict[str, object], trusted: Sequence[Network]) -> str:
    """`client_address` of an ASGI request scope."""
    client = scope.get("client")
    peer = str(client[0]) if isinstance(client, (tuple, list)) and client else None
    if not trusted:
        return peer or "unknown"
    raw = scope.get("headers")
    values = [
        value.decode("latin-1")
        for name, value in (raw if isinstance(raw, (list, tuple)) else [])
        if name.lower() == b"x-forwarded-for"
    ]
    return client_address(peer, values, trusted)


def throttle_key(address: str) -> str:
    """What sign-in attempts are counted by: the address, or for IPv6 its /64 (one host
    usually holds a whole /64, and could otherwise take a new key at every attempt)."""
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


def _address(text: str) -> Address | None:
    """An address as proxies write it: bare, `[v6]` or `[v6]:port`, `v4:port`; no zone id
    (`fe80::1%eth0`: ipaddress takes any text after the `%`, newlines included)."""
    text = text.strip()
    if len(text) > MAX_ADDRESS or "%" in text:
        return None
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # an IPv4 address with a port
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)
