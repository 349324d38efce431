"""The RepositorySupervisor's answers to requests (manual build, cancel, retry) and to a trigger
its planner fails on. A fake planner answers the supervisor; real executors run held scripts."""

from __future__ import annotations

from oore.actors.executor import Dirs
from oore.actors.messages import ManualBuild, TriggerReceived
from oore.errors import Conflict, NotFound, ValidationError
from oore.model import BuildStatus, EventState, StepStatus
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import (
    FakePlanner,
    Held,
    eventually,
    process_alive,
    push,
    running_supervisor,
    stored_event,
)
from tests.e2e.gitrepo import GitRepo


async def test_cancel_ends_a_queued_build_at_once_and_a_running_one_through_its_executor(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo_id, sha = planner.repository.id, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        running = await sup.manual(repo_id, "ci", sha)
        queued = await sup.manual(repo_id, "ci", sha)
        await sup.wait_holding(running.id)

        answer = (await sup.cancel(queued.id)).unwrap()
        assert (answer.status, answer.error) == (BuildStatus.CANCELLED, "cancelled while queued")

        group = (await store.get_build(running.id)).process_group
        assert group is not None
        assert process_alive(group)
        (await sup.cancel(running.id)).unwrap()  # answered at once; the executor ends it
        ended = await sup.wait_status(running.id, BuildStatus.CANCELLED)
        assert ended.finished_at is not None
        assert [s.status for s in await store.get_steps(running.id)] == [StepStatus.CANCELLED]
        assert not process_alive(group)
        assert planner.started == [running.id]  # the cancelled queued build never started


async def test_cancel_of_a_finished_or_unknown_build_is_refused(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, held: Held, origin: GitRepo
) -> None:
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        build = await sup.manual(planner.repository.id, "ci", origin.head())
        await sup.wait_holding(build.id)
        held.release(build.id)
        await sup.wait_status(build.id, BuildStatus.SUCCEEDED)

        refused = (await sup.cancel(build.id)).error
        assert isinstance(refused, Conflict)
        assert refused.message == f"build {build.id} already finished (succeeded)"
        assert isinstance((await sup.cancel("01NOSUCHBUILD0000000000000")).error, NotFound)


async def test_retry_queues_a_new_attempt_of_a_finished_build_only(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, held: Held, origin: GitRepo
) -> None:
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        first = await sup.manual(planner.repository.id, "ci", origin.head())
        await sup.wait_holding(first.id)

        refused = (await sup.retry(first.id)).error
        assert isinstance(refused, Conflict)
        assert "cancel it first" in refused.message

        held.release(first.id)
        await sup.wait_status(first.id, BuildStatus.SUCCEEDED)
        again = (await sup.retry(first.id)).unwrap()
        assert (again.attempt, again.retry_of, again.number) == (2, first.id, 2)
        assert (again.workflow, again.sha, again.recovered) == ("ci", first.sha, False)
        await sup.wait_holding(again.id)  # and it runs
        assert planner.started == [first.id, again.id]


async def test_a_build_the_planner_cannot_make_a_job_for_is_errored_with_its_reason(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        build = await sup.manual(planner.repository.id, "gone", origin.head())
        errored = await sup.wait_status(build.id, BuildStatus.ERRORED)
        assert errored.error == "fake planner: no workflow gone"


async def test_a_manual_request_the_planner_refuses_is_answered_with_its_error(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    planner.refuse_manual = ValidationError("branch", "refs/heads/nope does not exist")
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        answer = await sup.ask(lambda r: ManualBuild(planner.repository.id, "ci", r, branch="x"))
    assert isinstance(answer.error, ValidationError)
    assert answer.error.message == "branch: refs/heads/nope does not exist"


async def test_a_trigger_the_planner_fails_on_fails_its_event_and_the_supervisor_goes_on(
    store: SqliteStore, planner: FakePlanner, dirs: Dirs, origin: GitRepo
) -> None:
    repo, sha = planner.repository, origin.head()
    async with running_supervisor(store, planner, dirs, max_concurrent=1) as sup:
        event_id = await stored_event(store, repo)
        planner.plans[event_id] = RuntimeError("planner broke")
        await sup.inbox.send(TriggerReceived(event_id, repo.id, push(repo, sha)))
        event = await eventually(
            lambda: store.get_event(event_id), lambda e: e.state is not EventState.PENDING
        )
        # The supervisor goes on: the next request is served.
        build = await sup.manual(repo.id, "ci", sha)
        await sup.wait_holding(build.id)

    assert event.state is EventState.FAILED
    assert event.reason == "internal error: RuntimeError('planner broke')"
    assert await store.builds_for_event(event_id) == []
