"""SQLite queries for retention (the janitor): which finished builds' logs and artifacts expire,
marking them, and deleting old webhook deliveries.

A mixin of `SqliteStore` (it needs only `self.engine`). None of these writes is announced: a
build's status does not change when its files expire, and a subscriber following finished
builds (build durations, the dashboard) must not see it finish a second time.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlite_utils import Database

from oore.model import BuildStatus, utcnow
from oore.store.base import ExpiringBuild, FileKind
from oore.store.engine import Engine

FINISHED = tuple(sorted(str(s) for s in BuildStatus if s.finished))
_COLUMN = {FileKind.LOGS: "log_expired_at", FileKind.ARTIFACTS: "artifacts_expired_at"}

# Finished builds ended before a time whose files of a kind are not marked yet, and that have at
# least `keep` newer builds in their repository's workflow (the newest `keep` are kept whatever
# their age). The count stops at `keep` rows of the (repository_id, workflow, id) index, so a long
# history costs no more than a short one.
_CANDIDATES = f"""
SELECT id FROM builds AS b
WHERE {{column}} IS NULL AND coalesce(finished_at, created_at) < ?
  AND status IN ({", ".join("?" * len(FINISHED))})
  AND (SELECT count(*) FROM (
        SELECT 1 FROM builds AS newer
        WHERE newer.repository_id = b.repository_id AND newer.workflow = b.workflow
          AND newer.id > b.id
        LIMIT ?
      )) >= ?
ORDER BY id LIMIT ?
"""


class RetentionQueries:
    engine: Engine

    async def expire_build_files(
        self, kind: FileKind, before: str, keep: int, limit: int
    ) -> list[str]:
        """Mark up to `limit` finished builds whose `kind` files expire (ended before `before`,
        not among the newest `keep` of their repository's workflow); their artifact rows go
        now. The marked builds are `expiry_pending` until `files_removed` says their files are
        gone. Returns their ids, oldest first."""
        column = _COLUMN[kind]

        def unit(db: Database) -> list[str]:
            args = [before, *FINISHED, keep, keep, limit]
            ids = [row[0] for row in db.execute(_CANDIDATES.format(column=column), args)]
            if ids:
                marks = ", ".join("?" * len(ids))
                db.execute(
                    f"UPDATE builds SET {column} = ?, expiry_pending = 1 WHERE id IN ({marks})",
                    [utcnow(), *ids],
                )
                if kind is FileKind.ARTIFACTS:
                    db.execute(f"DELETE FROM artifacts WHERE build_id IN ({marks})", ids)
            return ids

        return await self.engine.write(unit)

    async def pending_expiries(self, limit: int) -> list[ExpiringBuild]:
        """Builds marked expired whose files may still be on disk (a sweep was interrupted)."""

        def query(db: Database) -> list[ExpiringBuild]:
            found = db.execute(
                "SELECT id, log_expired_at IS NOT NULL, artifacts_expired_at IS NOT NULL"
                " FROM builds WHERE expiry_pending = 1 ORDER BY id LIMIT ?",
                [limit],
            )
            kinds = (FileKind.LOGS, FileKind.ARTIFACTS)
            return [
                ExpiringBuild(
                    row[0], frozenset(k for k, on in zip(kinds, row[1:], strict=True) if on)
                )
                for row in found
            ]

        return await self.engine.read(query)

    async def files_removed(self, build_ids: Sequence[str]) -> None:
        """The expired files of these builds are gone from disk."""
        if not build_ids:
            return
        marks = ", ".join("?" * len(build_ids))
        await self.engine.write(
            lambda db: db.execute(
                f"UPDATE builds SET expiry_pending = 0 WHERE id IN ({marks})", list(build_ids)
            )
        )

    async def delete_old_events(self, before: str, limit: int) -> tuple[int, int]:
        """Delete up to `limit` webhook deliveries received before `before` that are not waiting
        to be processed; their builds keep their trigger and lose only the link (`event_id`
        becomes NULL). Returns how many went and the bytes of headers and payloads they held."""

        def unit(db: Database) -> tuple[int, int]:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM webhook_events WHERE received_at < ? AND state != 'pending'"
                    " ORDER BY id LIMIT ?",
                    [before, limit],
                )
            ]
            if not ids:
                return 0, 0
            marks = ", ".join("?" * len(ids))
            size = db.execute(
                "SELECT coalesce(sum(length(body) + length(headers)), 0) FROM webhook_events"
                f" WHERE id IN ({marks})",
                ids,
            ).fetchone()[0]
            db.execute(f"DELETE FROM webhook_events WHERE id IN ({marks})", ids)
            return len(ids), int(size)

        return await self.engine.write(unit)

    async def repository_ids(self) -> set[str]:
        """Every repository's id (what the janitor's orphan sweep checks names against)."""
        return await self.engine.read(
            lambda db: {row[0] for row in db.execute("SELECT id FROM repositories")}
        )
