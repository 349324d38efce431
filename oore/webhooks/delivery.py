"""What a stored delivery's raw body means: the JSON document inside it, and its identity.

GitHub may be set to send `application/x-www-form-urlencoded` bodies whose `payload` field holds
the JSON (https://docs.github.com/en/webhooks/using-webhooks/creating-webhooks#content-type);
the signature covers the raw body, so the raw body is what we store and verify, and this module
is the one place that unwraps it, at receipt and again when the ingester processes the event.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs

import trio

from oore.webhooks._json import PayloadError, read_object

FORM = "application/x-www-form-urlencoded"
# Bodies up to this size are parsed on the event loop (well under a millisecond); larger ones in
# a worker thread, so that one big delivery cannot stall every other request.
ON_LOOP_BYTES = 64 * 1024


def json_document(content_type: str | None, raw: bytes) -> bytes:
    """The JSON bytes of a delivery (the raw body, or the form's `payload` field)."""
    if content_type and content_type.split(";")[0].strip().lower() == FORM:
        try:
            fields = parse_qs(raw.decode("utf-8"), strict_parsing=False, max_num_fields=100)
        except (UnicodeDecodeError, ValueError):
            return b""
        values = fields.get("payload")
        return values[0].encode("utf-8") if values else b""
    return raw


def content_delivery_id(raw: bytes) -> str:
    """A delivery id for providers that send none: identical bodies are one delivery."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def payload_of(content_type: str | None, raw: bytes) -> dict[str, object] | None:
    """The delivery's JSON object, or None when its document is not one."""
    try:
        return read_object(json_document(content_type, raw))
    except PayloadError:
        return None


async def parse_payload(content_type: str | None, raw: bytes) -> dict[str, object] | None:
    """`payload_of`, off the event loop for a large body."""
    if len(raw) <= ON_LOOP_BYTES:
        return payload_of(content_type, raw)
    return await trio.to_thread.run_sync(payload_of, content_type, raw)
