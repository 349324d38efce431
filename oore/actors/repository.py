"""RepositorySupervisor: triggers in, builds out; owns the queue and the running builds.

Per repository it keeps a bare mirror (one git operation per repository at a time), reads the
pipeline file at the trigger's commit, creates one build per matching workflow (or a skipped or
errored build saying why) in the same transaction that closes the webhook event — so a
redelivered trigger creates nothing — applies `cancel_previous_builds`, and starts a
BuildExecutor whenever one of the `max_concurrent` slots is free. On start it recovers from a
crash: builds left preparing/running have their process groups killed, are marked errored and
are queued once more as a new attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from oore.actors.executor import BuildExecutor, Dirs
from oore.actors.messages import (
    CancelBuild,
    LogMessage,
    ManualBuild,
    Reply,
    RepositoryMessage,
    RetryBuild,
    TriggerReceived,
)
from oore.actors.planner import BuildPlanner, Plan
from oore.actors.runtime import Doorbell, reply
from oore.errors import Conflict, IllegalTransition, OoreError
from oore.execution.process import kill_group
from oore.git import remove_workspace
from oore.ids import new_id
from oore.model import Build, BuildStatus, EventState, utcnow
from oore.store.base import Store

log = logging.getLogger("oore.actors.repository")

INTERRUPTED = "interrupted by a daemon restart"
WORKSPACE_SWEEP_SECONDS = 3600.0


class RepositorySupervisor:
    def __init__(
        self,
        store: Store,
        planner: BuildPlanner,
        inbox: trio.MemoryReceiveChannel[RepositoryMessage],
        logs: trio.MemorySendChannel[LogMessage],
        dirs: Dirs,
        *,
        max_concurrent: int,
        kill_grace: float = 10.0,
        keep_failed_hours: float = 24.0,
    ) -> None:
        self.store = store
        self.planner = planner
        self.inbox = inbox
        self.logs = logs
        self.dirs = dirs
        self.max_concurrent = max_concurrent
        self.kill_grace = kill_grace
        self.keep_failed_seconds = keep_failed_hours * 3600
        self._locks: dict[str, trio.Lock] = {}
        self._running: dict[str, trio.Event] = {}
        self._wake = Doorbell()
        self._ended = Doorbell()
        self._draining = False
        self._planning: set[str] = set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.recover()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
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
        else:
            await self._answer(message.reply, self._on_retry(message))

    async def _guard(
        self, work: Awaitable[None], on_error: Callable[[Exception], Awaitable[None]]
    ) -> None:
        # One failing trigger must not take the supervisor, and every running build, down.
        try:
            await work
        except Exception as exc:
            log.exception("repository supervisor: handling a message failed")
            await on_error(exc)

    def _trigger_failed(self, message: TriggerReceived) -> Callable[[Exception], Awaitable[None]]:
        async def mark(exc: Exception) -> None:
            reason = exc.message if isinstance(exc, OoreError) else f"internal error: {exc!r}"
            await self.store.finish_event(
                message.event_id, EventState.FAILED, reason, message.repository_id, None
            )

        return mark

    async def _answer(self, channel: trio.MemorySendChannel[Reply], work: Awaitable[Build]) -> None:
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
        async with self._lock(message.repository_id):
            event = await self.store.get_event(message.event_id)
            if event.state is not EventState.PENDING:
                return  # handled already: a redelivery, or a sweep racing the first send
            plan = await self.planner.for_trigger(message, event)
            created = await self.store.create_builds_for_event(
                message.event_id, plan.builds, plan.summary, message.trigger.to_json()
            )
        if created is None:
            return  # already handled: a redelivery or a second sweep of the same event
        log.info("event %s: %s", message.event_id, plan.summary)
        await self._cancel_previous(created, plan)
        self._wake.ring()

    async def _on_manual(self, message: ManualBuild) -> Build:
        async with self._lock(message.repository_id):
            build = await self.planner.for_manual(message)
            created = await self.store.create_numbered_build(build)
        self._wake.ring()
        return created

    async def _on_retry(self, message: RetryBuild) -> Build:
        original = await self.store.get_build(message.build_id)
        if not original.status.finished:
            raise Conflict(f"build {original.id} is still {original.status}; cancel it first")
        created = await self.store.create_numbered_build(_again(original, recovered=False))
        self._wake.ring()
        return created

    async def cancel(self, build_id: str) -> Build:
        build = await self.store.get_build(build_id)
        if build.status.finished:
            raise Conflict(f"build {build_id} already finished ({build.status})")
        if build.status is BuildStatus.QUEUED:
            try:
                cancelled = await self.store.transition_build(
                    build_id, BuildStatus.CANCELLED, error="cancelled while queued"
                )
            except (Conflict, IllegalTransition):
                return await self.cancel(build_id)  # claimed meanwhile: cancel it running
            self._wake.ring()
            return cancelled
        event = self._running.get(build_id)
        if event is not None:
            event.set()
        return build

    async def _cancel_previous(self, created: list[Build], plan: Plan) -> None:
        for build in created:
            if build.status is not BuildStatus.QUEUED or not plan.cancels_previous(build.workflow):
                continue
            for older in await self.store.builds_in(("queued", "preparing", "running")):
                if older.id < build.id and _same_line(older, build):
                    log.info("build %s supersedes %s", build.id, older.id)
                    try:
                        await self.cancel(older.id)
                    except Conflict:
                        pass

    def _lock(self, repository_id: str) -> trio.Lock:
        return self._locks.setdefault(repository_id, trio.Lock())

    # --- the queue ------------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        while True:
            await self._schedule()
            await self._wake.wait()

    async def _schedule(self) -> None:
        queued = await self.store.builds_in(("queued",))
        reasons: dict[str, str] = {}
        waiting = 0
        for build in queued:
            if self._draining:
                return
            if self.running < self.max_concurrent and await self._claim(build):
                continue
            waiting += 1
            reasons[build.id] = (
                f"{self.running} of {self.max_concurrent} executor slots busy; "
                f"position {waiting} in the queue"
            )
        if reasons:
            await self.store.set_queue_reasons(reasons)

    async def _claim(self, build: Build) -> bool:
        try:
            claimed = await self.store.transition_build(
                build.id, BuildStatus.PREPARING, queue_reason=None
            )
        except (Conflict, IllegalTransition):
            return False  # cancelled meanwhile
        cancel = trio.Event()
        self._running[build.id] = cancel
        self._nursery.start_soon(self._execute, claimed, cancel)
        return True

    async def _execute(self, build: Build, cancel: trio.Event) -> None:
        try:
            async with self._lock(build.repository_id):  # one git operation per repository
                job = await self.planner.job_for(build)
            if isinstance(job, str):
                await self.store.transition_build(build.id, BuildStatus.ERRORED, error=job)
                return
            executor = BuildExecutor(
                self.store, job, self.dirs, self.logs, cancel, grace=self.kill_grace
            )
            await executor.run()
        except Exception:
            log.exception("build %s could not be run", build.id)
            await _error_if_open(self.store, build.id, "internal error; see the daemon's log")
        finally:
            self._running.pop(build.id, None)
            self._wake.ring()
            self._ended.ring()

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
        for build in await self.store.builds_in(("preparing", "running")):
            if build.process_group is not None:
                kill_group(build.process_group)
            await self.store.transition_build(build.id, BuildStatus.ERRORED, error=INTERRUPTED)
            if build.workspace:
                await remove_workspace(Path(build.workspace))
            if not build.recovered:
                again = await self.store.create_numbered_build(_again(build, recovered=True))
                log.warning("build %s %s; queued again as %s", build.id, INTERRUPTED, again.id)
            else:
                log.warning("build %s %s again; not queued a third time", build.id, INTERRUPTED)


def _old_dirs(root: Path, max_age: float, running: set[str]) -> list[Path]:
    if not root.is_dir():
        return []
    cutoff = time.time() - max_age
    return [
        entry
        for entry in root.iterdir()
        if entry.is_dir() and entry.name not in running and entry.stat().st_mtime < cutoff
    ]


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
    )


def _same_line(older: Build, newer: Build) -> bool:
    """Same repository, workflow and branch (or pull request): the newer supersedes the older."""
    if older.repository_id != newer.repository_id or older.workflow != newer.workflow:
        return False
    a, b = older.trigger, newer.trigger
    if b.get("pr_number") is not None:
        return bool(a.get("pr_number") == b.get("pr_number"))
    return a.get("branch") is not None and a.get("branch") == b.get("branch") and not a.get("tag")


async def _error_if_open(store: Store, build_id: str, message: str) -> None:
    with trio.CancelScope(shield=True):
        current = await store.get_build(build_id)
        if not current.status.finished:
            await store.transition_build(build_id, BuildStatus.ERRORED, error=message)
