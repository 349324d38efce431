"""LogStreamer: the one writer of build logs.

Executors send raw output chunks; the streamer splits them into lines (a line longer than
`MAX_LINE` bytes is cut and continued on the next line, so one endless line cannot exhaust
memory), masks the build's secret values on whole lines (so a secret split across two reads is
still caught), and appends them to `<data dir>/logs/<build id>.log`. Past the per-build cap it
writes one notice and drops the rest; the build's processes keep running and are still drained.
Everything a burst of messages brings is written in one worker-thread call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import trio

from oore.actors.messages import LogChunk, LogClose, LogMessage, LogOpen

MAX_LINE = 4096
MASK = b"********"
MAX_BATCH = 512


@dataclass(slots=True)
class _BuildLog:
    path: Path
    secrets: tuple[bytes, ...]
    cap: int
    written: int = 0
    capped: bool = False
    partial: dict[tuple[int, str], bytearray] = field(default_factory=dict)
    file: BinaryIO | None = None


class LogStreamer:
    def __init__(self, logs_dir: Path, inbox: trio.MemoryReceiveChannel[LogMessage], *, cap: int):
        self.logs_dir = logs_dir
        self.inbox = inbox
        self.cap = cap
        self._open: dict[str, _BuildLog] = {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.to_thread.run_sync(lambda: self.logs_dir.mkdir(parents=True, exist_ok=True))
        task_status.started()
        try:
            async for first in self.inbox:
                batch = [first, *self._drain()]
                await trio.to_thread.run_sync(self._apply, batch)
        finally:
            self._close_all()

    def _drain(self) -> list[LogMessage]:
        found: list[LogMessage] = []
        while len(found) < MAX_BATCH:
            try:
                found.append(self.inbox.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        return found

    def _apply(self, batch: list[LogMessage]) -> None:
        for message in batch:
            if isinstance(message, LogOpen):
                self._start(message)
            elif isinstance(message, LogChunk):
                self._chunk(message)
            else:
                self._finish(message)

    def path_of(self, build_id: str) -> Path:
        return self.logs_dir / f"{build_id}.log"

    def _start(self, message: LogOpen) -> None:
        secrets = tuple(s.encode() for s in message.secrets if len(s) >= 3)
        # Longest first, so a secret that contains another is masked whole.
        secrets = tuple(sorted(set(secrets), key=len, reverse=True))
        log = _BuildLog(self.path_of(message.build_id), secrets, self.cap)
        log.file = log.path.open("ab")
        log.written = log.path.stat().st_size
        self._open[message.build_id] = log

    def _chunk(self, message: LogChunk) -> None:
        log = self._open.get(message.build_id)
        if log is None:
            self._start(LogOpen(message.build_id))
            log = self._open[message.build_id]
        buffer = log.partial.setdefault((message.step, message.stream), bytearray())
        buffer.extend(message.data)
        for line in _complete_lines(buffer):
            self._write(log, line)

    def _finish(self, message: LogClose) -> None:
        log = self._open.pop(message.build_id, None)
        if log is None:
            return
        for buffer in log.partial.values():
            if buffer:
                self._write(log, bytes(buffer) + b"\n")
        if log.file is not None:
            log.file.close()

    def _write(self, log: _BuildLog, line: bytes) -> None:
        if log.capped or log.file is None:
            return
        line = mask(line, log.secrets)
        if log.written + len(line) > log.cap:
            log.capped = True
            notice = f"[oore] log size limit of {log.cap} bytes reached; output is not stored\n"
            log.file.write(notice.encode())
        else:
            log.file.write(line)
            log.written += len(line)
        log.file.flush()

    def _close_all(self) -> None:
        for log in self._open.values():
            if log.file is not None:
                log.file.close()
        self._open.clear()


def _complete_lines(buffer: bytearray) -> list[bytes]:
    lines: list[bytes] = []
    while True:
        end = buffer.find(b"\n")
        if end == -1 or end >= MAX_LINE:
            if len(buffer) < MAX_LINE:
                return lines
            lines.append(bytes(buffer[:MAX_LINE]) + b"\n")
            del buffer[:MAX_LINE]
            continue
        lines.append(bytes(buffer[: end + 1]))
        del buffer[: end + 1]


def mask(line: bytes, secrets: tuple[bytes, ...]) -> bytes:
    for secret in secrets:
        if secret in line:
            line = line.replace(secret, MASK)
    return line
