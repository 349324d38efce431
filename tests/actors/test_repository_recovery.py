"""What the RepositorySupervisor's start-up recovery tells about interrupted builds.

At the daemon's start, builds left preparing or running were interrupted by a daemon restart. A
later start of the same supervisor inside a running daemon (the runtime restarts it after an
internal error) must not claim a daemon restart happened: it says what did.
"""

from __future__ import annotations

from pathlib import Path

from oore.actors.executor import Dirs
from oore.actors.planner import BuildPlanner
from oore.actors.repository import INTERRUPTED, INTERRUPTED_IN_PROCESS, RepositorySupervisor
from oore.actors.runtime import mailbox
from oore.crypto import Sealer
from oore.model import BuildStatus
from oore.store.sqlite import SqliteStore
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
    logs, _ = mailbox(1)
    planner = BuildPlanner(store, sealer, tmp_path / "mirrors")
    supervisor = RepositorySupervisor(store, planner, inbox, logs, dirs, max_concurrent=1)

    at_start = await running_build(store, repo.id)
    await supervisor.recover()
    assert (await store.get_build(at_start)).error == INTERRUPTED

    in_process = await running_build(store, repo.id)
    await supervisor.recover()
    found = await store.get_build(in_process)
    assert found.status is BuildStatus.ERRORED
    assert found.error == INTERRUPTED_IN_PROCESS
