"""What a RepositorySupervisor does with the builds a crash left behind, as it starts.

Builds left preparing or running: their process group is killed (only while its leader is still
one of our reapers), they are marked errored ("interrupted by a daemon restart"), their workspace
is removed, and each is queued once more as a new attempt marked `recovered` -- never a third
time. Builds left queued simply start, in queue order, as slots allow.
(The reason wording on a restart inside the daemon is in test_repository_recovery.py.)
"""

from __future__ import annotations

import os
import signal
import subprocess

import trio

from oore.actors.executor import Dirs
from oore.actors.repository import INTERRUPTED
from oore.execution import process
from oore.model import Build, BuildStatus, Repository
from oore.store.base import BuildFilter
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import WAIT_SECONDS, FakePlanner, new_build, push, running_supervisor
from tests.e2e.gitrepo import GitRepo


async def left_behind(
    store: SqliteStore, repo: Repository, sha: str, status: BuildStatus, **fields: object
) -> Build:
    """A build as a crash leaves it: claimed, maybe running, with what was recorded of it."""
    build = await store.create_build(new_build(repo, push(repo, sha), "ci"))
    build = await store.transition_build(build.id, BuildStatus.PREPARING)
    if status is BuildStatus.RUNNING:
        build = await store.transition_build(build.id, BuildStatus.RUNNING)
    if fields:
        await store.set_build_fields(build.id, **fields)
    return await store.get_build(build.id)


async def attempts_of(store: SqliteStore, build: Build) -> list[Build]:
    page = await store.list_builds(BuildFilter(repository_id=build.repository_id), None, 100)
    return [b for b in page.items if b.retry_of == build.id]


async def test_a_build_left_running_is_killed_errored_and_queued_once_more(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    # What the crashed daemon left: a reaper (the step's process group leader) still running,
    # its script started (so that the reaper is fully there, its command line readable), and
    # the build's workspace.
    reaper = await trio.lowlevel.open_process(
        process.reaped(["sh", "-c", "echo started; exec sleep 600"], None),
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    assert reaper.stdout is not None
    workspace = dirs.workspaces / "left-over"
    (workspace / "src").mkdir(parents=True)
    try:
        with trio.fail_after(WAIT_SECONDS):
            assert await reaper.stdout.receive_some() == b"started\n"
        crashed = await left_behind(
            store,
            repo,
            sha,
            BuildStatus.RUNNING,
            process_group=reaper.pid,
            workspace=str(workspace),
        )
        async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
            with trio.fail_after(WAIT_SECONDS):
                assert await reaper.wait() == -signal.SIGKILL
            interrupted = await store.get_build(crashed.id)
            assert (interrupted.status, interrupted.error) == (BuildStatus.ERRORED, INTERRUPTED)
            assert not workspace.exists()
            (again,) = await attempts_of(store, crashed)
            assert (again.attempt, again.recovered, again.workflow) == (2, True, "ci")
            assert again.sha == sha
            await sup.wait_holding(again.id)
            assert planner.started == [again.id]
    finally:
        with trio.CancelScope(shield=True):
            if reaper.returncode is None:
                os.killpg(reaper.pid, signal.SIGKILL)
                await reaper.wait()
            await reaper.stdout.aclose()


async def test_a_recovered_build_interrupted_again_is_not_queued_a_third_time(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    first = await left_behind(store, repo, sha, BuildStatus.PREPARING)
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        (second,) = await attempts_of(store, first)
        await sup.wait_holding(second.id)
    # The daemon "crashed" with the second attempt running (the test's cancel left it so).
    assert (await store.get_build(second.id)).status is BuildStatus.RUNNING

    async with running_supervisor(store, planner, dirs, max_concurrent=1):
        pass

    gave_up = await store.get_build(second.id)
    assert (gave_up.status, gave_up.error) == (BuildStatus.ERRORED, INTERRUPTED)
    assert await attempts_of(store, second) == []
    assert planner.started == [second.id]


async def test_queued_builds_left_behind_start_in_order_ahead_of_the_new_attempts(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    waiting = [await store.create_build(new_build(repo, push(repo, sha), "ci")) for _ in range(2)]
    crashed = await left_behind(store, repo, sha, BuildStatus.RUNNING)

    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        await sup.wait_holding(waiting[0].id)
        (again,) = await attempts_of(store, crashed)
        await sup.wait_reason(again.id, "1 of 1 executor slots busy; position 2 in the queue")
        assert (await store.get_build(waiting[1].id)).queue_reason == (
            "1 of 1 executor slots busy; position 1 in the queue"
        )
        assert planner.started == [waiting[0].id]
