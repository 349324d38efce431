"""A build's log on disk: the text, plus an index that makes "from line N" a seek.

`<id>.log` holds the masked output exactly as a person would read it (so download is a plain
file), and `<id>.idx` one fixed-size record per line: its offset and length in the text, its
step and its stream. Line numbers start at 1; line n is record n-1. Everything here is blocking
file I/O, called from worker threads.
"""

from __future__ import annotations

import array
import bisect
import itertools
import os
import re
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oore.logs.lines import measure

RECORD = struct.Struct("<QIhBx")  # offset, length, step, stream
STREAMS = ("stdout", "stderr", "oore")
STREAM_CODE = {name: code for code, name in enumerate(STREAMS)}
# Most bytes of lines in one batch, which is one WebSocket message (clients refuse over 1 MiB).
BATCH_BYTES = 512 * 1024


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

    def continued_by(self, other: Batch) -> bool:
        """Whether `other` is the next lines of the same step and stream (they can be joined)."""
        same = (other.step, other.stream) == (self.step, self.stream)
        return same and other.first == self.first + self.count


def joined(run: list[Batch]) -> Batch:
    """One batch of consecutive batches of one step and stream."""
    text = b"".join(batch.text for batch in run)
    return Batch(run[0].first, run[0].step, run[0].stream, text, sum(b.count for b in run))


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

    def append(
        self, step: int, stream: str, text: bytes, lengths: list[int] | None = None
    ) -> Batch:
        """Append `text`, complete lines of `lengths` bytes each (newline included)."""
        if lengths is None:
            text, lengths = measure(text)
        first = self.lines + 1
        self._text.write(text)
        # The text reaches the file before its index records can: a reader never finds a line
        # in the index whose text is not there yet (the index's buffer may flush at any time).
        self._text.flush()
        self._index.write(_records_for(self.size, lengths, step, STREAM_CODE[stream]))
        self.size += len(text)
        self.lines += len(lengths)
        return Batch(first, step, stream, text, len(lengths))

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
    """Lines since..until-1 (1-based; until None = to the end), grouped in batches of one step
    and stream and at most `BATCH_BYTES` (or one line)."""
    text_path, index_path = paths(logs_dir, build_id)
    try:
        index, text = index_path.open("rb"), text_path.open("rb")
    except FileNotFoundError:
        return
    with index, text:
        total = index.seek(0, 2) // RECORD.size
        text_size = os.fstat(text.fileno()).st_size  # after the index: it covers the index
        last = total if until is None else min(total, until - 1)
        line = max(since, 1)
        while line <= last:
            index.seek((line - 1) * RECORD.size)
            raw = index.read(min(last - line + 1, READ_RECORDS) * RECORD.size)
            raw = raw[: len(raw) - len(raw) % RECORD.size]
            raw = raw[: _ending_by(raw, text_size) * RECORD.size]  # defensive: whole lines only
            if not raw:
                return
            start = RECORD.unpack_from(raw, 0)[0]  # at most BATCH_BYTES of text, or one line
            raw = raw[: max(1, _ending_by(raw, start + BATCH_BYTES)) * RECORD.size]
            yield from _batches(text, line, raw, step)
            line += len(raw) // RECORD.size


# --- the index, a column at a time ----------------------------------------------------------
# A record is 16 bytes: offset (8), length (4), step (2), stream (1), padding (1). Columns are
# read and written with strided slices, so a million lines cost a few C loops, not a million
# Python steps.

READ_RECORDS = 16384  # records read per seek when catching up
_NATIVE_IS_LITTLE = sys.byteorder == "little"


def _column(values: Iterable[int], typecode: str) -> bytes:
    column = array.array(typecode, values)
    if not _NATIVE_IS_LITTLE:
        column.byteswap()
    return column.tobytes()


def _records_for(start: int, lengths: list[int], step: int, code: int) -> bytes:
    count = len(lengths)
    if not count:
        return b""
    records = bytearray(RECORD.size * count)
    offsets = _column(itertools.accumulate(lengths[:-1], initial=start), "Q")
    sizes = _column(lengths, "I")
    for byte in range(8):
        records[byte :: RECORD.size] = offsets[byte::8]
    for byte in range(4):
        records[8 + byte :: RECORD.size] = sizes[byte::4]
    step_bytes = struct.pack("<h", step)
    records[12 :: RECORD.size] = step_bytes[:1] * count
    records[13 :: RECORD.size] = step_bytes[1:] * count
    records[14 :: RECORD.size] = bytes((code,)) * count
    return bytes(records)


def _ending_by(raw: bytes, size: int) -> int:
    """How many of the records in `raw` have their text within the first `size` bytes."""

    def end_of(i: int) -> int:
        offset, length = RECORD.unpack_from(raw, i * RECORD.size)[:2]
        return int(offset + length)

    return bisect.bisect_right(range(len(raw) // RECORD.size), size, key=end_of)


_RUNS = re.compile(rb"(...)\1*", re.DOTALL)


def _batches(text: BinaryIO, first: int, raw: bytes, step: int | None) -> Iterator[Batch]:
    """The lines of the records in `raw`, one batch per run of the same step and stream."""
    start = RECORD.unpack_from(raw, 0)[0]
    end_offset, end_length = RECORD.unpack_from(raw, len(raw) - RECORD.size)[:2]
    text.seek(start)
    blob = text.read(end_offset + end_length - start)
    keys = bytearray(3 * (len(raw) // RECORD.size))  # step and stream, 3 bytes per line
    for byte in range(3):
        keys[byte::3] = raw[12 + byte :: RECORD.size]
    for run in _RUNS.finditer(keys):
        low, high = run.start() // 3, run.end() // 3
        offset, _, step_of, code = RECORD.unpack_from(raw, low * RECORD.size)
        last_offset, last_length = RECORD.unpack_from(raw, (high - 1) * RECORD.size)[:2]
        if step is None or step == step_of:
            low_byte, high_byte = offset - start, last_offset + last_length - start
            # One run is usually the whole blob: then no copy of it is made.
            piece = blob if (low_byte, high_byte) == (0, len(blob)) else blob[low_byte:high_byte]
            yield Batch(first + low, step_of, STREAMS[code], piece, high - low)
