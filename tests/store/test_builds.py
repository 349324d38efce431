"""Builds in SQLite: numbering, the transition guard, the exactly-once creation of a delivery's
builds, the queue (its order, positions and reasons), listings, the typed trigger, and the
changes announced once each write is committed (and never for a write that failed)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import trio

from oore.errors import Conflict, IllegalTransition, NotFound
from oore.ids import new_id
from oore.model import (
    Artifact,
    Build,
    BuildStatus,
    EventState,
    Provider,
    Repository,
    Step,
    StepStatus,
    Trigger,
    TriggerKind,
    WorkflowMatch,
    utcnow,
)
from oore.store.base import BuildFilter, EventFilter
from oore.store.changes import ChangeKind
from oore.store.sqlite import SqliteStore
from tests.store.factories import (
    NO_SECRETS,
    make_build,
    make_event,
    make_repo,
    make_trigger,
    witness,
)


async def registered(store: SqliteStore, name: str = "app", github_id: int = 42) -> Repository:
    repo = make_repo(name, github_id)
    await store.create_repository(repo, NO_SECRETS)
    return repo


async def pending_event(store: SqliteStore, delivery: str = "d-1") -> str:
    event = make_event(delivery)
    await store.insert_event(event)
    return event.id


async def running(store: SqliteStore, build_id: str) -> Build:
    await store.transition_build(build_id, BuildStatus.PREPARING)
    return await store.transition_build(build_id, BuildStatus.RUNNING)


# --- creating ------------------------------------------------------------------------------


async def test_build_numbers_and_transitions(store: SqliteStore) -> None:
    repo = await registered(store)
    first = await store.create_build(make_build(repo))
    second = await store.create_build(make_build(repo, "other"))
    third = await store.create_build(make_build(repo))
    assert [(b.number, b.project_build_number) for b in (first, second, third)] == [
        (1, 1),
        (2, 1),
        (3, 2),
    ]
    with pytest.raises(IllegalTransition):
        await store.transition_build(first.id, BuildStatus.SUCCEEDED)
    assert (await store.get_build(first.id)).status is BuildStatus.QUEUED
    now_running = await running(store, first.id)
    assert now_running.started_at is not None
    done = await store.transition_build(first.id, BuildStatus.SUCCEEDED)
    assert done.finished_at is not None
    with pytest.raises(IllegalTransition):
        await store.transition_build(first.id, BuildStatus.RUNNING)


async def test_a_build_needs_its_repository(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.create_build(make_build(make_repo()))
    with pytest.raises(NotFound):
        await store.get_build("nope")


async def test_one_build_per_event_and_workflow(store: SqliteStore) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    await store.create_build(make_build(repo, event_id=event_id))
    with pytest.raises(Conflict):
        await store.create_build(make_build(repo, event_id=event_id))
    assert len(await store.builds_for_event(event_id)) == 1


async def test_transition_fields_are_the_listed_ones(store: SqliteStore) -> None:
    repo = await registered(store)
    build = await store.create_build(make_build(repo))
    with pytest.raises(ValueError, match="number"):
        await store.transition_build(build.id, BuildStatus.PREPARING, number=9)
    prepared = await store.transition_build(
        build.id, BuildStatus.PREPARING, workspace="/ws", started_at="2024-01-01T00:00:00.000Z"
    )
    assert (prepared.workspace, prepared.started_at) == ("/ws", "2024-01-01T00:00:00.000Z")
    errored = await store.transition_build(build.id, BuildStatus.ERRORED, error="no mirror")
    assert (errored.error, errored.finished_at is not None) == ("no mirror", True)


# --- a delivery's builds, exactly once ------------------------------------------------------


async def test_create_builds_for_event_creates_and_closes_the_event(store: SqliteStore) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    trigger = make_trigger()
    builds = [make_build(repo, w, event_id) for w in ("ios", "android")]
    created = await store.create_builds_for_event(event_id, builds, "2 builds", trigger)
    assert created is not None
    assert [(b.workflow, b.number) for b in created] == [("ios", 1), ("android", 2)]
    assert sorted(b.id for b in await store.builds_for_event(event_id)) == sorted(
        b.id for b in builds
    )
    event = await store.get_event(event_id)
    assert (event.state, event.reason, event.trigger, event.repository_id) == (
        EventState.PROCESSED,
        "2 builds",
        trigger,
        repo.id,
    )


async def test_create_builds_for_event_a_second_time_creates_nothing(store: SqliteStore) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    first = await store.create_builds_for_event(
        event_id, [make_build(repo, "ios", event_id)], "1 build", make_trigger()
    )
    assert first is not None
    # A redelivery or a second sweep: planned again, with new build ids, even other workflows.
    again = [make_build(repo, "ios", event_id), make_build(repo, "web", event_id)]
    with witness(store) as seen:
        created = await store.create_builds_for_event(event_id, again, "2", make_trigger())
    assert created is None
    assert seen.seen == []
    assert [b.id for b in await store.builds_for_event(event_id)] == [first[0].id]
    assert (await store.get_event(event_id)).reason == "1 build"
    assert (await store.create_build(make_build(repo))).number == 2  # no number was used up


async def test_concurrent_create_builds_for_event_create_once(store: SqliteStore) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    results: list[list[Build] | None] = []

    async def plan_and_create(workflow: str) -> None:
        builds = [make_build(repo, workflow, event_id)]
        created = await store.create_builds_for_event(event_id, builds, workflow, make_trigger())
        results.append(created)

    async with trio.open_nursery() as nursery:
        for workflow in ("a", "b", "c", "d"):
            nursery.start_soon(plan_and_create, workflow)
    winners = [r for r in results if r is not None]
    assert len(results) == 4
    assert len(winners) == 1
    assert [b.id for b in await store.builds_for_event(event_id)] == [winners[0][0].id]


async def test_create_builds_for_event_needs_a_pending_event(store: SqliteStore) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    await store.finish_event(event_id, EventState.IGNORED, "ping", None, None)
    builds = [make_build(repo, "ios", event_id)]
    assert await store.create_builds_for_event(event_id, builds, "x", make_trigger()) is None
    assert await store.create_builds_for_event("nope", builds, "x", make_trigger()) is None
    assert await store.builds_for_event(event_id) == []


async def test_an_event_with_no_builds_is_ignored_with_its_repository_kept(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    event = dataclasses.replace(make_event("d-2"), repository_id=repo.id)
    await store.insert_event(event)
    assert await store.create_builds_for_event(event.id, [], "no workflow", make_trigger()) == []
    closed = await store.get_event(event.id)
    assert (closed.state, closed.repository_id) == (EventState.IGNORED, repo.id)


async def test_an_event_keeps_which_workflows_matched_until_it_is_reset(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    matches = (
        WorkflowMatch("ios", True),
        WorkflowMatch("android", False, "branch 'feature/x' not matched by branch_patterns"),
    )
    builds = [make_build(repo, "ios")]
    await store.create_builds_for_event(event_id, builds, "1 build", make_trigger(), matches)
    closed = await store.get_event(event_id)
    assert (closed.state, closed.workflows) == (EventState.PROCESSED, matches)
    assert (await store.list_events(EventFilter(), None, 10)).items[0].workflows == matches
    reopened = await store.reset_event(event_id)
    assert (reopened.state, reopened.workflows) == (EventState.PENDING, ())


# --- the queue -----------------------------------------------------------------------------


async def test_builds_in_takes_statuses_and_keeps_queue_order(store: SqliteStore) -> None:
    repo = await registered(store)
    builds = [await store.create_build(make_build(repo)) for _ in range(4)]
    await running(store, builds[1].id)
    await store.transition_build(builds[2].id, BuildStatus.CANCELLED)
    queued = await store.builds_in((BuildStatus.QUEUED,))
    assert [b.id for b in queued] == [builds[0].id, builds[3].id]
    active = {BuildStatus.QUEUED, BuildStatus.PREPARING, BuildStatus.RUNNING}
    assert [b.id for b in await store.builds_in(active)] == [
        builds[0].id,
        builds[1].id,
        builds[3].id,
    ]
    assert await store.builds_in(()) == []


async def test_queue_position(store: SqliteStore) -> None:
    one, two = await registered(store, "one", 1), await registered(store, "two", 2)
    first = await store.create_build(make_build(one))
    started = await store.create_build(make_build(one))
    second = await store.create_build(make_build(two))
    third = await store.create_build(make_build(one, "android"))
    await running(store, started.id)
    positions = [await store.queue_position(b.id) for b in (first, started, second, third)]
    assert positions == [1, None, 2, 3]
    await store.transition_build(first.id, BuildStatus.CANCELLED)
    assert [await store.queue_position(b.id) for b in (first, second, third)] == [None, 1, 2]
    with pytest.raises(NotFound):
        await store.queue_position("nope")


async def test_queue_reasons_are_set_on_queued_builds_only(store: SqliteStore) -> None:
    repo = await registered(store)
    waiting = await store.create_build(make_build(repo))
    started = await store.create_build(make_build(repo))
    await running(store, started.id)
    await store.set_queue_reasons({waiting.id: "1 of 1 slots busy", started.id: "late", "x": "y"})
    assert (await store.get_build(waiting.id)).queue_reason == "1 of 1 slots busy"
    assert (await store.get_build(started.id)).queue_reason is None


async def test_set_build_fields(store: SqliteStore) -> None:
    repo = await registered(store)
    build = await store.create_build(make_build(repo))
    await store.set_build_fields(build.id, workspace="/ws/1", process_group=4242)
    got = await store.get_build(build.id)
    assert (got.workspace, got.process_group, got.status) == ("/ws/1", 4242, BuildStatus.QUEUED)
    # Times are stamped by transitions, the status changed only through them.
    # What a viewer sees (error, queue_reason) changes only by an announced transition.
    for field in ("started_at", "status", "number", "error", "queue_reason"):
        with pytest.raises(ValueError, match="not updatable"):
            await store.set_build_fields(build.id, **{field: "x"})
    with pytest.raises(NotFound):
        await store.set_build_fields("nope", workspace="/ws")


# --- listings -------------------------------------------------------------------------------


async def test_list_builds_filters_and_pages(store: SqliteStore) -> None:
    app, web = await registered(store, "app", 1), await registered(store, "web", 2)
    made = [
        await store.create_build(make_build(app, "ios", trigger=make_trigger("main"))),
        await store.create_build(make_build(app, "android", trigger=make_trigger("dev"))),
        await store.create_build(make_build(web, "ios", trigger=make_trigger("main"))),
        await store.create_build(make_build(app, "ios", trigger=make_trigger(None, tag="v1"))),
    ]
    await store.transition_build(made[0].id, BuildStatus.CANCELLED)
    ids = [b.id for b in made]

    async def listed(where: BuildFilter) -> list[str]:
        return [b.id for b in (await store.list_builds(where, None, 10)).items]

    assert await listed(BuildFilter()) == ids[::-1]
    assert await listed(BuildFilter(repository_id=app.id)) == [ids[3], ids[1], ids[0]]
    assert await listed(BuildFilter(branch="main")) == [ids[2], ids[0]]
    assert await listed(BuildFilter(workflow="ios", repository_id=app.id)) == [ids[3], ids[0]]
    assert await listed(BuildFilter(status=BuildStatus.CANCELLED)) == [ids[0]]
    page = await store.list_builds(BuildFilter(), None, 3)
    rest = await store.list_builds(BuildFilter(), page.next_cursor, 3)
    assert [b.id for b in page.items + rest.items] == ids[::-1]
    assert rest.next_cursor is None


async def test_last_successful_build(store: SqliteStore) -> None:
    repo = await registered(store)
    assert await store.last_successful_build(repo.id, "ios") is None
    builds = [await store.create_build(make_build(repo, "ios")) for _ in range(3)]
    other = await store.create_build(make_build(repo, "android"))
    for build, status in zip(
        [*builds, other],
        [BuildStatus.SUCCEEDED, BuildStatus.SUCCEEDED, BuildStatus.FAILED, BuildStatus.SUCCEEDED],
        strict=True,
    ):
        await running(store, build.id)
        await store.transition_build(build.id, status)
    found = await store.last_successful_build(repo.id, "ios")
    assert found is not None
    assert found.id == builds[1].id


# --- the typed trigger ------------------------------------------------------------------------


async def test_a_manual_trigger_reads_back_equal(store: SqliteStore) -> None:
    repo = await registered(store)
    manual = Trigger(
        Provider.GITHUB, TriggerKind.MANUAL, "acme", "app", "b" * 40, branch="main", author="ada"
    )
    build = await store.create_build(make_build(repo, trigger=manual))
    got = await store.get_build(build.id)
    assert got.trigger == manual
    assert (got.sha, got.from_fork) == ("b" * 40, False)


async def test_a_pull_request_stored_before_forks_were_told_apart_is_a_forks(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    pr = Trigger(Provider.GITHUB, TriggerKind.PULL_REQUEST, "acme", "app", "c" * 40, pr_number=7)
    build = await store.create_build(make_build(repo, trigger=pr))
    old = {k: v for k, v in pr.to_json().items() if k != "from_fork"}
    await store.engine.write(
        lambda db: db.execute(
            "UPDATE builds SET trigger = ? WHERE id = ?", [json.dumps(old), build.id]
        )
    )
    got = await store.get_build(build.id)
    assert got.trigger.kind is TriggerKind.PULL_REQUEST
    assert got.from_fork is True


# --- announcements ------------------------------------------------------------------------------


async def test_build_changes_are_announced_once_committed(store: SqliteStore) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    with witness(store) as seen:
        built = await store.create_build(make_build(repo))
        planned = await store.create_builds_for_event(
            event_id, [make_build(repo, w, event_id) for w in ("a", "b")], "2", make_trigger()
        )
        await store.transition_build(built.id, BuildStatus.PREPARING)
        await store.set_queue_reasons({planned[0].id: "waiting"} if planned else {})
        await store.transition_build(built.id, BuildStatus.CANCELLED)
    assert planned is not None
    assert seen.kinds == [
        "build_created",
        "build_created",
        "build_created",
        "build_changed",
        "queue_changed",
        "build_changed",
    ]
    changes = [change for change, _ in seen.seen]
    assert [c.build.id if c.build else None for c in changes] == [
        built.id,
        planned[0].id,
        planned[1].id,
        built.id,
        None,
        built.id,
    ]
    assert changes[4].queue == {planned[0].id: "waiting"}
    # What a subscriber reading the row back at each announcement finds: the announced state.
    assert [row for _, row in seen.seen] == [
        "queued",
        "queued",
        "queued",
        "preparing",
        {planned[0].id: "waiting"},
        "cancelled",
    ]
    assert [c.build.status for c in changes if c.build] == [
        "queued",
        "queued",
        "queued",
        "preparing",
        "cancelled",
    ]


async def test_a_subscriber_reading_back_finds_the_announced_state(store: SqliteStore) -> None:
    repo = await registered(store)
    build = await store.create_build(make_build(repo))
    read_back: list[BuildStatus] = []

    async def subscriber(task_status: trio.TaskStatus[None]) -> None:
        with store.changes.subscribe() as changes:
            task_status.started()
            async for change in changes:
                assert change.build is not None
                read_back.append((await store.get_build(change.build.id)).status)
                if change.build.status.finished:
                    return

    async with trio.open_nursery() as nursery:
        await nursery.start(subscriber)
        await store.transition_build(build.id, BuildStatus.PREPARING)
        await store.transition_build(build.id, BuildStatus.CANCELLED)
    assert read_back[-1] is BuildStatus.CANCELLED
    assert read_back[0] in (BuildStatus.PREPARING, BuildStatus.CANCELLED)


async def test_failed_build_writes_announce_nothing(store: SqliteStore) -> None:
    repo = await registered(store)
    event_id = await pending_event(store)
    build = await store.create_build(make_build(repo, event_id=event_id))
    with witness(store) as seen:
        with pytest.raises(IllegalTransition):
            await store.transition_build(build.id, BuildStatus.SUCCEEDED)
        with pytest.raises(NotFound):
            await store.transition_build("nope", BuildStatus.PREPARING)
        with pytest.raises(ValueError, match="not updatable"):
            await store.transition_build(build.id, BuildStatus.PREPARING, number=3)
        with pytest.raises(NotFound):
            await store.create_build(make_build(make_repo("gone", 9)))
        with pytest.raises(Conflict):
            await store.create_build(make_build(repo, event_id=event_id))
        assert (
            await store.create_builds_for_event(
                "nope", [make_build(repo, "x")], "x", make_trigger()
            )
            is None
        )
        twice = [make_build(repo, "x", event_id), make_build(repo, "x", event_id)]
        with pytest.raises(Conflict):  # two builds of one workflow: the whole unit rolls back
            await store.create_builds_for_event(event_id, twice, "x", make_trigger())
        await store.set_build_fields(build.id, workspace="/ws")  # a fact, not a change
    assert seen.seen == []
    assert (await store.get_event(event_id)).state is EventState.PENDING


# --- a daemon restart's interrupted builds --------------------------------------------------


async def test_an_interrupted_build_is_requeued_as_itself_without_its_first_run(
    store: SqliteStore,
) -> None:
    repo = await registered(store)
    build = await store.create_build(make_build(repo))
    await running(store, build.id)
    await store.set_build_fields(build.id, process_group=4242, workspace="/tmp/ws")
    step = Step(id=new_id(), build_id=build.id, index=0, name="compile")
    await store.create_steps([step])
    await store.transition_step(step.id, StepStatus.RUNNING)
    artifact = Artifact(
        new_id(), build.id, "app.ipa", f"{build.id}/app.ipa", 1, "0" * 64, "x/y", utcnow()
    )
    await store.add_artifacts([artifact])
    with witness(store) as seen:
        again = await store.requeue_interrupted(build.id)
    assert (again.id, again.number, again.status, again.recovered) == (
        build.id,
        build.number,
        BuildStatus.QUEUED,
        True,
    )
    assert (again.started_at, again.process_group, again.workspace) == (None, None, None)
    assert await store.get_steps(build.id) == []
    assert await store.list_artifacts(build.id) == []
    assert [(c.kind, c.build, row) for c, row in seen.seen] == [
        (ChangeKind.BUILD_CHANGED, again, "queued")  # announced once committed
    ]


async def test_only_a_started_build_can_be_requeued(store: SqliteStore) -> None:
    repo = await registered(store)
    build = await store.create_build(make_build(repo))
    with pytest.raises(IllegalTransition):
        await store.requeue_interrupted(build.id)
    await running(store, build.id)
    await store.transition_build(build.id, BuildStatus.SUCCEEDED)
    with pytest.raises(IllegalTransition):
        await store.requeue_interrupted(build.id)


async def test_a_cancelled_build_names_the_build_that_superseded_it(store: SqliteStore) -> None:
    repo = await registered(store)
    older = await store.create_build(make_build(repo))
    newer = await store.create_build(make_build(repo))
    cancelled = await store.transition_build(
        older.id, BuildStatus.CANCELLED, cancelled_by=newer.id, cancelled_by_number=newer.number
    )
    assert (cancelled.cancelled_by, cancelled.cancelled_by_number) == (newer.id, 2)
    assert (await store.get_build(older.id)).cancelled_by == newer.id
