"""The RepositorySupervisor's queue: the slot limit and its order, `cancel_previous_builds`, and
a fork's pull request running alone. A fake planner answers the supervisor; real executors run
real (held) scripts, so a test decides when each build ends."""

from __future__ import annotations

from oore.actors.executor import Dirs
from oore.model import BuildStatus, StepStatus
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import FakePlanner, Held, pull_request, push, running_supervisor
from tests.e2e.gitrepo import GitRepo

RUNNING = BuildStatus.RUNNING
QUEUED = BuildStatus.QUEUED
CANCELLED = BuildStatus.CANCELLED


def slots_busy(position: int, limit: int = 2) -> str:
    return f"{limit} of {limit} executor slots busy; position {position} in the queue"


async def test_builds_beyond_the_limit_wait_and_start_in_queue_order(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, held: Held, origin: GitRepo
) -> None:
    repo_id, sha = planner.repository.id, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=2) as sup:
        b1, b2, b3, b4 = [await sup.manual(repo_id, "ci", sha) for _ in range(4)]
        assert [b.number for b in (b1, b2, b3, b4)] == [1, 2, 3, 4]
        await sup.wait_holding(b1.id)
        await sup.wait_holding(b2.id)
        await sup.wait_reason(b3.id, slots_busy(1))
        await sup.wait_reason(b4.id, slots_busy(2))
        assert planner.started == [b1.id, b2.id]
        assert sup.supervisor.running == 2

        held.release(b2.id)  # the second ends first: the next in the queue starts, not b4
        assert (await sup.wait_status(b2.id, BuildStatus.SUCCEEDED)).error is None
        await sup.wait_holding(b3.id)
        await sup.wait_reason(b4.id, slots_busy(1))
        assert planner.started == [b1.id, b2.id, b3.id]

        held.release(b1.id)
        await sup.wait_holding(b4.id)
        assert planner.started == [b1.id, b2.id, b3.id, b4.id]
        for build in (b3, b4):
            held.release(build.id)
        for build in (b1, b3, b4):
            assert (await sup.wait_status(build.id, BuildStatus.SUCCEEDED)).queue_reason is None


async def test_workspace_slots_pace_checkouts_but_not_the_builds_running_at_once(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, held: Held, origin: GitRepo
) -> None:
    """Every executor waits on the supervisor's one set of slots, and a slot is held while a
    workspace is made, not while the build runs: with one slot, three builds still run side by
    side, each having made its workspace in turn."""
    repo_id, sha = planner.repository.id, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=3, workspace_slots=1) as sup:
        slots = sup.supervisor.workspace_slots
        await slots.acquire()  # as if another build were making its workspace
        builds = [await sup.manual(repo_id, "ci", sha) for _ in range(3)]
        for build in builds:
            await sup.logs.wait_for(
                lambda b=build: "waiting for a workspace slot" in sup.logs.text(b.id)
            )
            assert (await store.get_build(build.id)).status is BuildStatus.PREPARING
        slots.release()
        for build in builds:
            await sup.wait_holding(build.id)
        assert sup.supervisor.running == 3
        for build in builds:
            assert (await store.get_build(build.id)).status is RUNNING
            held.release(build.id)
        for build in builds:
            await sup.wait_status(build.id, BuildStatus.SUCCEEDED)


