"""Janitor: retention. Every `OORE_RETENTION_INTERVAL` it removes what has outlived its days.

- Finished builds' logs and artifacts older than their days, except the newest
  `OORE_RETENTION_KEEP_BUILDS` builds of each repository's workflow; never a queued or running
  build's. The build row stays (the history), marked `log_expired_at` / `artifacts_expired_at`
  so the API can say the log expired; artifact rows go with the files.
- Cache archives no build saved or restored for `OORE_RETENTION_CACHES_DAYS`.
- Webhook deliveries older than `OORE_RETENTION_EVENTS_DAYS` (not pending ones): the row goes,
  payload and all; builds made from one keep their trigger and lose only the link.
- Notification deliveries (the outbox) delivered or dead whose chain last moved more than
  `OORE_RETENTION_DAYS` ago (no setting of their own); a chain (build, kind, target) with a
  delivery still on its way is kept whole.
- Mirrors and cache dirs of repositories that no longer exist (a deletion interrupted before it
  removed its files), whatever the days.

Order, so that a crash loses nothing and shows nothing broken: a build is marked expired first
(one transaction, which also drops its artifact rows), its files are removed after, and then it
is marked done; a sweep starts by finishing the builds a crash left marked but not done. Work
goes in bounded batches (one transaction each), the disk work in worker threads under the
janitor's own limiter of one thread. Workspaces are not the janitor's: one is kept only after a
failure, for `OORE_KEEP_FAILED_WORKSPACES` hours, and the RepositorySupervisor, which knows
which builds are running, removes it after that.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import trio
from prometheus_client import CollectorRegistry, Counter

from oore.actors.removal import remove_all
from oore.actors.retention import (
    DAY,
    JanitorDirs,
    RetentionPolicy,
    cutoff,
    repository_dirs,
    size_of,
    unused_caches,
)
from oore.model import utcnow
from oore.store.base import FileKind, Store

log = logging.getLogger("oore.actors.janitor")

BATCH = 200  # builds or deliveries per transaction
KINDS = ("logs", "artifacts", "caches", "events", "deliveries", "mirrors")


@dataclass(slots=True)
class SweepReport:
    """What one sweep removed: how many of each kind, and the bytes they held."""

    finished_at: str | None = None
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    freed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def add(self, kind: str, count: int, size: int) -> None:
        self.removed[kind] += count
        self.freed[kind] += size

    def summary(self) -> str:
        counts = ", ".join(f"{n} {kind}" for kind, n in self.removed.items() if n)
        return f"{counts or 'nothing'} removed, {sum(self.freed.values()) / 2**20:.1f} MiB freed"


class JanitorMetrics:
    """oore_janitor_removed_total{kind} and oore_janitor_freed_bytes_total{kind}."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.removed = Counter(
            "oore_janitor_removed", "What retention removed", ["kind"], registry=registry
        )
        self.freed = Counter(
            "oore_janitor_freed_bytes", "Bytes retention freed", ["kind"], registry=registry
        )

    def count(self, report: SweepReport) -> None:
        for kind in KINDS:
            self.removed.labels(kind=kind).inc(report.removed[kind])
            self.freed.labels(kind=kind).inc(report.freed[kind])


