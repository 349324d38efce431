"""`oored run --log-file`: log to a file that newsyslog or logrotate may move away at any time.

The handler notices the move (the path's inode changed) before each record and reopens the
path, so rotation needs no signal and no copy-and-truncate. Standard output and error are pointed
at the same file each time, so a traceback that escapes logging lands next to the log lines
instead of in an archived or deleted file.
"""

from __future__ import annotations

import logging
import os
from io import TextIOWrapper
from logging.handlers import WatchedFileHandler
from pathlib import Path

STDOUT_FD = 1
STDERR_FD = 2


class FollowingFileHandler(WatchedFileHandler):
    def _open(self) -> TextIOWrapper:
        stream = super()._open()
        for fd in (STDOUT_FD, STDERR_FD):
            os.dup2(stream.fileno(), fd)
        return stream


def log_to_file(path: Path) -> None:
    """Send the root logger's records to `path`, keeping the format `logsetup` chose."""
    root = logging.getLogger()
    handler = FollowingFileHandler(path, encoding="utf-8")
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.handlers[:] = [handler]
