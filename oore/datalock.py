"""One daemon per data dir: an exclusive lock on `<data dir>/oored.lock`, held while it runs.

A second `oored run` on the same data dir would "recover" the first one's running builds (kill
them, requeue them) before failing on the busy port. So `oored run` takes this lock before it
touches anything else in the data dir, and a second daemon stops there, naming the first. The lock
is `flock` on an open file: the kernel drops it when the process ends however it ends (kill -9
included), so a leftover file never blocks a start. The holder writes its PID into the file only so
that the refusal can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from oore.errors import ConfigError

LOCK_FILE = "oored.lock"


class DataDirInUse(ConfigError):
    """Another process holds the data dir's lock."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        who = f"another oored (pid {pid})" if pid else "another oored"
        super().__init__(f"{who} is using {data_dir}; stop it first")
        self.pid = pid


class DataDirLock:
    """The held lock; `release` (or leaving the `with` block, or exiting) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Create the data dir if needed and lock it; `DataDirInUse` when another process has it,
    `ConfigError` when the lock file cannot be made."""
    path = data_dir / LOCK_FILE
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_CLOEXEC: builds and git never inherit it; O_NOFOLLOW: not someone's planted symlink.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise ConfigError(
            f"cannot use the data dir {data_dir}: {exc.strerror or exc} ({exc.filename or path}); "
            "make it a directory the daemon's user can write, or set OORE_DATA_DIR"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise DataDirInUse(data_dir, holder) from None
    except BaseException:
        os.close(fd)
        raise
    _write_pid(fd)
    return DataDirLock(path, fd)


def _read_pid(fd: int) -> int | None:
    # The holder may be between taking the lock and writing its PID: then there is none yet.
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip())
    return None


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
