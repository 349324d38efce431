"""LogStreamer: the one writer of build logs, and the publisher of live lines.

Executors send raw output chunks. The streamer splits them into lines (capped at 4 KiB), masks
the build's secret values, numbers the lines per build, appends them with their step and stream
to the build's log file and line index, flushes, and only then publishes them to live viewers
through the `LogHub` (so disk always holds at least what a viewer was sent). Past the per-build
size cap it writes one notice and drops the rest; the build's processes keep running and are
still drained. Everything a burst of messages brings is handled in one worker-thread call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from oore.actors.messages import LogChunk, LogMessage, LogOpen
from oore.logs.hub import LogHub
from oore.logs.lines import mask, secrets_to_mask, take_lines
from oore.logs.logfile import Batch, LogWriter

MAX_BATCH = 512
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
    published: list[tuple[str, Batch]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    written: list[trio.Event] = field(default_factory=list)


class LogStreamer:
    def __init__(
        self, hub: LogHub, inbox: trio.MemoryReceiveChannel[LogMessage], *, cap: int
    ) -> None:
        self.hub = hub
        self.logs_dir = hub.logs_dir
        self.inbox = inbox
        self.cap = cap
        self._open: dict[str, _BuildLog] = {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(lambda: self.logs_dir.mkdir(parents=True, exist_ok=True))
        task_status.started()
        try:
            async for first in self.inbox:
                batch = [first, *self._drain()]
                self._announce(await trio.to_thread.run_sync(self._apply, batch))
        finally:
            for build_id in list(self._open):
                self._finish(build_id)
                self.hub.close(build_id)

    def _drain(self) -> list[LogMessage]:
        found: list[LogMessage] = []
        while len(found) < MAX_BATCH:
            try:
                found.append(self.inbox.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        return found

    def _announce(self, outcome: _Outcome) -> None:
        for build_id in outcome.opened:
            self.hub.open(build_id)
        for build_id, batch in outcome.published:
            self.hub.publish(build_id, batch)
        for build_id in outcome.closed:
            self.hub.close(build_id)
        for written in outcome.written:
            written.set()

    # --- worker thread ----------------------------------------------------------------------

    def _apply(self, messages: list[LogMessage]) -> _Outcome:
        outcome = _Outcome()
        for message in messages:
            if isinstance(message, LogOpen):
                self._start(message, outcome)
            elif isinstance(message, LogChunk):
                self._chunk(message, outcome)
            else:
                if self._finish(message.build_id, outcome):
                    outcome.closed.append(message.build_id)
                if message.written is not None:
                    outcome.written.append(message.written)
        for log in self._open.values():
            log.writer.flush()
        return outcome

    def _start(self, message: LogOpen, outcome: _Outcome) -> None:
        if message.build_id not in self._open:
            writer = LogWriter(self.logs_dir, message.build_id)
            secrets = secrets_to_mask(message.secrets)
            self._open[message.build_id] = _BuildLog(writer, secrets, self.cap)
            outcome.opened.append(message.build_id)

    def _chunk(self, message: LogChunk, outcome: _Outcome) -> None:
        if message.build_id not in self._open:
            self._start(LogOpen(message.build_id), outcome)
        log = self._open[message.build_id]
        buffer = log.partial.setdefault((message.step, message.stream), bytearray())
        buffer.extend(message.data)
        lines = take_lines(buffer)
        if lines:
            self._write(message.build_id, log, message.step, message.stream, lines, outcome)

    def _write(
        self,
        build_id: str,
        log: _BuildLog,
        step: int,
        stream: str,
        lines: list[bytes],
        outcome: _Outcome,
    ) -> None:
        if log.capped:
            return
        if log.secrets:
            lines = [mask(line, log.secrets) for line in lines]
        room = log.cap - log.writer.size
        if sum(len(line) for line in lines) > room:
            fits = _fitting(lines, room)
            if fits:
                outcome.published.append((build_id, log.writer.append(step, stream, fits)))
            log.capped = True
            notice = f"[oore] log size limit of {log.cap} bytes reached; output is not stored\n"
            lines, stream = [notice.encode()], META_STREAM
        outcome.published.append((build_id, log.writer.append(step, stream, lines)))

    def _finish(self, build_id: str, outcome: _Outcome | None = None) -> bool:
        log = self._open.pop(build_id, None)
        if log is None:
            return False
        for (step, stream), buffer in log.partial.items():
            if buffer:
                rest = [bytes(buffer) + b"\n"]
                self._write(build_id, log, step, stream, rest, outcome or _Outcome())
        log.writer.close()
        return True


def _fitting(lines: list[bytes], room: int) -> list[bytes]:
    """The leading lines whose total size fits in `room` bytes."""
    fits: list[bytes] = []
    for line in lines:
        room -= len(line)
        if room < 0:
            break
        fits.append(line)
    return fits
