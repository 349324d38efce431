"""What the RepositorySupervisor's start-up recovery tells about interrupted builds.

At the daemon's start, builds left preparing or running were interrupted by a daemon restart. A
later start of the same supervisor inside a running daemon (the runtime restarts it after an
internal error) must not claim a daemon restart happened: the build's log says what did.
"""

from __future__ import annotations

from pathlib import Path

import trio

from oore.actors.executor import Dirs
from oore.actors.planner import BuildPlanner
from oore.actors.repository import INTERRUPTED, INTERRUPTED_IN_PROCESS, RepositorySupervisor
from oore.actors.runtime import mailbox
from oore.crypto import Sealer
from oore.model import BuildStatus
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import LogRecorder
from tests.store.factories import NO_SECRETS, make_build, make_repo


async def running_build(store: SqliteStore, repository_id: str) -> str:
    repo = await store.get_repository(repository_id)
    build = await store.create_build(make_build(repo))
    await store.transition_build(build.id, BuildStatus.PREPARING)
    await store.transition_build(build.id, BuildStatus.RUNNING)
    return build.id


async def test_only_the_first_recovery_speaks_of_a_daemon_restart(
    tmp_path: Path, store: SqliteStore, sealer: Sealer
) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    dirs = Dirs(tmp_path / "ws", tmp_path / "artifacts", tmp_path / "cache", tmp_path / "tmp")
    _, inbox = mailbox(1)
    logs = LogRecorder()
    planner = BuildPlanner(store, sealer, tmp_path / "mirrors")
    supervisor = RepositorySupervisor(store, planner, inbox, logs.send, dirs, max_concurrent=1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(logs.run)
        at_start = await running_build(store, repo.id)
        await supervisor.recover()
        assert (await store.get_build(at_start)).status is BuildStatus.QUEUED
        await store.transition_build(at_start, BuildStatus.CANCELLED)

        in_process = await running_build(store, repo.id)
        await supervisor.recover()
        assert (await store.get_build(in_process)).status is BuildStatus.QUEUED
        await logs.wait_for(lambda: len(logs.received) == 4)
        nursery.cancel_scope.cancel()
    assert notes(logs, at_start) == [f"[oore] {INTERRUPTED}; queued to run again from the start\n"]
    assert notes(logs, in_process) == [
        f"[oore] {INTERRUPTED_IN_PROCESS}; queued to run again from the start\n"
    ]


def notes(logs: LogRecorder, build_id: str) -> list[str]:
    return [c.data.decode() for c in logs.chunks(build_id)]
