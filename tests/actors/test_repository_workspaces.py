"""Failed builds' workspaces are kept for OORE_KEEP_FAILED_WORKSPACES hours, then removed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from oore.actors.executor import Dirs
from oore.actors.planner import BuildPlanner
from oore.actors.repository import RepositorySupervisor
from oore.actors.runtime import mailbox
from oore.crypto import Sealer
from oore.store.sqlite import SqliteStore


async def test_old_failed_workspaces_are_removed_recent_ones_kept(
    tmp_path: Path, store: SqliteStore, sealer: Sealer
) -> None:
    dirs = Dirs(tmp_path / "ws", tmp_path / "artifacts", tmp_path / "cache", tmp_path / "tmp")
    old, recent = dirs.workspaces / "01OLD", dirs.workspaces / "01RECENT"
    for path in (old, recent):
        (path / "src").mkdir(parents=True)
        (path / "src" / "file.txt").write_text("x")
    two_days_ago = time.time() - 48 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    _, inbox = mailbox(1)
    logs, _ = mailbox(1)
    supervisor = RepositorySupervisor(
        store,
        BuildPlanner(store, sealer, tmp_path / "mirrors"),
        inbox,
        logs,
        dirs,
        max_concurrent=1,
        keep_failed_hours=24,
    )
    removed = await supervisor.expire_workspaces()
    assert removed == ["01OLD"]
    assert not old.exists()
    assert (recent / "src" / "file.txt").read_text() == "x"
