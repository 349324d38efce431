"""One script under its reaper: streamed output, deadline, cancellation, clean kill.

Each script runs below `reaper.py` (a child subreaper, in a new session), which starts it as the
build user and kills every process the script left behind when it ends, including those that
escaped the process group (`setsid sleep 600 &`, double forks). A stop is SIGTERM to the reaper
(passed on to every descendant), then SIGUSR1 after the grace (it kills them all), then SIGKILL
to the group should the reaper itself not answer. A script with a shebang is run as an
executable; any other runs under `bash -e` (or `sh -e`), so it fails at its first failing command.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from oore.execution.identity import BuildUser
from oore.model import StepStatus

REAPER = str(Path(__file__).with_name("reaper.py"))
REAPER_STOP_SECONDS = 5.0  # how long the reaper may take to kill and reap everything
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
    # Readable (and, with a shebang, executable) by the build user; the directory is the
    # daemon's, so the build cannot swap the file for a link.
    path.chmod(0o755 if script.startswith("#!") else 0o644)
    if script.startswith("#!"):
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
    user: BuildUser | None = None,
    nice: int = 0,
) -> Outcome:
    """Run until exit, deadline (trio time) or `cancel`; every process it started is gone when
    this returns. `nice` lowers the script's CPU priority (and its children's) below the
    daemon's, so builds that use every core leave the API and log streaming responsive."""
    try:
        process = await trio.lowlevel.open_process(
            reaped(argv, user, nice),
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
            await _stop(process, grace, soft=ended != "exited")
            # Once the group is gone the pipes reach EOF; don't wait forever for a grandchild
            # that escaped into its own session while holding them.
            pumps.cancel_scope.deadline = trio.current_time() + 2
    finally:
        with trio.CancelScope(shield=True):
            await _stop(process, 0, soft=False)
    return _outcome(ended, process.returncode)


def reaped(argv: list[str], user: BuildUser | None, nice: int = 0) -> list[str]:
    """`argv` under the reaper, to run as `user` (None or the daemon's own: as it is), `nice`
    steps below the daemon's priority."""
    ids = ["-1", "-1", ""]
    if user is not None and user.separate:
        ids = [str(user.uid), str(user.gid), ",".join(str(g) for g in user.groups)]
    return [sys.executable, "-I", "-S", REAPER, *ids, str(nice), "--", *argv]


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


async def _stop(process: trio.Process, grace: float, *, soft: bool) -> None:
    """SIGTERM everything (when `soft`), wait up to `grace`, then have the reaper kill the rest;
    SIGKILL the group only should the reaper itself not answer."""
    if process.returncode is None and soft:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(grace):
            await process.wait()
    if process.returncode is None:
        process.send_signal(signal.SIGUSR1)
        with trio.move_on_after(REAPER_STOP_SECONDS):
            await process.wait()
    _signal_group(process.pid, signal.SIGKILL)
    with trio.move_on_after(REAPER_STOP_SECONDS):
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


def kill_group(group: int) -> bool:
    """SIGKILL a recorded group (crash recovery); True when something was there.

    Only while its leader is still one of our reapers: after a reboot the number may belong to
    anything (and a reaper whose daemon died cleans up on its own within a second anyway)."""
    if not _is_reaper(group):
        return False
    return _signal_group(group, signal.SIGKILL)


def _is_reaper(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc (macOS): trust the record
    except OSError:
        return False
    return REAPER.encode() in argv
