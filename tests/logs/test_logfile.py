"""The log file and its index, against a plain model: every line with its step and stream."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oore.logs import logfile
from oore.logs.logfile import RECORD, STREAMS, Batch, LogWriter, read_batches

LINE = st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b"") + b"\n")
APPEND = st.tuples(st.integers(-1, 300), st.sampled_from(STREAMS), st.lists(LINE, max_size=30))


def _write(logs: Path, appends: list[tuple[int, str, list[bytes]]]) -> list[Batch]:
    writer = LogWriter(logs, "B")
    try:
        return [writer.append(step, stream, b"".join(lines)) for step, stream, lines in appends]
    finally:
        writer.close()


def _model(appends: list[tuple[int, str, list[bytes]]]) -> list[tuple[int, str, bytes]]:
    return [(step, stream, line) for step, stream, lines in appends for line in lines]


def _lines(batches: list[Batch]) -> list[tuple[int, str, bytes]]:
    return [
        (batch.step, batch.stream, line + b"\n")
        for batch in batches
        for line in batch.text.split(b"\n")[:-1]  # not splitlines: b"\r" is no line end here
    ]


@settings(max_examples=150, deadline=None)
@given(
    appends=st.lists(APPEND, max_size=12),
    since=st.integers(1, 400),
    span=st.none() | st.integers(0, 400),
    step=st.none() | st.integers(-1, 3),
)
def test_read_batches_gives_the_lines_written(
    appends: list[tuple[int, str, list[bytes]]], since: int, span: int | None, step: int | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        written = _write(logs, appends)
        model = _model(appends)
        assert [b.first for b in written if b.count] == [
            1 + sum(len(lines) for _, _, lines in appends[:i])
            for i, (_, _, lines) in enumerate(appends)
            if lines
        ]
        until = None if span is None else since + span
        batches = list(read_batches(logs, "B", since, until, step))
        expected = [
            (n, line)
            for n, line in enumerate(model, start=1)
            if n >= since and (until is None or n < until) and (step is None or line[0] == step)
        ]
        assert _lines(batches) == [line for _, line in expected]
        for batch in batches:  # numbered right, one step and stream each, never over the size
            assert batch.count == batch.text.count(b"\n") > 0
            assert _lines([batch]) == model[batch.first - 1 : batch.first - 1 + batch.count]
            assert len(batch.text) <= logfile.BATCH_BYTES or batch.count == 1


def test_index_records_are_the_struct_layout(tmp_path: Path) -> None:
    # The index is written a column at a time; it must be exactly RECORD per line.
    _write(tmp_path, [(2, "stderr", [b"ab\n", b"\n"]), (-1, "oore", [b"xyz\n"])])
    raw = (tmp_path / "B.idx").read_bytes()
    assert list(RECORD.iter_unpack(raw)) == [(0, 3, 2, 1), (3, 1, 2, 1), (4, 4, -1, 2)]


def test_catch_up_batches_are_cut_by_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logfile, "BATCH_BYTES", 100)
    _write(tmp_path, [(0, "stdout", [b"%09d\n" % n for n in range(95)])])
    batches = list(read_batches(tmp_path, "B", 1))
    assert [b.count for b in batches] == [10] * 9 + [5]
    assert b"".join(b.text for b in batches) == b"".join(b"%09d\n" % n for n in range(95))


def test_a_reader_never_sees_lines_before_their_text(tmp_path: Path) -> None:
    # Not flushed yet (the streamer flushes once per worker-thread call): whatever a reader
    # finds in the index, the text of those lines is there.
    writer = LogWriter(tmp_path, "B")
    writer.append(0, "stdout", b"x\n" * 600)
    batches = list(read_batches(tmp_path, "B", 1))
    assert all(b.count == b.text.count(b"\n") for b in batches)
    assert sum(b.count for b in batches) in (0, 600)
    writer.close()
    assert sum(b.count for b in read_batches(tmp_path, "B", 1)) == 600
