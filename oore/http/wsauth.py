"""Authentication for WebSockets: the same tokens as HTTP, refused with close codes.

A browser cannot set an Authorization header on a WebSocket, so the dashboard's session cookie
(a random session id, dashboard/sessions.py) is accepted too. Refusals accept the socket and
close it at once with a code a client can act on: 4401 (no or bad credentials), 4403 (not
allowed), 4404 (no such thing).

Browsers send cookies with WebSocket handshakes from any page and the same-origin policy does
not apply to WebSockets, so a page on another site could open one with the operator's cookie
(cross-site WebSocket hijacking). A cookie is therefore only accepted from a page whose Origin
is OORE_BASE_URL's; a bearer token, which a page cannot send on its own, needs no such check.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import websocket

from oore.errors import Forbidden, Unauthorized
from oore.http.auth import SESSION_COOKIE, Principal, principal_for, session_principal
from oore.http.services import services

DEFAULT_PORTS = {"http": 80, "https": 443}


async def websocket_principal() -> Principal | None:
    header = websocket.headers.get("Authorization")
    try:
        if header is None and websocket.cookies.get(SESSION_COOKIE):
            _check_origin(websocket.headers.get("Origin"), services().settings.base_url)
            return await _cookie_principal(websocket.cookies[SESSION_COOKIE])
        return await principal_for(header)
    except Unauthorized as exc:
        await close_with(4401, exc.message)
    except Forbidden as exc:
        await close_with(4403, exc.message)
    return None


async def _cookie_principal(session_id: str) -> Principal:
    found = await session_principal(session_id)
    if found is None:
        raise Unauthorized("the dashboard session expired or was ended; sign in again at /login")
    return found


async def close_with(code: int, reason: str) -> None:
    await websocket.accept()
    # A close reason may be at most 123 bytes (RFC 6455 §5.5).
    await websocket.close(code, reason.encode()[:123].decode("utf-8", "ignore"))


def _check_origin(origin: str | None, base_url: str) -> None:
    expected = origin_of(base_url)
    if origin is None or expected is None or origin_of(origin) != expected:
        # Kept short: a close reason holds at most 123 bytes.
        raise Forbidden(
            f"session cookie refused from {(origin or 'no Origin')[:40]}; "
            f"only {_shown(base_url)} (OORE_BASE_URL) may use it"
        )


def origin_of(url: str) -> tuple[str, str, int | None] | None:
    """The (scheme, host, port) a URL or an Origin header names; None when it names none.
    Also used by the dashboard's sign-in form, whose CSRF check is the same comparison."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def _shown(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"