class Janitor:
    def __init__(
        self,
        store: Store,
        dirs: JanitorDirs,
        policy: RetentionPolicy,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.dirs = dirs
        self.policy = policy
        self.metrics = JanitorMetrics(registry) if registry is not None else None
        self.clock = clock  # wall-clock seconds (ages are compared with stored times)
        self.batch = batch
        self.limiter = trio.CapacityLimiter(1)
        self.last_sweep: SweepReport | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self.sweep()
            await trio.sleep(self.policy.interval)

    async def sweep(self) -> SweepReport:
        """Remove everything past retention now; return what went."""
        report = SweepReport()
        await self._finish_interrupted(report)
        for kind in (FileKind.LOGS, FileKind.ARTIFACTS):
            await self._expire_builds(kind, report)
        await self._expire_events(report)
        await self._expire_deliveries(report)
        await self._expire_caches(report)
        await self._remove_orphans(report)
        report.finished_at = utcnow()
        self.last_sweep = report
        if self.metrics is not None:
            self.metrics.count(report)
        level = logging.INFO if any(report.removed.values()) else logging.DEBUG
        log.log(level, "retention sweep: %s", report.summary())
        return report

    # --- builds' logs and artifacts -------------------------------------------------------

    async def _finish_interrupted(self, report: SweepReport) -> None:
        while pending := await self.store.pending_expiries(self.batch):
            done = [
                b.build_id
                for b in pending
                if await self._remove_expired(b.build_id, b.kinds, report)
            ]
            await self.store.files_removed(done)
            if len(done) < len(pending):
                return  # a file would not go (logged): the next sweep tries again

    async def _expire_builds(self, kind: FileKind, report: SweepReport) -> None:
        days = self.policy.days_of(kind)
        if days <= 0:
            return  # kept forever
        before = cutoff(self.clock(), days)
        while True:
            ids = await self.store.expire_build_files(
                kind, before, self.policy.keep_builds, self.batch
            )
            # One that fails stays marked pending: the next sweep's first step retries it.
            done = [i for i in ids if await self._remove_expired(i, {kind}, report)]
            await self.store.files_removed(done)
            if len(ids) < self.batch:
                return

    async def _remove_expired(
        self, build_id: str, kinds: Iterable[FileKind], report: SweepReport
    ) -> bool:
        removed = [
            await self._remove(str(k), self.dirs.of_build(build_id, [k]), report) for k in kinds
        ]
        return all(removed)

    # --- webhook deliveries and notification deliveries -----------------------------------

    async def _expire_events(self, report: SweepReport) -> None:
        days = self.policy.events_days
        await self._delete_rows("events", days, self.store.delete_old_events, report)

    async def _expire_deliveries(self, report: SweepReport) -> None:
        days = self.policy.deliveries_days
        await self._delete_rows("deliveries", days, self.store.delete_old_deliveries, report)

    async def _delete_rows(
        self,
        kind: str,
        days: float,
        delete: Callable[[str, int], Awaitable[tuple[int, int]]],
        report: SweepReport,
    ) -> None:
        """Delete rows of `kind` older than `days` (0: kept forever), a batch at a time."""
        if days <= 0:
            return
        before = cutoff(self.clock(), days)
        while True:
            count, size = await delete(before, self.batch)
            report.add(kind, count, size)
            if count < self.batch:
                return

    # --- caches and what deleted repositories left ----------------------------------------

    async def _expire_caches(self, report: SweepReport) -> None:
        if self.policy.caches_days <= 0:
            return
        before = self.clock() - self.policy.caches_days * DAY
        existing = await self.store.repository_ids()
        old = await trio.to_thread.run_sync(
            unused_caches, self.dirs.cache, existing, before, limiter=self.limiter
        )
        for path in old:
            await self._remove("caches", [path], report)

    async def _remove_orphans(self, report: SweepReport) -> None:
        # Listed before the repositories are read: a mirror on disk was made after its
        # repository's row was committed, so one whose row is absent afterwards is an orphan.
        mirrors, caches = await trio.to_thread.run_sync(
            repository_dirs, self.dirs.mirrors, self.dirs.cache, limiter=self.limiter
        )
        existing = await self.store.repository_ids()
        for repository_id, path in mirrors.items():
            if repository_id not in existing:
                await self._remove("mirrors", [path], report)
        for repository_id, path in caches.items():
            if repository_id not in existing:
                await self._remove("caches", [path], report)

    # --- the disk -------------------------------------------------------------------------

    async def _remove(self, kind: str, paths: list[Path], report: SweepReport) -> bool:
        """Remove `paths`, one thing of `kind` (a build's log, a mirror...), with their size.
        False when the disk refused: logged, left for the next sweep, never a crash (retention
        is not worth restarting the daemon over)."""
        size = await trio.to_thread.run_sync(size_of, paths, limiter=self.limiter)
        try:
            await remove_all(paths, limiter=self.limiter)
        except OSError as exc:
            log.warning("retention: could not remove %s: %s", ", ".join(map(str, paths)), exc)
            return False
        report.add(kind, 1, size)
        return True
