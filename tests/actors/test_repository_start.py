"""What a RepositorySupervisor does with the builds a crash left behind, as it starts.

Builds left preparing or running: their process group is killed (only while its leader is still
one of our reapers), their workspace is removed, and each goes back to the queue as the same
build (steps reset, `recovered` set, its log saying why) -- unless one of its publishing steps
had started (publishing twice could release twice) or a restart interrupted it once already:
those are errored with the reason. Builds left queued simply start, in queue order, as slots
allow.
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
from oore.ids import new_id
from oore.model import Build, BuildStatus, Repository, Step, StepStatus
from oore.store.base import BuildFilter
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import (
    WAIT_SECONDS,
    FakePlanner,
    Running,
    new_build,
    push,
    running_supervisor,
)
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


def log_notes(sup: Running, build_id: str) -> list[str]:
    return [c.data.decode() for c in sup.logs.chunks(build_id) if c.stream == "oore"]


async def with_steps(store: SqliteStore, build: Build, *steps: tuple[str, str, bool]) -> None:
    """Steps as the crashed executor left them: (name, kind, whether it had started)."""
    made = [
        Step(id=new_id(), build_id=build.id, index=i, name=name, kind=kind)
        for i, (name, kind, _) in enumerate(steps)
    ]
    await store.create_steps(made)
    for step, (_, _, started) in zip(made, steps, strict=True):
        if started:
            await store.transition_step(step.id, StepStatus.RUNNING)


async def test_a_build_left_running_is_killed_and_queued_again_as_itself(
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
        await with_steps(store, crashed, ("build", "script", True), ("upload", "publishing", False))
        before = await store.get_steps(crashed.id)
        (dirs.artifacts / crashed.id).mkdir(parents=True)
        async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
            with trio.fail_after(WAIT_SECONDS):
                assert await reaper.wait() == -signal.SIGKILL
            assert not workspace.exists()
            assert not (dirs.artifacts / crashed.id).exists()
            await sup.wait_holding(crashed.id)
            assert planner.started == [crashed.id]
            again = await store.get_build(crashed.id)
            # Running again: the fake planner holds it there.
            assert (again.status, again.recovered, again.error) == (BuildStatus.RUNNING, True, None)
            assert (again.attempt, again.number) == (1, crashed.number)
            # Its executor makes its steps afresh: the first run's are gone.
            assert not {s.id for s in before} & {s.id for s in await store.get_steps(crashed.id)}
            assert log_notes(sup, crashed.id)[:1] == [
                f"[oore] {INTERRUPTED}; queued to run again from the start\n"
            ]
            page = await store.list_builds(BuildFilter(repository_id=repo.id), None, 100)
            assert [b.id for b in page.items] == [crashed.id]  # no second build
    finally:
        with trio.CancelScope(shield=True):
            if reaper.returncode is None:
                os.killpg(reaper.pid, signal.SIGKILL)
                await reaper.wait()
            await reaper.stdout.aclose()


async def test_a_build_interrupted_while_publishing_is_errored_not_run_again(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    crashed = await left_behind(store, repo, sha, BuildStatus.RUNNING)
    await with_steps(store, crashed, ("build", "script", True), ("upload", "publishing", True))
    (dirs.artifacts / crashed.id).mkdir(parents=True)
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        gave_up = await store.get_build(crashed.id)
        assert gave_up.status is BuildStatus.ERRORED
        assert gave_up.error is not None
        assert gave_up.error.startswith(
            f"{INTERRUPTED} while publishing (step 2, upload); not run again automatically"
        )
        assert "publishing twice could release twice" in gave_up.error
        assert log_notes(sup, crashed.id) == [f"[oore] {gave_up.error}\n"]
        # Kept as they were, for a person to look at.
        assert [s.status for s in await store.get_steps(crashed.id)] == [StepStatus.RUNNING] * 2
    assert planner.started == []
    assert (dirs.artifacts / crashed.id).exists()  # what it may have published is kept


async def test_a_build_interrupted_a_second_time_is_errored(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    first = await left_behind(store, repo, sha, BuildStatus.PREPARING)
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        await sup.wait_holding(first.id)
    # The daemon "crashed" with it running again (the test's cancel left it so).
    assert (await store.get_build(first.id)).status is BuildStatus.RUNNING

    async with running_supervisor(store, planner, dirs, max_concurrent=1):
        pass

    gave_up = await store.get_build(first.id)
    assert gave_up.status is BuildStatus.ERRORED
    assert gave_up.error == (
        f"{INTERRUPTED} a second time; not run again automatically (retry it by hand)"
    )
    assert planner.started == [first.id]


async def test_queued_builds_left_behind_start_in_order_ahead_of_the_interrupted_ones(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    waiting = [await store.create_build(new_build(repo, push(repo, sha), "ci")) for _ in range(2)]
    crashed = await left_behind(store, repo, sha, BuildStatus.RUNNING)

    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        await sup.wait_holding(waiting[0].id)
        await sup.wait_reason(crashed.id, "1 of 1 executor slots busy; position 2 in the queue")
        assert (await store.get_build(waiting[1].id)).queue_reason == (
            "1 of 1 executor slots busy; position 1 in the queue"
        )
        assert planner.started == [waiting[0].id]
