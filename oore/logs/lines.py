"""Turning raw process output into numbered, masked lines, a whole chunk at a time.

Work is done per chunk with bytes methods (split, find, replace, map) and never in a Python loop
per line, so a build printing millions of lines costs the daemon little. A line longer than
`MAX_LINE` bytes is cut and continued on the next line; a partial line waits for the rest of it,
which is also why a secret split across two reads is still masked.
"""

from __future__ import annotations

MAX_LINE = 4096
MASK = b"********"
_PLUS_ONE = (1).__add__


def take_text(buffer: bytearray, secrets: tuple[bytes, ...] = ()) -> bytes:
    """Remove the complete lines (each ending in b"\\n") from `buffer` and return them.

    A line still open after `MAX_LINE` bytes is cut there (an endless line cannot wait
    forever), but only once the buffer also holds the longest secret's length past the cut,
    and after masking: a secret across the cut is then whole in the buffer, and masked.
    """
    end = buffer.rfind(b"\n") + 1
    text = bytes(buffer[:end])
    del buffer[:end]
    reach = max(map(len, secrets), default=0)
    if len(buffer) >= MAX_LINE + reach:
        if secrets:
            buffer[:] = mask(bytes(buffer), secrets)
        pieces = [text]
        while len(buffer) >= MAX_LINE + reach:
            pieces.append(bytes(buffer[:MAX_LINE]) + b"\n")
            del buffer[:MAX_LINE]
        text = b"".join(pieces)
    return text


def measure(text: bytes) -> tuple[bytes, list[int]]:
    """`text` (complete lines) with lines over `MAX_LINE` cut, and each line's length with its
    newline."""
    parts = text.split(b"\n")
    parts.pop()  # what follows the last newline: nothing
    lengths = list(map(len, parts))
    if lengths and max(lengths) > MAX_LINE:
        parts = [piece for part in parts for piece in _cut(part)]
        text = b"".join(part + b"\n" for part in parts)
        lengths = list(map(len, parts))
    return text, list(map(_PLUS_ONE, lengths))


def _cut(line: bytes) -> list[bytes]:
    return [line[start : start + MAX_LINE] for start in range(0, len(line), MAX_LINE)] or [b""]


def mask(text: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """Replace each secret (longest first) wherever it stands, with other text or alone."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def secrets_to_mask(values: tuple[str, ...]) -> tuple[bytes, ...]:
    # Masking works on whole lines, so a multi-line secret (a PEM key, a JSON key file) is
    # masked whole, and also line by line when only part of it is printed. Very short values
    # would mask ordinary words; longest first so a secret containing another is masked whole.
    parts = {part for value in values for part in (value, *value.splitlines())}
    found = {part.encode() for part in parts if len(part.strip()) >= 3}
    return tuple(sorted(found, key=len, reverse=True))
