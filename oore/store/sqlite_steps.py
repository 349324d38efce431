"""SQLite queries for a build's steps: created together, then each through its transitions.

A mixin of `SqliteStore` (it needs `self.engine` and `self.changes`): a step's transition is
announced once committed.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from oore.model import Step, StepStatus, check_step_transition
from oore.primitives import Broadcast
from oore.store import rows
from oore.store.changes import Change, ChangeKind
from oore.store.engine import Engine
from oore.store.sqlite_updates import TIMES, check_fields, get_row, transition, with_times

STEP_FIELDS = frozenset({"exit_code", "error"}) | TIMES


class StepQueries:
    engine: Engine
    changes: Broadcast[Change]

    async def create_steps(self, steps: list[Step]) -> None:
        await self.engine.write(
            lambda db: db.table("steps").insert_all([rows.step_row(s) for s in steps])
        )

    async def get_steps(self, build_id: str) -> list[Step]:
        return await self.engine.read(
            lambda db: [
                rows.step(r)
                for r in db.table("steps").rows_where("build_id = ?", [build_id], order_by="idx")
            ]
        )

    async def transition_step(self, step_id: str, status: StepStatus, **fields: Any) -> Step:
        check_fields(fields, STEP_FIELDS)
        running = status is StepStatus.RUNNING
        values = with_times(fields, started=running, ended=not running)

        def unit(db: Database) -> Step:
            return transition(
                db, "steps", step_id, _get_step, check_step_transition, status, values
            )

        return await self.engine.write(
            unit, then=lambda step: self.changes.publish(Change(ChangeKind.STEP_CHANGED, step=step))
        )


def _get_step(db: Database, step_id: str) -> Step:
    return get_row(db, "steps", step_id, rows.step, "step")
