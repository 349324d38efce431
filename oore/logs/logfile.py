"""A build's log on disk: the text, plus an index that makes "from line N" a seek.

`<id>.log` holds the masked output exactly as a person would read it (so download is a plain
file), and `<id>.idx` one fixed-size record per line: its offset and length in the text, its
step and its stream. Line numbers start at 1; line n is record n-1. Everything here is blocking
file I/O, called from worker threads.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

RECORD = struct.Struct("<QIhBx")  # offset, length, step, stream
STREAMS = ("stdout", "stderr", "oore")
STREAM_CODE = {name: code for code, name in enumerate(STREAMS)}
READ_BATCH_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive lines of one step and stream: lines first .. first + count - 1."""

    first: int
    step: int
    stream: str
    text: bytes
    count: int = -1  # lines in `text`; counted once, when the batch is made

    def __post_init__(self) -> None:
        if self.count < 0:
            object.__setattr__(self, "count", self.text.count(b"\n"))


def paths(logs_dir: Path, build_id: str) -> tuple[Path, Path]:
    return logs_dir / f"{build_id}.log", logs_dir / f"{build_id}.idx"


class LogWriter:
    """Appends lines; `lines` and `size` say how much is on disk."""

    def __init__(self, logs_dir: Path, build_id: str) -> None:
        text_path, index_path = paths(logs_dir, build_id)
        self._text: BinaryIO = text_path.open("ab")
        self._index: BinaryIO = index_path.open("ab")
        self.size = self._text.tell()
        self.lines = self._index.tell() // RECORD.size

    def append(self, step: int, stream: str, lines: list[bytes]) -> Batch:
        first = self.lines + 1
        code = STREAM_CODE[stream]
        records = bytearray()
        offset = self.size
        for line in lines:
            records += RECORD.pack(offset, len(line), step, code)
            offset += len(line)
        text = b"".join(lines)
        self._text.write(text)
        self._index.write(records)
        self.size = offset
        self.lines += len(lines)
        return Batch(first, step, stream, text)

    def flush(self) -> None:
        # Flushed to the OS before a batch is announced, so a reader catching up from disk
        # always finds every line a live viewer was sent.
        self._text.flush()
        self._index.flush()

    def close(self) -> None:
        self.flush()
        self._text.close()
        self._index.close()


def count_lines(logs_dir: Path, build_id: str) -> int:
    index_path = paths(logs_dir, build_id)[1]
    try:
        return index_path.stat().st_size // RECORD.size
    except FileNotFoundError:
        return 0


def read_batches(
    logs_dir: Path, build_id: str, since: int, until: int | None = None, step: int | None = None
) -> Iterator[Batch]:
    """Lines since..until-1 (1-based; until None = to the end), grouped in batches."""
    text_path, index_path = paths(logs_dir, build_id)
    try:
        index, text = index_path.open("rb"), text_path.open("rb")
    except FileNotFoundError:
        return
    with index, text:
        total = index.seek(0, 2) // RECORD.size
        last = total if until is None else min(total, until - 1)
        line = max(since, 1)
        while line <= last:
            records = _records(index, line, last)
            yield from _batches(text, line, records, step)
            line += len(records)


def _records(index: BinaryIO, first: int, last: int) -> list[tuple[int, int, int, int]]:
    # Enough records for about READ_BATCH_BYTES of text, read with one seek.
    count = min(last - first + 1, 4096)
    index.seek((first - 1) * RECORD.size)
    raw = index.read(count * RECORD.size)
    records = list(RECORD.iter_unpack(raw[: len(raw) - len(raw) % RECORD.size]))
    # 4096 lines of up to 4 KiB would make a 16 MiB batch (one WebSocket message): cut by size.
    limit = records[0][0] + READ_BATCH_BYTES if records else 0
    return records[: max(1, bisect.bisect_right(records, limit, key=lambda r: r[0]))]


def _batches(
    text: BinaryIO, first: int, records: list[tuple[int, int, int, int]], step: int | None
) -> Iterator[Batch]:
    if not records:
        return
    start = records[0][0]
    end = records[-1][0] + records[-1][1]
    text.seek(start)
    blob = text.read(end - start)
    group_start = 0
    for i in range(1, len(records) + 1):
        if i == len(records) or records[i][2:4] != records[group_start][2:4]:
            offset, _, step_of, code = records[group_start]
            last_offset, last_length = records[i - 1][0], records[i - 1][1]
            piece = blob[offset - start : last_offset + last_length - start]
            if step is None or step == step_of:
                yield Batch(first + group_start, step_of, STREAMS[code], piece)
            group_start = i
