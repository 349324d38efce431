"""How much room the data dir has left: new builds wait below `OORE_MIN_FREE_DISK` rather than
fail half-way through a clone or an artifact copy."""

from __future__ import annotations

import os
from pathlib import Path

import trio

GIB = 1024**3


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on `path`'s filesystem (the nearest
    existing directory's: the workspaces dir is made on first use)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


async def short_of_space(path: Path, minimum: int) -> str | None:
    """Why there is not enough room on `path`'s filesystem, or None (also when `minimum` is 0)."""
    if minimum <= 0:
        return None
    free = await trio.to_thread.run_sync(free_bytes, path)  # a hung mount must not stall us
    if free >= minimum:
        return None
    return (
        f"waiting for free disk space: {free / GIB:.1f} GiB free under {path}, "
        f"OORE_MIN_FREE_DISK is {minimum / GIB:.1f} GiB"
    )
