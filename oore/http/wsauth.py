"""Authentication for WebSockets: the same tokens as HTTP, refused with close codes.

A browser cannot set an Authorization header on a WebSocket, so the dashboard's session cookie
is accepted too. Refusals accept the socket and close it at once with a code a client can act
on: 4401 (no or bad credentials), 4403 (not allowed), 4404 (no such thing).
"""

from __future__ import annotations

from quart import websocket

from oore.errors import Forbidden, Unauthorized
from oore.http.auth import SESSION_COOKIE, Principal, principal_for


async def websocket_principal() -> Principal | None:
    header = websocket.headers.get("Authorization")
    if header is None and websocket.cookies.get(SESSION_COOKIE):
        header = f"Bearer {websocket.cookies[SESSION_COOKIE]}"
    try:
        return await principal_for(header)
    except Unauthorized as exc:
        await close_with(4401, exc.message)
    except Forbidden as exc:
        await close_with(4403, exc.message)
    return None


async def close_with(code: int, reason: str) -> None:
    await websocket.accept()
    # A close reason may be at most 123 bytes (RFC 6455 §5.5).
    await websocket.close(code, reason.encode()[:123].decode("utf-8", "ignore"))
