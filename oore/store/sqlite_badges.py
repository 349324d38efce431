"""SQLite query behind a repository's status badge: its latest finished build.

A mixin of `SqliteStore` (it needs only `self.engine`).
"""

from __future__ import annotations

from sqlite_utils import Database

from oore.model import Build, BuildStatus
from oore.store import rows
from oore.store.engine import Engine

# What a badge reports: a build that ran to an outcome. Skipped and cancelled builds say
# nothing about the branch's health, so the badge looks past them.
BADGE_STATUSES = (
    BuildStatus.SUCCEEDED,
    BuildStatus.FAILED,
    BuildStatus.TIMED_OUT,
    BuildStatus.ERRORED,
)


class BadgeQueries:
    engine: Engine

    async def latest_finished_build(
        self, repository_id: str, branch: str | None, workflow: str | None
    ) -> Build | None:
        """The newest build of the repository (on `branch`, of `workflow`, when given) that ran
        to an outcome; None when there is none."""
        sql = f"SELECT * FROM builds WHERE repository_id = ? AND status IN ({', '.join('?' * 4)})"
        args: list[str] = [repository_id, *(str(s) for s in BADGE_STATUSES)]
        if branch:
            sql += " AND json_extract(trigger, '$.branch') = ?"
            args.append(branch)
        if workflow:
            sql += " AND workflow = ?"
            args.append(workflow)
        sql += " ORDER BY id DESC LIMIT 1"

        def query(db: Database) -> Build | None:
            found = rows.dicts(db.execute(sql, args))
            return rows.build(found[0]) if found else None

        return await self.engine.read(query)
