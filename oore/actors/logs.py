"""LogStreamer: the one writer of build logs, and the publisher of live lines.

Executors send raw output chunks. The streamer splits them into lines (capped at 4 KiB), masks
the build's secret values, numbers the lines per build, appends them with their step and stream
to the build's log file and line index, flushes, and only then publishes them to live viewers
through the `LogHub` (so disk always holds at least what a viewer was sent). Past the per-build
size cap it writes one notice and drops the rest; the build's processes keep running and are
still drained. Everything a burst of messages brings is handled in one worker-thread call.

The supervisor restarts a crashed streamer as this same object, while the builds run on: a
build's secrets are therefore remembered from its `LogOpen` until its `LogClose` (a restart must
not write them unmasked), and a build whose message crashed it (its log file cannot be opened or
written) has the rest of its output dropped, with its close still answered, so that one build
cannot crash it over and over until the supervisor gives up on the whole daemon.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import trio

from oore.actors.messages import LogChunk, LogClose, LogMessage, LogOpen
from oore.logs.hub import LogHub
from oore.logs.lines import mask, measure, secrets_to_mask, take_text
from oore.logs.logfile import BATCH_BYTES, Batch, LogWriter, joined

log = logging.getLogger("oore.actors.logs")

MAX_BATCH = 512  # messages handled in one worker-thread call, at most
MAX_BATCH_BYTES = 2 * 1024 * 1024  # output handled in one call, about: bounds the memory it takes
META_STREAM = "oore"


@dataclass(slots=True)
class _BuildLog:
    writer: LogWriter
    secrets: tuple[bytes, ...]
    cap: int
    capped: bool = False
    partial: dict[tuple[int, str], bytearray] = field(default_factory=dict)


@dataclass(slots=True)
class _Outcome:
    """What a batch of messages produced, to announce on the event loop."""

    opened: list[str] = field(default_factory=list)
    published: list[tuple[str, list[Batch]]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    written: list[trio.Event] = field(default_factory=list)

    def publish(self, build_id: str, batch: Batch) -> None:
        """Announce `batch`; it joins the previous one when they continue each other, so
        viewers get fewer, larger messages (up to `BATCH_BYTES`) when output is heavy."""
        if self.published:
            last_id, run = self.published[-1]
            tail = run[-1]
            if (
                last_id == build_id
                and tail.continued_by(batch)
                and sum(len(b.text) for b in run) + len(batch.text) <= BATCH_BYTES
            ):
                run.append(batch)
                return
        self.published.append((build_id, [batch]))

    def batches(self) -> Iterator[tuple[str, Batch]]:
        for build_id, run in self.published:
            yield build_id, run[0] if len(run) == 1 else joined(run)


class LogStreamer:
    def __init__(
        self, hub: LogHub, inbox: trio.MemoryReceiveChannel[LogMessage], *, cap: int
    ) -> None:
        self.hub = hub
        self.logs_dir = hub.logs_dir
        self.inbox = inbox
        self.cap = cap
        self.bytes_written = 0  # log text written to disk since start, for /metrics
        self._open: dict[str, _BuildLog] = {}
        self._secrets: dict[str, tuple[bytes, ...]] = {}  # by build, from LogOpen to LogClose
        self._broken: set[str] = set()  # builds whose output is dropped (see the module doc)
        self._applying: str | None = None  # the build whose message `_apply` is handling

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(lambda: self.logs_dir.mkdir(parents=True, exist_ok=True))
        task_status.started()
        try:
            async for first in self.inbox:
                batch = [first, *self._drain()]
                self._remember(batch)
                self._announce(await trio.to_thread.run_sync(self._apply, batch))
        except Exception as exc:
            self._give_up_on(self._applying, exc)
            raise
        finally:
            for build_id in list(self._open):
                self._finish(build_id)
                self.hub.close(build_id)

    def _drain(self) -> list[LogMessage]:
        found: list[LogMessage] = []
        size = 0
        while len(found) < MAX_BATCH and size < MAX_BATCH_BYTES:
            try:
                message = self.inbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            found.append(message)
            size += len(message.data) if isinstance(message, LogChunk) else 0
        return found

    def _remember(self, batch: list[LogMessage]) -> None:
        # Before the batch is applied: a crash while applying it loses the batch, not these.
        for message in batch:
            if isinstance(message, LogOpen):
                self._secrets[message.build_id] = secrets_to_mask(message.secrets)

    def _give_up_on(self, build_id: str | None, exc: Exception) -> None:
        if build_id is None:
            return
        self._broken.add(build_id)
        log.error(
            "build %s: its log cannot be written (%s); the rest of its output is not stored",
            build_id,
            exc,
        )

    def _announce(self, outcome: _Outcome) -> None:
        for build_id in outcome.opened:
            self.hub.open(build_id)
        for build_id, batch in outcome.batches():
            self.hub.publish(build_id, batch)
        for build_id in outcome.closed:
            self.hub.close(build_id)
        for written in outcome.written:
            written.set()

    # --- worker thread ----------------------------------------------------------------------

    def _apply(self, messages: list[LogMessage]) -> _Outcome:
        outcome = _Outcome()
        for message in messages:
            if message.build_id in self._broken:
                self._drop(message, outcome)
                continue
            self._applying = message.build_id
            if isinstance(message, LogOpen):
                self._start(message, outcome)
            elif isinstance(message, LogChunk):
                self._chunk(message, outcome)
            else:
                if self._finish(message.build_id, outcome):
                    outcome.closed.append(message.build_id)
                self._secrets.pop(message.build_id, None)
                if message.written is not None:
                    outcome.written.append(message.written)
        self._applying = None
        for build_log in self._open.values():
            build_log.writer.flush()
        return outcome

    def _drop(self, message: LogMessage, outcome: _Outcome) -> None:
        if isinstance(message, LogClose):
            self._broken.discard(message.build_id)
            self._secrets.pop(message.build_id, None)
            if message.written is not None:
                outcome.written.append(message.written)

    def _start(self, message: LogOpen, outcome: _Outcome) -> None:
        if message.build_id not in self._open:
            writer = LogWriter(self.logs_dir, message.build_id)
            # After a restart the first message of a running build is a chunk: its LogOpen,
            # with the secrets, came to the crashed incarnation.
            secrets = self._secrets.get(message.build_id) or secrets_to_mask(message.secrets)
            self._open[message.build_id] = _BuildLog(writer, secrets, self.cap)
            outcome.opened.append(message.build_id)

    def _chunk(self, message: LogChunk, outcome: _Outcome) -> None:
        if message.build_id not in self._open:
            self._start(LogOpen(message.build_id), outcome)
        log = self._open[message.build_id]
        buffer = log.partial.setdefault((message.step, message.stream), bytearray())
        buffer.extend(message.data)
        text = take_text(buffer, log.secrets)
        if text:
            self._write(message.build_id, log, message.step, message.stream, text, outcome)

    def _write(
        self, build_id: str, log: _BuildLog, step: int, stream: str, text: bytes, outcome: _Outcome
    ) -> None:
        if log.capped:
            return
        if log.secrets:
            # Before `measure` cuts long lines, so that cut cannot split a secret (`take_text`
            # masks before it cuts a line still open, for the same reason).
            text = mask(text, log.secrets)
        text, lengths = measure(text)
        room = log.cap - log.writer.size
        over = len(text) > room
        if over:
            fits = bisect.bisect_right(list(itertools.accumulate(lengths)), room)
            text, lengths = text[: sum(lengths[:fits])], lengths[:fits]
        for piece, piece_lengths in _pieces(text, lengths):
            outcome.publish(build_id, log.writer.append(step, stream, piece, piece_lengths))
        self.bytes_written += len(text)
        if over:
            log.capped = True
            notice = f"[oore] log size limit of {log.cap} bytes reached; output is not stored\n"
            batch = log.writer.append(step, META_STREAM, notice.encode(), [len(notice.encode())])
            outcome.publish(build_id, batch)

    def _finish(self, build_id: str, outcome: _Outcome | None = None) -> bool:
        log = self._open.pop(build_id, None)
        if log is None:
            return False
        for (step, stream), buffer in log.partial.items():
            if buffer:
                self._write(
                    build_id, log, step, stream, bytes(buffer) + b"\n", outcome or _Outcome()
                )
        log.writer.close()
        return True


def _pieces(text: bytes, lengths: list[int]) -> Iterator[tuple[bytes, list[int]]]:
    """`text` cut at line ends into pieces of at most `BATCH_BYTES` (or one line each)."""
    if len(text) <= BATCH_BYTES:  # the usual case: one read of a pipe
        if lengths:
            yield text, lengths
        return
    ends = list(itertools.accumulate(lengths))
    line = byte = 0
    while line < len(lengths):
        stop = max(line + 1, bisect.bisect_right(ends, byte + BATCH_BYTES, lo=line))
        yield text[byte : ends[stop - 1]], lengths[line:stop]
        line, byte = stop, ends[stop - 1]
