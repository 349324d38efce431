"""RepositorySupervisor: triggers in, builds out; owns the queue and the running builds.

Per repository it keeps a bare mirror (one git operation per repository at a time), reads the
pipeline file at the trigger's commit, creates one build per matching workflow (or an errored
build saying why) in the same transaction that closes the webhook event, which keeps why each
other workflow did not match — so a redelivered trigger creates nothing — applies
`cancel_previous_builds` (the older build names the newer one), and starts a BuildExecutor
whenever one of the `max_concurrent` slots is free. On start it recovers from a crash: builds
left preparing/running have their process groups killed and go back to the queue, unless a
publishing step had started (publishing twice could release twice: errored instead) or a
restart already interrupted them once. Deleting a repository cancels its builds (queued,
preparing or running), waits for them to end, then deletes its rows and its files; a build's
cancel interrupts whatever it is doing, a hung fetch or clone included.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from oore.actors.cancelling import Interrupted, cancel_reason, superseded, until_set
from oore.actors.executor import BuildExecutor, BuildJob, Dirs
from oore.actors.messages import (
    CancelBuild,
    DeleteBuild,
    DeleteRepository,
    LogChunk,
    LogClose,
    LogMessage,
    ManualBuild,
    Reply,
    RepositoryMessage,
    RetryBuild,
    TriggerReceived,
)
from oore.actors.planner import Plan, Planner
from oore.actors.removal import RepositoryFiles, remove_all
from oore.actors.runtime import reply
from oore.errors import Conflict, IllegalTransition, NotFound, OoreError
from oore.execution.diskspace import short_of_space
from oore.execution.process import kill_group
from oore.git import remove_workspace
from oore.ids import new_id
from oore.model import Build, BuildStatus, EventState, utcnow
from oore.primitives import Doorbell
from oore.store.base import BuildFilter, Store

log = logging.getLogger("oore.actors.repository")

INTERRUPTED = "interrupted by a daemon restart"
# The supervisor itself was restarted (after an internal error), not the daemon: say so.
INTERRUPTED_IN_PROCESS = "interrupted when the build queue restarted after an internal error"
WORKSPACE_SWEEP_SECONDS = 3600.0
ACTIVE = (BuildStatus.QUEUED, BuildStatus.PREPARING, BuildStatus.RUNNING)


def _cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 2


# How many builds make their workspace at once: one per core (the executor says why).
WORKSPACE_SLOTS = _cores()


@dataclass(slots=True)
class _Running:
    """A claimed build: whose it is, its cancel (set to stop it) and `done` (set once ended)."""

    repository_id: str
    alone: bool = False  # a fork's pull request: nothing else runs beside it
    cancel: trio.Event = field(default_factory=trio.Event)
    done: trio.Event = field(default_factory=trio.Event)


class RepositorySupervisor:
    def __init__(
        self,
        store: Store,
        planner: Planner,
        inbox: trio.MemoryReceiveChannel[RepositoryMessage],
        logs: trio.MemorySendChannel[LogMessage],
        dirs: Dirs,
        *,
        max_concurrent: int,
        kill_grace: float = 10.0,
        keep_failed_hours: float = 24.0,
        logs_dir: Path | None = None,
        min_free_disk: int = 0,
        disk_recheck: float = 30.0,
        workspace_slots: int = WORKSPACE_SLOTS,
    ) -> None:
        self.store = store
        self.planner = planner
        self.inbox = inbox
        self.logs = logs
        self.dirs = dirs
        self.max_concurrent = max_concurrent
        self.kill_grace = kill_grace
        self.keep_failed_seconds = keep_failed_hours * 3600
        self.min_free_disk = min_free_disk  # below it, builds wait (OORE_MIN_FREE_DISK)
        self.disk_recheck = disk_recheck  # how often a queue waiting for disk space looks again
        self._short_of_space = False
        # Shared by every executor it starts: held while a build makes its workspace.
        self.workspace_slots = trio.CapacityLimiter(workspace_slots)
        self.files = RepositoryFiles(
            dirs.workspaces, dirs.scratch, dirs.artifacts, dirs.cache, planner.mirrors_dir, logs_dir
        )
        self._locks: dict[str, trio.Lock] = {}
        self._running: dict[str, _Running] = {}
        self._deleting: set[str] = set()
        # Planning work (fetches) per repository, cancelled when the repository is deleted.
        self._planning_scopes: dict[str, set[trio.CancelScope]] = {}
        self._wake = Doorbell()
        self._ended = Doorbell()
        self._draining = False
        self._runs = 0  # how often `run` began: past the first, a restart inside the daemon
        self._planning: set[str] = set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.recover()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            # The queue as it stands is looked at before we say we are up: what starts at once
            # has started by then (and a caller that adds rows after sees no scheduler racing).
            await self._schedule()
            nursery.start_soon(self._schedule_loop)
            nursery.start_soon(self._expire_workspaces_loop)
            task_status.started()
            async for message in self.inbox:
                nursery.start_soon(self._handle, message)
            nursery.cancel_scope.cancel()

    @property
    def running(self) -> int:
        return len(self._running)

    async def drain(self) -> None:
        """Start no more builds; return once the running ones have finished (for shutdown)."""
        self._draining = True
        while self._running:
            await self._ended.wait()

    # --- messages -------------------------------------------------------------------------

    async def _handle(self, message: RepositoryMessage) -> None:
        if isinstance(message, TriggerReceived):
            await self._guard(self._on_trigger(message), on_error=self._trigger_failed(message))
        elif isinstance(message, ManualBuild):
            await self._answer(message.reply, self._on_manual(message))
        elif isinstance(message, CancelBuild):
            await self._answer(message.reply, self.cancel(message.build_id))
        elif isinstance(message, DeleteRepository):
            await self._answer(message.reply, self.delete_repository(message.repository_id))
        elif isinstance(message, DeleteBuild):
            await self._answer(message.reply, self.delete_build(message.build_id))
        else:
            await self._answer(message.reply, self._on_retry(message))

    async def _guard(
        self, work: Awaitable[None], on_error: Callable[[Exception], Awaitable[None]]
    ) -> None:
        # One failing trigger must not take the supervisor, and every running build, down.
        try:
            await work
        except Exception as exc:
            if isinstance(exc, OoreError):  # said on purpose (e.g. the repository was deleted)
                log.warning("repository supervisor: %s", exc.message)
            else:
                log.exception("repository supervisor: handling a message failed")
            try:
                await on_error(exc)
            except Exception:
                log.exception("repository supervisor: recording the failure failed")

    def _trigger_failed(self, message: TriggerReceived) -> Callable[[Exception], Awaitable[None]]:
        async def mark(exc: Exception) -> None:
            reason = exc.message if isinstance(exc, OoreError) else f"internal error: {exc!r}"
            # A deleted repository's id cannot be referenced any more (foreign key).
            repository_id = None if isinstance(exc, NotFound) else message.repository_id
            await self.store.finish_event(
                message.event_id, EventState.FAILED, reason, repository_id, None
            )

        return mark

    async def _answer(
        self, channel: trio.MemorySendChannel[Reply], work: Awaitable[Build | None]
    ) -> None:
        try:
            answer = Reply(build=await work)
        except OoreError as exc:
            answer = Reply(error=exc)
        except Exception as exc:
            log.exception("repository supervisor: request failed")
            answer = Reply(error=OoreError(f"internal error: {exc!r}"))
        await reply(channel, answer)

    async def _on_trigger(self, message: TriggerReceived) -> None:
        if message.event_id in self._planning:
            return  # sent again (sweep) while still being planned
        self._planning.add(message.event_id)
        try:
            await self._plan_trigger(message)
        finally:
            self._planning.discard(message.event_id)

    async def _plan_trigger(self, message: TriggerReceived) -> None:
        created: list[Build] | None = None
        with self._interruptible(message.repository_id) as scope:
            async with self._lock(message.repository_id):
                self._refuse_if_deleting(message.repository_id)
                event = await self.store.get_event(message.event_id)
                if event.state is not EventState.PENDING:
                    return  # handled already: a redelivery, or a sweep racing the first send
                plan = await self.planner.for_trigger(message, event)
                created = await self.store.create_builds_for_event(
                    message.event_id, plan.builds, plan.summary, message.trigger, plan.workflows
                )
        if scope.cancelled_caught:
            raise _deleted(message.repository_id)
        if created is None:
            return  # already handled: a redelivery or a second sweep of the same event
        log.info("event %s: %s", message.event_id, plan.summary)
        await self._cancel_previous(created, plan)
        self._wake.ring()

    async def _on_manual(self, message: ManualBuild) -> Build:
        created: Build | None = None
        with self._interruptible(message.repository_id):
            async with self._lock(message.repository_id):
                self._refuse_if_deleting(message.repository_id)
                build = await self.planner.for_manual(message)
                created = await self.store.create_build(build)
        if created is None:
            raise _deleted(message.repository_id)
        self._wake.ring()
        return created

    async def _on_retry(self, message: RetryBuild) -> Build:
        original = await self.store.get_build(message.build_id)
        if not original.status.finished:
            raise Conflict(f"build {original.id} is still {original.status}; cancel it first")
        self._refuse_if_deleting(original.repository_id)
        created = await self.store.create_build(_again(original, recovered=False))
        self._wake.ring()
        return created

    async def cancel(self, build_id: str, by: Build | None = None) -> Build:
        """Cancel a build; `by` is the newer build superseding it (`cancel_previous_builds`)."""
        build = await self.store.get_build(build_id)
        if build.status.finished:
            raise Conflict(f"build {build_id} already finished ({build.status})")
        blame = {} if by is None else {"cancelled_by": by.id, "cancelled_by_number": by.number}
        if build.status is BuildStatus.QUEUED:
            why = "cancelled while queued" if by is None else superseded(build, by.number)
            try:
                cancelled = await self.store.transition_build(
                    build_id, BuildStatus.CANCELLED, error=why, **blame
                )
            except (Conflict, IllegalTransition):
                return await self.cancel(build_id, by)  # claimed meanwhile: cancel it running
            self._wake.ring()
            return cancelled
        running = self._running.get(build_id)
        if running is not None:
            if blame:  # read back by whoever records the cancel (executor or supervisor)
                await self.store.set_build_fields(build_id, **blame)
            running.cancel.set()  # its executor ends it, whatever it is doing
            return build
        # Preparing or running with no executor here (none can start it again): end it now.
        why = (
            "cancelled; no executor was running it" if by is None else superseded(build, by.number)
        )
        try:
            return await self.store.transition_build(
                build_id, BuildStatus.CANCELLED, error=why, **blame
            )
        except (Conflict, IllegalTransition):
            return await self.store.get_build(build_id)  # it ended meanwhile

    async def _cancel_previous(self, created: list[Build], plan: Plan) -> None:
        for build in created:
            if build.status is not BuildStatus.QUEUED or not plan.cancels_previous(build.workflow):
                continue
            for older in await self.store.builds_in(ACTIVE):
                if older.id < build.id and _same_line(older, build):
                    log.info("build %s supersedes %s", build.id, older.id)
                    try:
                        await self.cancel(older.id, by=build)
                    except Conflict:
                        pass

    def _lock(self, repository_id: str) -> trio.Lock:
        return self._locks.setdefault(repository_id, trio.Lock())

    @contextmanager
    def _interruptible(self, repository_id: str) -> Iterator[trio.CancelScope]:
        """A scope around planning work for the repository, cancelled if it is deleted."""
        scopes = self._planning_scopes.setdefault(repository_id, set())
        with trio.CancelScope() as scope:
            scopes.add(scope)
            try:
                yield scope
            finally:
                scopes.discard(scope)
                if not scopes:
                    self._planning_scopes.pop(repository_id, None)

    def _refuse_if_deleting(self, repository_id: str) -> None:
        if repository_id in self._deleting:
            raise _deleted(repository_id)

    # --- the queue ------------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        while True:
            # Nothing rings when disk space is freed: a queue waiting for it looks again.
            with trio.move_on_after(self.disk_recheck if self._short_of_space else math.inf):
                await self._wake.wait()
            await self._schedule()

    async def _schedule(self) -> None:
        queued = await self.store.builds_in((BuildStatus.QUEUED,))
        short = await short_of_space(self.dirs.workspaces, self.min_free_disk) if queued else None
        self._short_of_space = short is not None
        reasons: dict[str, str] = {}
        waiting = 0
        behind_fork = False
        for build in queued:
            if self._draining:
                return
            if build.repository_id in self._deleting:
                continue  # about to be cancelled
            why = short or self._why_wait(build, behind_fork)
            if why is None:
                await self._claim(build)  # False: it was cancelled meanwhile, nothing to wait for
                continue
            behind_fork = behind_fork or build.from_fork
            waiting += 1
            reasons[build.id] = f"{why}; position {waiting} in the queue"
        if reasons:
            await self.store.set_queue_reasons(reasons)

    def _why_wait(self, build: Build, behind_fork: bool) -> str | None:
        """Why `build` cannot start now, or None. Builds share the build user, so one can read
        another's processes (their environment, secrets included): a fork's pull request runs
        alone, and what was queued after it waits for it (no starving it)."""
        if self.running >= self.max_concurrent:
            return f"{self.running} of {self.max_concurrent} executor slots busy"
        if any(r.alone for r in self._running.values()):
            return "waiting for a pull request from a fork to finish (it runs alone)"
        if behind_fork:
            return "waiting behind a pull request from a fork (it runs alone)"
        if build.from_fork and self._running:
            return f"a pull request from a fork runs alone: waiting for {self.running} build(s)"
        return None

    async def _claim(self, build: Build) -> bool:
        # Tracked before the claim is written, so that a cancel arriving as soon as the build
        # reads `preparing` finds it.
        running = self._running[build.id] = _Running(build.repository_id, build.from_fork)
        try:
            claimed = await self.store.transition_build(
                build.id, BuildStatus.PREPARING, queue_reason=None
            )
        except (Conflict, IllegalTransition):
            self._running.pop(build.id, None)
            return False  # cancelled meanwhile
        except BaseException:
            self._running.pop(build.id, None)
            raise
        self._nursery.start_soon(self._execute, claimed, running)
        return True

    async def _execute(self, build: Build, running: _Running) -> None:
        try:
            try:
                job = await until_set(running.cancel, lambda: self._job_for(build))
            except Interrupted:
                current = await self.store.get_build(build.id)
                await self.store.transition_build(
                    build.id,
                    BuildStatus.CANCELLED,
                    error=cancel_reason(current, "cancelled while preparing"),
                )
                return
            if isinstance(job, str):
                await self.store.transition_build(build.id, BuildStatus.ERRORED, error=job)
                return
            executor = BuildExecutor(
                self.store,
                job,
                self.dirs,
                self.logs,
                running.cancel,
                grace=self.kill_grace,
                workspace_slots=self.workspace_slots,
            )
            await executor.run()
        except Exception:
            log.exception("build %s could not be run", build.id)
            await _error_if_open(self.store, build.id, "internal error; see the daemon's log")
        finally:
            self._running.pop(build.id, None)
            running.done.set()
            self._wake.ring()
            self._ended.ring()

    async def _job_for(self, build: Build) -> BuildJob | str:
        async with self._lock(build.repository_id):  # one git operation per repository
            return await self.planner.job_for(build)

    # --- deleting a repository ------------------------------------------------------------

    async def delete_build(self, build_id: str) -> Build:
        """Delete a finished build and every file it has (workspace, log, artifacts)."""
        build = await self.store.get_build(build_id)
        if build_id in self._running:  # finished, but its executor still writes its files
            raise Conflict(f"build {build_id} is still finishing; delete it in a moment")
        async with self._lock(build.repository_id):  # not while its repository is planned
            deleted = await self.store.delete_build(build_id)  # Conflict unless finished
        with trio.CancelScope(shield=True):  # the rows are gone: leave no files behind
            await remove_all(self.files.of_builds([build_id]))
        log.info("build %s deleted", build_id)
        return deleted

    async def delete_repository(self, repository_id: str) -> None:
        """Cancel the repository's builds, wait until they end, then delete it and its files.

        Nothing of another repository is touched: its builds keep running throughout.
        """
        await self.store.get_repository(repository_id)  # NotFound: nothing to do
        if repository_id in self._deleting:
            raise Conflict(f"repository {repository_id} is already being deleted")
        self._deleting.add(repository_id)
        try:
            for scope in list(self._planning_scopes.get(repository_id, ())):
                scope.cancel()  # a fetch for a trigger or a manual build: stop it now
            # Held from here on: no trigger or manual build can add a build any more.
            async with self._lock(repository_id):
                await self._end_builds_of(repository_id)
                build_ids = await self._build_ids_of(repository_id)
                await self.store.delete_repository(repository_id)
            log.info("repository %s deleted with %d build(s)", repository_id, len(build_ids))
            with trio.CancelScope(shield=True):  # the rows are gone: leave no files behind
                await remove_all(self.files.of_builds(build_ids))
                await remove_all(self.files.of_repository(repository_id))
        finally:
            self._deleting.discard(repository_id)
            self._wake.ring()

    async def _end_builds_of(self, repository_id: str) -> None:
        while True:
            for build in await self.store.builds_in(ACTIVE):
                if build.repository_id == repository_id:
                    try:
                        await self.cancel(build.id)
                    except Conflict:
                        pass  # it finished meanwhile
            ours = [r for r in self._running.values() if r.repository_id == repository_id]
            if not ours:
                return
            for running in ours:
                await running.done.wait()

    async def _build_ids_of(self, repository_id: str) -> list[str]:
        where = BuildFilter(repository_id=repository_id)
        ids: list[str] = []
        cursor: str | None = None
        while True:
            page = await self.store.list_builds(where, cursor, 500)
            ids += [b.id for b in page.items]
            if page.next_cursor is None:
                return ids
            cursor = page.next_cursor

    # --- failed builds' workspaces --------------------------------------------------------

    async def _expire_workspaces_loop(self) -> None:
        while True:
            await self.expire_workspaces()
            await trio.sleep(WORKSPACE_SWEEP_SECONDS)

    async def expire_workspaces(self) -> list[str]:
        """Remove workspaces kept after a failure once they are older than the retention."""
        expired = await trio.to_thread.run_sync(
            _old_dirs, self.dirs.workspaces, self.keep_failed_seconds, set(self._running)
        )
        for path in expired:
            await remove_workspace(path)
        if expired:
            log.info("removed %d failed build workspace(s) past retention", len(expired))
        return [p.name for p in expired]

    # --- crash recovery -------------------------------------------------------------------

    async def recover(self) -> None:
        """Builds a restart interrupted go back to the queue (the same build, from the start),
        unless a publishing step had started: publishing twice could release twice, so those
        are errored for a person to look at. A build interrupted a second time is errored too
        (it may be what brings the daemon down)."""
        self._runs += 1
        why = INTERRUPTED if self._runs == 1 else INTERRUPTED_IN_PROCESS
        for build in await self.store.builds_in((BuildStatus.PREPARING, BuildStatus.RUNNING)):
            if build.process_group is not None:
                kill_group(build.process_group)
            if build.workspace:
                await remove_workspace(Path(build.workspace))
            refusal = await self._not_again(build, why)
            if refusal is None:
                # Run from the start: what the first run left (artifacts, CM_ENV) is not kept.
                await remove_all([self.dirs.artifacts / build.id, self.dirs.scratch / build.id])
                await self.store.requeue_interrupted(build.id)
                log.warning("build %s %s; queued to run again", build.id, why)
            else:
                await self.store.transition_build(build.id, BuildStatus.ERRORED, error=refusal)
                log.warning("build %s: %s", build.id, refusal)
            await self._mark_log(build.id, refusal or f"{why}; queued to run again from the start")

    async def _not_again(self, build: Build, why: str) -> str | None:
        """Why an interrupted build is not run again, or None to run it again."""
        publishing = [
            s
            for s in await self.store.get_steps(build.id)
            if s.kind == "publishing" and s.started_at is not None
        ]
        if publishing:
            step = publishing[0]
            return (
                f"{why} while publishing (step {step.index + 1}, {step.name}); not run again"
                " automatically, as publishing twice could release twice: check what was"
                " published, then retry it with `oore build retry`"
            )
        if build.recovered:
            return f"{why} a second time; not run again automatically (retry it by hand)"
        return None

    async def _mark_log(self, build_id: str, text: str) -> None:
        await self.logs.send(LogChunk(build_id, -1, "oore", f"[oore] {text}\n".encode()))
        await self.logs.send(LogClose(build_id))


def _old_dirs(root: Path, max_age: float, running: set[str]) -> list[Path]:
    if not root.is_dir():
        return []
    cutoff = time.time() - max_age
    return [
        entry
        for entry in root.iterdir()
        if entry.is_dir() and entry.name not in running and entry.stat().st_mtime < cutoff
    ]


def _deleted(repository_id: str) -> NotFound:
    return NotFound(f"repository {repository_id} was deleted")


def _again(build: Build, *, recovered: bool) -> Build:
    return Build(
        id=new_id(),
        repository_id=build.repository_id,
        number=0,
        workflow=build.workflow,
        status=BuildStatus.QUEUED,
        trigger=build.trigger,
        created_at=utcnow(),
        attempt=build.attempt + 1,
        retry_of=build.id,
        inputs=build.inputs,
        extra_env=build.extra_env,
        recovered=recovered,
        notify=build.notify,  # a retry tells whom the first attempt would have told
    )


def _same_line(older: Build, newer: Build) -> bool:
    """Same repository, workflow and branch (or pull request): the newer supersedes the older."""
    if older.repository_id != newer.repository_id or older.workflow != newer.workflow:
        return False
    a, b = older.trigger, newer.trigger
    if b.pr_number is not None:
        return a.pr_number == b.pr_number
    return a.branch is not None and a.branch == b.branch and not a.tag


async def _error_if_open(store: Store, build_id: str, message: str) -> None:
    with trio.CancelScope(shield=True):
        try:
            current = await store.get_build(build_id)
            if not current.status.finished:
                await store.transition_build(build_id, BuildStatus.ERRORED, error=message)
        except OoreError:
            # Gone (its repository deleted) or finished meanwhile: nothing left to mark, and
            # the supervisor, with every other build, must not go down over it.
            log.warning("build %s: could not mark it errored", build_id, exc_info=True)
