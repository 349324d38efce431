"""Reading a webhook delivery's body in the fast path, bounded by what it could still be worth.

The body is read as it arrives, 64 KiB at a time, and only kept while it may be accepted:
- refused on its headers alone (no signature, say): read and dropped, so the client still gets
  its answer but the daemon holds none of it;
- when the headers say which secret must sign it: HMAC-ed as it arrives, so a large body whose
  signature is wrong is refused without ever being joined into one block (a 25 MB join per
  hostile request fragmented the heap: RSS grew by several bodies' worth);
- when they do not: kept only up to what the intake will parse unverified; the rest is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, cast

from hypercorn.typing import ASGIReceiveCallable

from oore.errors import ClientDisconnected
from oore.http.errors import too_large
from oore.webhooks.intake import Headers


@dataclass(frozen=True, slots=True)
class Received:
    chunks: list[bytes]  # empty when the body was not kept
    size: int
    digest: str | None  # hex HMAC-SHA256 with the expected secret, when one was given

    def raw(self) -> bytes:
        return b"".join(self.chunks)


async def receive_body(
    receive: ASGIReceiveCallable,
    headers: Headers,
    limit: int,
    *,
    secret: bytes | None = None,
    keep_up_to: int | None = None,
) -> Received:
    """Read the body; keep at most `keep_up_to` bytes (all when None, none when 0)."""
    declared = headers.get("Content-Length")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    hasher = hmac.new(secret, digestmod=hashlib.sha256) if secret is not None else None
    chunks: list[bytes] = []
    size = 0
    keep = keep_up_to is None or keep_up_to > 0
    while True:
        message = cast(dict[str, Any], await receive())
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("the client went away while sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        if hasher is not None:
            hasher.update(chunk)
        if keep and keep_up_to is not None and size > keep_up_to:
            keep = False
            chunks.clear()
        if keep:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return Received(chunks, size, hasher.hexdigest() if hasher is not None else None)
