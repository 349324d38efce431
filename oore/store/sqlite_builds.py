"""SQLite queries for builds: creating (numbered), the status transitions, the queue, listings.

A mixin of `SqliteStore` (it needs `self.engine` and `self.changes`). The writes that change a
build or the queue announce a `Change` once committed (never before: a subscriber reading the
build back finds what it was told).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Collection
from typing import Any

from sqlite_utils import Database

from oore.errors import Conflict, NotFound
from oore.model import (
    Build,
    BuildStatus,
    EventState,
    Trigger,
    WorkflowMatch,
    check_build_transition,
    utcnow,
)
from oore.primitives import Broadcast
from oore.store import outbox, rows
from oore.store.base import BuildFilter, Page
from oore.store.changes import Change, ChangeKind
from oore.store.engine import Engine
from oore.store.sqlite_notifications import delete_build_deliveries
from oore.store.sqlite_updates import TIMES, check_fields, get_row, transition, with_times

# What may be written besides the status; a transition also stamps its TIMES.
# What the executor records about a build without changing it (nothing a viewer shows): not
# announced. What a viewer sees changes only with a transition, which is announced.
RECORDED_FIELDS = frozenset({"process_group", "workspace", "cancelled_by", "cancelled_by_number"})
BUILD_FIELDS = RECORDED_FIELDS | {"queue_reason", "error"}


class BuildQueries:
    engine: Engine
    changes: Broadcast[Change]

    async def create_build(self, build: Build) -> Build:
        """Insert a build, numbering it with the repository's next build number."""
        return await self.engine.write(
            lambda db: _insert_build(db, build), then=self._announce(ChangeKind.BUILD_CREATED)
        )

    def _announce(self, kind: ChangeKind) -> Callable[[Build], None]:
        return lambda build: self.changes.publish(Change(kind, build=build))

    def _announce_created(self, builds: list[Build] | None) -> None:
        for build in builds or []:
            self.changes.publish(Change(ChangeKind.BUILD_CREATED, build=build))

    async def create_builds_for_event(
        self,
        event_id: str,
        builds: list[Build],
        reason: str,
        trigger: Trigger,
        workflows: tuple[WorkflowMatch, ...] = (),
    ) -> list[Build] | None:
        """Create a delivery's builds and close the event, in one transaction: `processed`
        when it made builds, `ignored` when it made none. `workflows` says, for each workflow,
        whether it matched and why not.

        None when the event was not pending any more: a redelivered trigger creates nothing.
        """
        trigger_json = json.dumps(trigger.to_json())
        state = EventState.PROCESSED if builds else EventState.IGNORED

        def unit(db: Database) -> list[Build] | None:
            repository_id = builds[0].repository_id if builds else None
            cursor = db.execute(
                "UPDATE webhook_events SET state = ?, reason = ?, trigger = ?, processed_at = ?,"
                " workflows = ?, repository_id = coalesce(?, repository_id)"
                " WHERE id = ? AND state = 'pending'",
                [
                    str(state),
                    reason,
                    trigger_json,
                    utcnow(),
                    rows.workflows_json(workflows),
                    repository_id,
                    event_id,
                ],
            )
            if cursor.rowcount != 1:
                return None
            return [_insert_build(db, b) for b in builds]

        created = await self.engine.write(unit, then=self._announce_created)
        return created

    async def get_build(self, build_id: str) -> Build:
        return await self.engine.read(lambda db: _get_build(db, build_id))

    async def builds_for_event(self, event_id: str) -> list[Build]:
        return await self.engine.read(
            lambda db: [
                rows.build(r) for r in db.table("builds").rows_where("event_id = ?", [event_id])
            ]
        )

    async def transition_build(self, build_id: str, status: BuildStatus, **fields: Any) -> Build:
        """Change a build's status, guarded by the transition table and its current status."""
        check_fields(fields, BUILD_FIELDS | TIMES)
        values = with_times(fields, started=status is BuildStatus.RUNNING, ended=status.finished)

        def unit(db: Database) -> Build:
            build = transition(
                db, "builds", build_id, _get_build, check_build_transition, status, values
            )
            outbox.plan(db, build, created=False)  # in this transaction: both or neither
            return build

        return await self.engine.write(unit, then=self._announce(ChangeKind.BUILD_CHANGED))

    async def requeue_interrupted(self, build_id: str) -> Build:
        """Put a build a daemon restart interrupted back in the queue, as if never started:
        its steps and artifact rows go, `recovered` is set (a second interruption errors it)."""

        def unit(db: Database) -> Build:
            current = _get_build(db, build_id)
            check_build_transition(current.status, BuildStatus.QUEUED)
            db.execute("DELETE FROM steps WHERE build_id = ?", [build_id])
            db.execute("DELETE FROM artifacts WHERE build_id = ?", [build_id])
            db.execute(
                "UPDATE builds SET status = 'queued', started_at = NULL, finished_at = NULL,"
                " process_group = NULL, workspace = NULL, queue_reason = NULL, error = NULL,"
                " recovered = 1 WHERE id = ?",
                [build_id],
            )
            return _get_build(db, build_id)

        return await self.engine.write(unit, then=self._announce(ChangeKind.BUILD_CHANGED))

    async def list_builds(self, where: BuildFilter, cursor: str | None, limit: int) -> Page[Build]:
        equals = {
            "repository_id": where.repository_id,
            "status": where.status,
            "workflow": where.workflow,
            "number": where.number,
            "json_extract(trigger, '$.branch')": where.branch,
        }
        return Page(
            *await self.engine.read(
                lambda db: rows.newest_first(db, "builds", equals, cursor, limit, rows.build)
            )
        )

    async def builds_in(self, statuses: Collection[BuildStatus]) -> list[Build]:
        """Every build in one of `statuses`, oldest first (the queue's order)."""
        wanted = [str(s) for s in statuses]
        sql = f"SELECT * FROM builds WHERE status IN ({', '.join('?' * len(wanted))}) ORDER BY id"
        return await self.engine.read(
            lambda db: [rows.build(r) for r in rows.dicts(db.execute(sql, wanted))]
        )

    async def queue_position(self, build_id: str) -> int | None:
        """1 for the next build to start, 2 for the one after...; None when it is not queued."""

        def query(db: Database) -> int | None:
            row = db.execute(
                "SELECT CASE WHEN b.status = 'queued' THEN (SELECT count(*) FROM builds"
                " WHERE status = 'queued' AND id <= b.id) END FROM builds b WHERE b.id = ?",
                [build_id],
            ).fetchone()
            if row is None:
                raise NotFound(f"build {build_id} not found")
            return row[0]  # type: ignore[no-any-return]

        return await self.engine.read(query)

    async def set_build_fields(self, build_id: str, **fields: Any) -> None:
        """Record facts about a build without changing its status (not announced)."""
        check_fields(fields, RECORDED_FIELDS)

        def unit(db: Database) -> None:
            if db.execute("SELECT 1 FROM builds WHERE id = ?", [build_id]).fetchone() is None:
                raise NotFound(f"build {build_id} not found")
            db.table("builds").update(build_id, fields)

        await self.engine.write(unit)

    async def delete_build(self, build_id: str) -> Build:
        """Delete a finished build with its steps, artifact rows and notification deliveries
        (but for those still on their way; its files are the caller's); Conflict while it is
        queued or running."""
        finished = sorted(str(s) for s in BuildStatus if s.finished)

        def unit(db: Database) -> Build:
            build = _get_build(db, build_id)
            marks = ", ".join("?" * len(finished))
            deleted = db.execute(
                f"DELETE FROM builds WHERE id = ? AND status IN ({marks})", [build_id, *finished]
            )
            if deleted.rowcount != 1:
                raise Conflict(f"build {build_id} is {build.status}; cancel it first")
            delete_build_deliveries(db, build_id)
            return build

        return await self.engine.write(unit, then=self._announce(ChangeKind.BUILD_DELETED))

    async def set_queue_reasons(self, reasons: dict[str, str]) -> None:
        """Each queued build's reason for waiting; builds no longer queued are left alone."""

        def unit(db: Database) -> None:
            db.conn.executemany(
                "UPDATE builds SET queue_reason = ? WHERE id = ? AND status = 'queued'",
                [(reason, build_id) for build_id, reason in reasons.items()],
            )

        queue = dict(reasons)
        await self.engine.write(
            unit, then=lambda _: self.changes.publish(Change(ChangeKind.QUEUE_CHANGED, queue=queue))
        )

    async def last_successful_build(self, repository_id: str, workflow: str) -> Build | None:
        def query(db: Database) -> Build | None:
            found = rows.dicts(
                db.execute(
                    "SELECT * FROM builds WHERE repository_id = ? AND workflow = ?"
                    " AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
                    [repository_id, workflow],
                )
            )
            return rows.build(found[0]) if found else None

        return await self.engine.read(query)


def _insert_build(db: Database, build: Build) -> Build:
    """Insert `build` numbered: the repository's next number and the workflow's next one."""
    db.execute(
        "UPDATE repositories SET build_counter = build_counter + 1 WHERE id = ?",
        [build.repository_id],
    )
    row = db.execute(
        "SELECT build_counter FROM repositories WHERE id = ?", [build.repository_id]
    ).fetchone()
    if row is None:
        raise NotFound(f"repository {build.repository_id} not found")
    project = db.execute(
        "SELECT coalesce(max(project_build_number), 0) + 1 FROM builds"
        " WHERE repository_id = ? AND workflow = ?",
        [build.repository_id, build.workflow],
    ).fetchone()[0]
    numbered = dataclasses.replace(build, number=row[0], project_build_number=project)
    try:
        db.table("builds").insert(rows.build_row(numbered))
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"a build of workflow {build.workflow} exists for this trigger") from exc
    outbox.plan(db, numbered, created=True)  # in this transaction: both or neither
    return numbered


def _get_build(db: Database, build_id: str) -> Build:
    return get_row(db, "builds", build_id, rows.build, "build")
