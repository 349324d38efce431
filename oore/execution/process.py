"""One script as its own process group: streamed output, deadline, cancellation, clean kill.

Each script runs in a new session (`start_new_session`), so the whole group, including anything
it put in the background (`sleep 600 &`), can be signalled at once: SIGTERM, then SIGKILL after
the grace. The group is signalled when the script ends too, so nothing a step started outlives
it. A script with a shebang is run as an executable; any other runs under `bash -e` (or `sh -e`),
so it fails at its first failing command.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from oore.model import StepStatus

PIPE_BYTES = 1024 * 1024  # a pipe's room
READ_BYTES = 65536  # read at most at once: larger reads cost fresh pages (mmap) each time
Output = Callable[[str, bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: StepStatus
    exit_code: int | None = None
    error: str | None = None


def command_for(script: str, path: Path) -> list[str]:
    """Write `script` to `path` and return how to run it."""
    path.write_text(script if script.endswith("\n") else script + "\n")
    if script.startswith("#!"):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return [str(path)]
    shell = shutil.which("bash") or "/bin/sh"
    return [shell, "-e", str(path)]


async def run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    output: Output,
    deadline: float,
    cancel: trio.Event,
    grace: float,
    on_start: Callable[[int], Awaitable[None]] | None = None,
) -> Outcome:
    """Run until exit, deadline (trio time) or `cancel`; the group is gone when this returns."""
    try:
        process = await trio.lowlevel.open_process(
            argv,
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(StepStatus.FAILED, None, f"cannot start {argv[0]}: {exc.strerror}")
    try:
        if on_start is not None:
            await on_start(process.pid)
        async with trio.open_nursery() as pumps:
            for name, stream in (("stdout", process.stdout), ("stderr", process.stderr)):
                if stream is not None:
                    pumps.start_soon(_pump, stream, name, output)
            ended = await _wait(process, deadline, cancel)
            await _stop_group(process, grace, soft=ended != "exited")
            # Once the group is gone the pipes reach EOF; don't wait forever for a grandchild
            # that escaped into its own session while holding them.
            pumps.cancel_scope.deadline = trio.current_time() + 2
    finally:
        with trio.CancelScope(shield=True):
            await _stop_group(process, 0, soft=False)
    return _outcome(ended, process.returncode)


def _outcome(ended: str, code: int | None) -> Outcome:
    if ended == "timeout":
        return Outcome(StepStatus.TIMED_OUT, code, "timed out")
    if ended == "cancelled":
        return Outcome(StepStatus.CANCELLED, code, "cancelled")
    if code == 0:
        return Outcome(StepStatus.SUCCEEDED, 0)
    reason = f"exited with code {code}" if code and code > 0 else f"killed by signal {-(code or 0)}"
    return Outcome(StepStatus.FAILED, code, reason)


async def _pump(stream: trio.abc.ReceiveStream, name: str, output: Output) -> None:
    _widen(stream)
    try:
        while chunk := await stream.receive_some(READ_BYTES):
            await output(name, bytes(chunk))
    except (trio.ClosedResourceError, trio.BrokenResourceError):
        return


def _widen(stream: trio.abc.ReceiveStream) -> None:
    """Give a pipe `PIPE_BYTES` of room (Linux; 64 KiB otherwise): a build printing fast then
    waits less on the daemon, and the daemon reads it in fewer, larger chunks."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    fileno = getattr(stream, "fileno", None)
    if set_size is None or fileno is None:
        return
    with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size for this user
        fcntl.fcntl(fileno(), set_size, PIPE_BYTES)


async def _wait(process: trio.Process, deadline: float, cancel: trio.Event) -> str:
    ended = "timeout"
    async with trio.open_nursery() as nursery:
        nursery.cancel_scope.deadline = deadline

        async def exited() -> None:
            nonlocal ended
            await process.wait()
            ended = "exited"
            nursery.cancel_scope.cancel()

        async def cancelled() -> None:
            nonlocal ended
            await cancel.wait()
            ended = "cancelled"
            nursery.cancel_scope.cancel()

        nursery.start_soon(exited)
        nursery.start_soon(cancelled)
    return ended


async def _stop_group(process: trio.Process, grace: float, *, soft: bool) -> None:
    """SIGTERM the group (when `soft`), wait up to `grace`, then SIGKILL what is left."""
    group = process.pid
    if soft and _signal_group(group, signal.SIGTERM):
        with trio.move_on_after(grace):
            await process.wait()
            # No event tells when a process group empties; polling is the only portable way.
            while _group_alive(group):  # noqa: ASYNC110
                await trio.sleep(0.05)
    _signal_group(group, signal.SIGKILL)
    with trio.move_on_after(max(grace, 5)):
        await process.wait()


def _signal_group(group: int, signum: int) -> bool:
    """Signal every process of the group; False when none is left."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(group: int) -> bool:
    """Is any process of the group still running? Zombies don't count: an orphan that init has
    not reaped yet (some container inits never do) holds no resources and runs nothing."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return _signal_group(group, 0)
    for entry in proc.iterdir():
        if entry.name.isdigit() and _running_in(entry / "stat", group):
            return True
    return False


def _running_in(stat_file: Path, group: int) -> bool:
    try:
        text = stat_file.read_text()
    except OSError:
        return False
    # Fields after the parenthesised command name: state, ppid, pgrp, ...
    state, _, pgrp = text.rpartition(")")[2].split()[:3]
    return int(pgrp) == group and state != "Z"


def kill_group(group: int) -> bool:
    """SIGKILL a recorded group (crash recovery); True when something was there."""
    return _signal_group(group, signal.SIGKILL)
