"""SQLite queries for build execution: queueing, claiming, artifacts, pipelines.

A mixin of `SqliteStore` (it needs only `self.engine`), kept apart so that each module holds one
part of the schema's story.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from sqlite_utils import Database

from oore.errors import Conflict, NotFound
from oore.model import Artifact, Build, EventState, utcnow
from oore.store import rows
from oore.store.base import BuildFilter, Page
from oore.store.engine import Engine


class BuildQueries:
    engine: Engine

    async def create_builds_for_event(
        self, event_id: str, builds: list[Build], reason: str, trigger: dict[str, Any]
    ) -> list[Build] | None:
        """Create a delivery's builds and close the event, in one transaction.

        None when the event was not pending any more: a redelivered trigger creates nothing.
        """

        def unit(db: Database) -> list[Build] | None:
            repository_id = builds[0].repository_id if builds else None
            cursor = db.execute(
                "UPDATE webhook_events SET state = ?, reason = ?, trigger = ?, processed_at = ?,"
                " repository_id = coalesce(?, repository_id) WHERE id = ? AND state = 'pending'",
                [
                    str(EventState.PROCESSED),
                    reason,
                    json.dumps(trigger),
                    utcnow(),
                    repository_id,
                    event_id,
                ],
            )
            if cursor.rowcount != 1:
                return None
            return [insert_build(db, b) for b in builds]

        return await self.engine.write(unit)

    async def create_numbered_build(self, build: Build) -> Build:
        return await self.engine.write(lambda db: insert_build(db, build))

    async def list_builds(self, where: BuildFilter, cursor: str | None, limit: int) -> Page[Build]:
        equals = {
            "repository_id": where.repository_id,
            "status": where.status,
            "workflow": where.workflow,
            "json_extract(trigger, '$.branch')": where.branch,
        }
        return Page(
            *await self.engine.read(
                lambda db: rows.newest_first(db, "builds", equals, cursor, limit, rows.build)
            )
        )

    async def builds_in(self, statuses: tuple[str, ...]) -> list[Build]:
        marks = ", ".join("?" * len(statuses))
        sql = f"SELECT * FROM builds WHERE status IN ({marks}) ORDER BY id"
        return await self.engine.read(
            lambda db: [rows.build(r) for r in rows.dicts(db.execute(sql, list(statuses)))]
        )

    async def set_build_fields(self, build_id: str, **fields: Any) -> None:
        allowed = {"queue_reason", "process_group", "workspace", "error"}
        if set(fields) - allowed:
            raise ValueError(f"not settable: {sorted(set(fields) - allowed)}")

        def unit(db: Database) -> None:
            if db.execute("SELECT 1 FROM builds WHERE id = ?", [build_id]).fetchone() is None:
                raise NotFound(f"build {build_id} not found")
            db.table("builds").update(build_id, fields)

        await self.engine.write(unit)

    async def set_queue_reasons(self, reasons: dict[str, str]) -> None:
        def unit(db: Database) -> None:
            db.conn.executemany(
                "UPDATE builds SET queue_reason = ? WHERE id = ? AND status = 'queued'",
                [(reason, build_id) for build_id, reason in reasons.items()],
            )

        await self.engine.write(unit)

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

    async def add_artifacts(self, artifacts: list[Artifact]) -> None:
        await self.engine.write(
            lambda db: db.table("artifacts").insert_all([dataclasses.asdict(a) for a in artifacts])
        )

    async def list_artifacts(self, build_id: str) -> list[Artifact]:
        return await self.engine.read(
            lambda db: [
                rows.artifact(r)
                for r in db.table("artifacts").rows_where("build_id = ?", [build_id], order_by="id")
            ]
        )

    async def get_artifact(self, artifact_id: str) -> Artifact:
        def query(db: Database) -> Artifact:
            found = list(db.table("artifacts").rows_where("id = ?", [artifact_id]))
            if not found:
                raise NotFound(f"artifact {artifact_id} not found")
            return rows.artifact(found[0])

        return await self.engine.read(query)

    async def get_pipeline(self, repository_id: str) -> str | None:
        def query(db: Database) -> str | None:
            row = db.execute(
                "SELECT pipeline_yaml FROM repositories WHERE id = ?", [repository_id]
            ).fetchone()
            if row is None:
                raise NotFound(f"repository {repository_id} not found")
            return row[0]  # type: ignore[no-any-return]

        return await self.engine.read(query)

    async def set_pipeline(self, repository_id: str, text: str | None) -> None:
        def unit(db: Database) -> None:
            cursor = db.execute(
                "UPDATE repositories SET pipeline_yaml = ?, updated_at = ? WHERE id = ?",
                [text, utcnow(), repository_id],
            )
            if cursor.rowcount != 1:
                raise NotFound(f"repository {repository_id} not found")

        await self.engine.write(unit)


def insert_build(db: Database, build: Build) -> Build:
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
    return numbered
