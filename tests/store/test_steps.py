"""A build's steps in SQLite: created together, each guarded by the step transition table, and
each transition announced once committed (never one that failed)."""

from __future__ import annotations

import pytest

from oore.errors import IllegalTransition, NotFound
from oore.ids import new_id
from oore.model import Build, Step, StepStatus
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_build, make_repo, witness


async def build_with_steps(store: SqliteStore, count: int = 2) -> tuple[Build, list[Step]]:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    build = await store.create_build(make_build(repo))
    steps = [Step(id=new_id(), build_id=build.id, index=i, name=f"s{i}") for i in range(count)]
    await store.create_steps(steps)
    return build, steps


async def test_steps(store: SqliteStore) -> None:
    build, steps = await build_with_steps(store)
    with pytest.raises(IllegalTransition):
        await store.transition_step(steps[0].id, StepStatus.SUCCEEDED)
    started = await store.transition_step(steps[0].id, StepStatus.RUNNING)
    assert (started.started_at is not None, started.finished_at) == (True, None)
    done = await store.transition_step(steps[0].id, StepStatus.FAILED, exit_code=3)
    assert (done.exit_code, done.finished_at is not None) == (3, True)
    assert [s.status for s in await store.get_steps(build.id)] == ["failed", "pending"]
    skipped = await store.transition_step(steps[1].id, StepStatus.SKIPPED, error="earlier failed")
    assert (skipped.error, skipped.started_at, skipped.finished_at is not None) == (
        "earlier failed",
        None,
        True,
    )
    with pytest.raises(ValueError, match="not updatable"):
        await store.transition_step(steps[1].id, StepStatus.RUNNING, name="renamed")


async def test_step_changes_are_announced_once_committed(store: SqliteStore) -> None:
    _, steps = await build_with_steps(store)
    with witness(store) as seen:
        await store.transition_step(steps[0].id, StepStatus.RUNNING)
        await store.transition_step(steps[0].id, StepStatus.SUCCEEDED, exit_code=0)
    assert seen.kinds == ["step_changed", "step_changed"]
    assert [(c.step.id if c.step else None) for c, _ in seen.seen] == [steps[0].id] * 2
    assert [row for _, row in seen.seen] == ["running", "succeeded"]


async def test_failed_step_writes_announce_nothing(store: SqliteStore) -> None:
    _, steps = await build_with_steps(store)
    with witness(store) as seen:
        with pytest.raises(IllegalTransition):
            await store.transition_step(steps[0].id, StepStatus.SUCCEEDED)
        with pytest.raises(NotFound):
            await store.transition_step("nope", StepStatus.RUNNING)
        with pytest.raises(ValueError, match="not updatable"):
            await store.transition_step(steps[0].id, StepStatus.RUNNING, name="x")
    assert seen.seen == []
    assert [s.status for s in await store.get_steps(steps[0].build_id)] == ["pending", "pending"]