async def test_a_newer_build_cancels_only_the_older_queued_ones_of_its_line(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    """Same repository, workflow and branch (or pull request number): nothing else."""
    repo, sha = planner.repository, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        # Keeps the one slot busy, so that everything after it stays queued.
        (busy,) = await sup.trigger(planner, push(repo, sha, "busy"), "ci")
        await sup.wait_holding(busy.id)
        (main_ci, main_lint) = await sup.trigger(planner, push(repo, sha, "main"), "ci", "lint")
        (other_ci,) = await sup.trigger(planner, push(repo, sha, "other"), "ci")
        (pr5,) = await sup.trigger(planner, pull_request(repo, sha, 5), "ci")
        (pr6,) = await sup.trigger(planner, pull_request(repo, sha, 6), "ci")
        # A newer ci build on main that does not cancel previous builds supersedes nothing.
        (main_ci_keep,) = await sup.trigger(planner, push(repo, sha, "main"), "ci")
        await sup.wait_build(main_ci_keep.id, lambda b: b.queue_reason is not None)
        assert (await store.get_build(main_ci.id)).status is QUEUED

        (newer_main,) = await sup.trigger(planner, push(repo, sha, "main"), "!ci")
        (newer_pr5,) = await sup.trigger(planner, pull_request(repo, sha, 5), "!ci")

        for older, newer, line in (
            (main_ci, newer_main, "a newer push to main"),
            (main_ci_keep, newer_main, "a newer push to main"),
            (pr5, newer_pr5, "a newer commit on pull request #5"),
        ):
            cancelled = await sup.wait_status(older.id, CANCELLED)
            assert cancelled.error == f"cancelled by #{newer.number} ({line})"
            assert (cancelled.cancelled_by, cancelled.cancelled_by_number) == (
                newer.id,
                newer.number,
            )
        for untouched in (main_lint, other_ci, pr6, newer_main, newer_pr5):
            assert (await store.get_build(untouched.id)).status is QUEUED
        assert (await store.get_build(busy.id)).status is RUNNING
        assert planner.started == [busy.id]


async def test_a_newer_push_stops_the_running_build_of_its_branch(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=2) as sup:
        (older,) = await sup.trigger(planner, push(repo, sha, "main"), "!ci")
        (other,) = await sup.trigger(planner, push(repo, sha, "other"), "!ci")
        await sup.wait_holding(older.id)
        await sup.wait_holding(other.id)
        running = await store.get_build(older.id)
        assert running.process_group is not None

        (newer,) = await sup.trigger(planner, push(repo, sha, "main"), "!ci")

        stopped = await sup.wait_status(older.id, CANCELLED)
        assert stopped.finished_at is not None
        assert stopped.error == f"cancelled by #{newer.number} (a newer push to main)"
        assert (stopped.cancelled_by, stopped.cancelled_by_number) == (newer.id, newer.number)
        steps = await store.get_steps(older.id)
        assert [s.status for s in steps] == [StepStatus.CANCELLED]
        await sup.wait_holding(newer.id)  # in the slot the older one left
        assert (await store.get_build(other.id)).status is RUNNING
        assert planner.started == [older.id, other.id, newer.id]


async def test_a_pull_request_from_a_fork_runs_alone(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, held: Held, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=4) as sup:
        first = await sup.manual(repo.id, "ci", sha)
        await sup.wait_holding(first.id)
        (fork,) = await sup.trigger(planner, pull_request(repo, sha, 9, from_fork=True), "ci")
        later = await sup.manual(repo.id, "lint", sha)

        # Free slots, yet the fork waits for the running build, and what came after the fork
        # waits behind it (it is not starved by builds queued later).
        await sup.wait_reason(
            fork.id,
            "a pull request from a fork runs alone: waiting for 1 build(s); "
            "position 1 in the queue",
        )
        await sup.wait_reason(
            later.id,
            "waiting behind a pull request from a fork (it runs alone); position 2 in the queue",
        )

        held.release(first.id)
        await sup.wait_holding(fork.id)
        await sup.wait_reason(
            later.id,
            "waiting for a pull request from a fork to finish (it runs alone); "
            "position 1 in the queue",
        )
        assert sup.supervisor.running == 1

        held.release(fork.id)
        await sup.wait_holding(later.id)
        assert planner.started == [first.id, fork.id, later.id]
        assert (await store.get_build(fork.id)).status is BuildStatus.SUCCEEDED


async def test_builds_wait_for_free_disk_space_and_start_once_there_is_some(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, held: Held, origin: GitRepo
) -> None:
    repo_id, sha = planner.repository.id, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=2) as sup:
        sup.supervisor.min_free_disk = 2**62  # more than any disk here has free
        sup.supervisor.disk_recheck = 0.05
        build = await sup.manual(repo_id, "ci", sha)
        waiting = await sup.wait_reason_containing(build.id, "waiting for free disk space")
        assert "OORE_MIN_FREE_DISK" in (waiting.queue_reason or "")
        assert planner.started == []
        sup.supervisor.min_free_disk = 1  # room again: nothing rings, the queue looks again
        await sup.wait_holding(build.id)
        held.release(build.id)
        assert (await sup.wait_status(build.id, BuildStatus.SUCCEEDED)).queue_reason is None
