"""Turning raw process output into numbered, masked lines, a whole chunk at a time.

Work is done per chunk with bytes methods (split, find, replace), not per character, so a build
printing millions of lines costs the daemon little. A line longer than `MAX_LINE` bytes is cut
and continued on the next line; a partial line waits for the rest of it, which is also why a
secret split across two reads is still masked.
"""

from __future__ import annotations

MAX_LINE = 4096
MASK = b"********"


def take_lines(buffer: bytearray) -> list[bytes]:
    """Remove the complete lines (each ending in b"\\n") from `buffer` and return them."""
    end = buffer.rfind(b"\n") + 1
    lines: list[bytes] = []
    if end:
        lines = bytes(buffer[:end]).split(b"\n")[:-1]
        del buffer[:end]
        lines = _capped([line + b"\n" for line in lines])
    while len(buffer) >= MAX_LINE:  # an endless line: cut it, keep the rest waiting
        lines.append(bytes(buffer[:MAX_LINE]) + b"\n")
        del buffer[:MAX_LINE]
    return lines


def _capped(lines: list[bytes]) -> list[bytes]:
    if all(len(line) <= MAX_LINE + 1 for line in lines):
        return lines
    out: list[bytes] = []
    for line in lines:
        body = line[:-1]
        while len(body) > MAX_LINE:
            out.append(body[:MAX_LINE] + b"\n")
            body = body[MAX_LINE:]
        out.append(body + b"\n")
    return out


def mask(text: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """Replace each secret (longest first) wherever it stands, with other text or alone."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def secrets_to_mask(values: tuple[str, ...]) -> tuple[bytes, ...]:
    # Masking works line by line, so a multi-line secret (a PEM key, a JSON key file) is masked
    # as each of its lines. Very short values would mask ordinary words; longest first so a
    # secret containing another is masked whole.
    parts = {part for value in values for part in (value, *value.splitlines())}
    found = {part.encode() for part in parts if len(part.strip()) >= 3}
    return tuple(sorted(found, key=len, reverse=True))
