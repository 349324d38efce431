"""The step's reaper: a tiny process between the daemon and a build script (stdlib only).

Run as `python -I -S reaper.py UID GID GROUPS NICE -- ARGV...` (UID -1: keep the current user;
NICE: how many steps below the reaper's own CPU priority the script runs, 0-19). It
makes itself a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`), so a script's process that
escapes its process group (`setsid sleep 600 &`, a double fork) is re-parented to the reaper
instead of init and stays findable. It starts ARGV as the build user (groups, gid, uid dropped in
the child before exec), and when the script exits it kills every remaining descendant, reaps them
all and exits as the script did (the same code, or the same signal). Signals from the daemon:
SIGTERM is passed on to every descendant (a soft stop), SIGUSR1 kills them all (the hard stop
after the grace). If the daemon dies the reaper notices its new parent and cleans up likewise.

It stays root while the script runs as the build user, so the script can neither signal nor
inspect it. Module-level imports are stdlib only: it runs with `-I -S`, outside the package.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
PARENT_POLL_SECONDS = 0.5
EXEC_FAILED = 127


def main(args: list[str]) -> int:
    uid, gid, groups, nice, argv = _parse(args)
    _become_subreaper()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD, signal.SIGINT):
        signal.signal(signum, lambda *_: None)  # handled in the loop, via the wake-up fd
    parent = os.getppid()
    child = _start(argv, uid, gid, groups, nice)
    status = _supervise(child, parent, wake_r)
    _kill_all()
    return _exit_like(status)


def _parse(args: list[str]) -> tuple[int, int, list[int], int, list[str]]:
    split = args.index("--")
    uid, gid, groups, nice = args[:split]
    found = [int(g) for g in groups.split(",") if g]
    return int(uid), int(gid), found, int(nice), args[split + 1 :]


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the process group must do
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _start(argv: list[str], uid: int, gid: int, groups: list[int], nice: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: restore default signals, drop to the build user, exec the script
        for signum in (signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        os.umask(0o022)  # the daemon's is 077; builds expect the usual one
        if nice:  # before dropping to the build user, who could not lower it back anyway
            os.nice(nice)
        if uid >= 0:
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, f"[oore] cannot start {argv[0]}: {exc.strerror}\n".encode())
    os._exit(EXEC_FAILED)


def _supervise(child: int, parent: int, wake: int) -> int:
    """Wait for the script, passing signals on; returns its wait status."""
    while True:
        ready, _, _ = select.select([wake], [], [], PARENT_POLL_SECONDS)
        signums = os.read(wake, 512) if ready else b""
        if signal.SIGTERM in signums or signal.SIGINT in signums:
            _signal_all(signal.SIGTERM)
        if signal.SIGUSR1 in signums or os.getppid() != parent:
            return _kill_script(child)
        status = _reap(child)
        if status is not None:
            return status


def _reap(child: int) -> int | None:
    """Reap whatever exited; the script's wait status once it has."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if pid == 0:
            return None
        if pid == child:
            return status


def _kill_script(child: int) -> int:
    _signal_all(signal.SIGKILL)
    try:
        return os.waitpid(child, 0)[1]
    except ChildProcessError:
        return signal.SIGKILL  # reaped in the loop already: report it killed


def _kill_all() -> None:
    """SIGKILL every descendant until none is left (a killed process cannot fork again)."""
    while True:
        _signal_all(signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return  # no child left: as a subreaper, no descendant either
        time.sleep(0.005)


def _signal_all(signum: int) -> None:
    for pid in _descendants():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _descendants() -> list[int]:
    me = os.getpid()
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], list(children.get(me, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _parents() -> list[tuple[int, int]]:
    if not os.path.isdir("/proc/self"):
        return _parents_from_ps()
    pairs = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    fields = stat.read().rpartition(b")")[2].split()
            except OSError:
                continue  # gone meanwhile
            pairs.append((int(name), int(fields[1])))
    return pairs


def _parents_from_ps() -> list[tuple[int, int]]:
    import subprocess  # macOS and other systems without /proc

    listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True)
    return [
        (int(fields[0]), int(fields[1]))
        for fields in (line.split() for line in listing.stdout.splitlines())
        if len(fields) == 2
    ]


def _exit_like(status: int) -> int:
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.set_wakeup_fd(-1)
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
