"""SQLite queries for a build's artifacts: the files it kept, with their size and sha256.

A mixin of `SqliteStore` (it needs only `self.engine`).
"""

from __future__ import annotations

import dataclasses

from oore.model import Artifact
from oore.store import rows
from oore.store.engine import Engine
from oore.store.sqlite_updates import get_row


class ArtifactQueries:
    engine: Engine

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
        return await self.engine.read(
            lambda db: get_row(db, "artifacts", artifact_id, rows.artifact, "artifact")
        )
