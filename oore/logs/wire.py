"""The live-log WebSocket's messages, as the daemon sends them and its clients read them.

Lines go in binary messages: a one-line JSON header, then the lines' bytes exactly as stored:

    {"type": "lines", "first": 120, "step": 1, "stream": "stdout"}\\n<line 120>\\n<line 121>\\n...

so the daemon never escapes or re-encodes output (100 MB of log costs one copy per viewer), and
a client counts or decodes lines as it likes (output need not be UTF-8). Everything else (step,
heartbeat, end) is a JSON text message. `decode` turns either kind into a dict; a lines message
gets its text under "text", decoded as UTF-8 with replacement.
"""

from __future__ import annotations

import json
from typing import Any

from oore.logs.logfile import Batch


def encode_lines(batch: Batch) -> bytes:
    header = {"type": "lines", "first": batch.first, "step": batch.step, "stream": batch.stream}
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + batch.text


def split_lines(message: bytes) -> tuple[dict[str, Any], bytes]:
    """A binary message's header and its lines' raw bytes."""
    header, newline, text = message.partition(b"\n")
    if not newline:
        raise ValueError("a lines message has no header line")
    found: dict[str, Any] = json.loads(header)
    return found, text


def decode(message: str | bytes) -> dict[str, Any]:
    if isinstance(message, bytes):
        header, text = split_lines(message)
        header["text"] = text.decode("utf-8", "replace")
        return header
    found: dict[str, Any] = json.loads(message)
    return found
