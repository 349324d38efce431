"""BuildExecutor: one running build, from workspace to final status (a temporary actor).

The RepositorySupervisor claims a queued build (queued → preparing) and starts one executor in
its builds nursery. The executor makes the workspace at the exact commit, moves the build to
running, runs each script as its own process group with the build environment, streams output to
the LogStreamer, enforces the build deadline and per-script timeouts, honours `cancel` (SIGTERM
to the group, SIGKILL after the grace → cancelled, never failed), collects artifacts, saves the
cache after a success, runs the publishing scripts, records every state change before anything
else sees it, and removes the workspace (kept after a failure, for inspection).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import shutil
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trio

from oore.actors.cancelling import Interrupted, cancel_reason, until_set
from oore.actors.messages import LogChunk, LogClose, LogMessage, LogOpen
from oore.errors import OoreError, ToolchainMissing
from oore.execution import artifacts, cache, isolation, process
from oore.execution.env import BuildPaths, HostEnv, build_environment, read_cm_env
from oore.execution.identity import BuildUser, current_user
from oore.execution.toolchains import ToolchainDirs, ToolEnv, check_cocoapods, resolve, wanted
from oore.git import Mirror, create_workspace, remove_workspace
from oore.ids import new_id
from oore.model import Build, BuildStatus, Repository, Step, StepStatus
from oore.pipeline import Script, Workflow, script_should_run
from oore.store.base import Store

log = logging.getLogger("oore.actors.executor")

META = "oore"
LOG_FLUSH_WAIT = 10.0
CLEANUP_SECONDS = 60.0
STEP_FAILURE = {
    StepStatus.FAILED: BuildStatus.FAILED,
    StepStatus.TIMED_OUT: BuildStatus.TIMED_OUT,
    StepStatus.CANCELLED: BuildStatus.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class Dirs:
    workspaces: Path
    artifacts: Path
    cache: Path
    scratch: Path  # per-build script files and the CM_ENV file
    user: BuildUser | None = None  # who scripts run as; None: the daemon's user and HOME
    host: HostEnv = field(default_factory=HostEnv)  # OORE_BUILD_PATH, OORE_BUILD_ENV_FILE
    toolchains: ToolchainDirs = field(default_factory=ToolchainDirs)  # environment.flutter...
    nice: int = 10  # OORE_BUILD_NICE: how much less CPU priority scripts get than the daemon

    @property
    def build_user(self) -> BuildUser:
        return self.user or current_user()


@dataclass(frozen=True, slots=True)
class BuildJob:
    build: Build
    repository: Repository
    workflow: Workflow
    mirror: Mirror
    secrets: Mapping[str, str]
    event: Mapping[str, object] | None = None
    changed_files: list[str] | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)
    pipeline_file: str | None = None
    mask: tuple[str, ...] = ()  # more values masked in the log, beyond the secrets' own


class BuildExecutor:
    def __init__(
        self,
        store: Store,
        job: BuildJob,
        dirs: Dirs,
        logs: trio.MemorySendChannel[LogMessage],
        cancel: trio.Event,
        *,
        grace: float = 10.0,
        workspace_slots: trio.CapacityLimiter | None = None,
    ) -> None:
        self.store = store
        self.job = job
        self.build = job.build
        self.dirs = dirs
        self.logs = logs
        self.cancel = cancel
        self.grace = grace
        self.workspace_slots = workspace_slots  # shared by the executors: see `_prepare_in_turn`
        self.scratch = dirs.scratch / self.build.id
        self.user = dirs.build_user
        if self.build.from_fork:
            # Not the shared HOME: a fork's code could plant what later builds run there
            # (~/.gitconfig hooks, Gradle init scripts) with their secrets at hand.
            self.user = dataclasses.replace(self.user, home=self.scratch / "home")
        self.toolchain = ToolEnv()
        self.paths = BuildPaths(
            workspace=dirs.workspaces / self.build.id,
            export_dir=self.scratch / "export",
            env_file=self.scratch / "cm_env",
        )

    async def run(self) -> BuildStatus:
        """Run the build to a final status, recorded once its whole log is on disk.

        Cancelled (the daemon stopping past its grace), the build is left as it is: its process
        groups are gone, and the next start marks it interrupted and queues it again.
        """
        masked = (*self.job.secrets.values(), *self.job.mask)
        await self.logs.send(LogOpen(self.build.id, masked))
        result: tuple[BuildStatus, str | None] | None = None
        try:
            result = await self._run()
        except Exception as exc:
            log.exception("build %s: executor failed", self.build.id)
            message = exc.message if isinstance(exc, OoreError) else f"internal error: {exc!r}"
            result = (BuildStatus.ERRORED, message)
        finally:
            # Shielded so the result is recorded even while the daemon stops, and bounded so a
            # stuck disk or a stopped log streamer cannot hold the shutdown.
            with trio.CancelScope(shield=True, deadline=trio.current_time() + CLEANUP_SECONDS):
                if result is None:  # cancelled: the daemon is stopping past its grace
                    self._close_log_now()
                    await self._cleanup(BuildStatus.ERRORED)
                else:
                    await self._close_log()
                    await self._finish(*result)
                    await self._cleanup(result[0])
        return result[0]

    def _close_log_now(self) -> None:
        with contextlib.suppress(
            trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError
        ):
            self.logs.send_nowait(LogClose(self.build.id))

    async def _close_log(self) -> None:
        # Wait (bounded) until the streamer has the last line on disk, so that whoever sees
        # the build finished reads its whole log.
        written = trio.Event()
        await self.logs.send(LogClose(self.build.id, written))
        with trio.move_on_after(LOG_FLUSH_WAIT):
            await written.wait()

    async def _run(self) -> tuple[BuildStatus, str | None]:
        try:
            # Before the clone: a version this machine lacks fails the build at once.
            self.toolchain = await self._toolchain()
        except ToolchainMissing as exc:
            return BuildStatus.ERRORED, exc.message
        try:
            # A clone can hang (a stuck disk, a huge repository): the cancel interrupts it.
            await until_set(self.cancel, self._prepare_in_turn)
        except Interrupted:
            return BuildStatus.CANCELLED, "cancelled while preparing"
        except OoreError as exc:
            return BuildStatus.ERRORED, f"preparing the workspace failed: {exc}"
        if self.cancel.is_set():
            return BuildStatus.CANCELLED, "cancelled before it started"
        await self.store.transition_build(self.build.id, BuildStatus.RUNNING)
        env = self._environment()
        steps = await self._create_steps()
        await self._note(f"building {self.build.sha[:12]} with workflow {self.build.workflow}")
        # One deadline for the cache, scripts and artifacts: max_build_duration from here.
        deadline = trio.current_time() + self.job.workflow.max_build_duration * 60
        await self._cache("restore", env, deadline)
        scripts = steps[: len(self.job.workflow.scripts)]
        status, env = await self._run_scripts(scripts, env, deadline)
        await self._collect_artifacts(deadline)
        # A fork's code must not leave anything later builds would run: it restores, never saves.
        if status is BuildStatus.SUCCEEDED and not self.build.from_fork:
            await self._cache("save", env, deadline)
        if status is not BuildStatus.CANCELLED:
            await self._publish(steps[len(self.job.workflow.scripts) :], env, status)
        else:
            await self._cancel_steps(steps[len(self.job.workflow.scripts) :])
        return status, None

    async def _prepare_in_turn(self) -> None:
        """Make the workspace once a workspace slot is free. Checkouts are CPU- and disk-bound:
        50 at once on 2 cores left the daemon's event loop waiting 25-50 ms for a core at each
        turn (bench/RESULTS.md, issue 15), and make each one slower without finishing sooner."""
        slots = self.workspace_slots
        if slots is None:
            await self._prepare()
            return
        if not slots.available_tokens:
            await self._note(f"waiting for a workspace slot ({slots.total_tokens} at a time)")
        async with slots:
            await self._prepare()

    async def _prepare(self) -> None:
        await trio.to_thread.run_sync(self._make_dirs)
        # Left by an interrupted earlier run of this build: a kill during its clone leaves a
        # workspace it never recorded, and git clones only into an empty directory.
        await remove_workspace(self.paths.workspace)
        # Hard-linked objects would be shared with the mirror, and the build user would own them.
        await create_workspace(
            self.job.mirror, self.build.sha, self.paths.workspace, copy=self.user.separate
        )
        await trio.to_thread.run_sync(isolation.hand_over, self.paths.workspace, self.user)
        await self.store.set_build_fields(self.build.id, workspace=str(self.paths.workspace))

    async def _toolchain(self) -> ToolEnv:
        versions = self.job.workflow.environment.tool_versions
        found = await trio.to_thread.run_sync(resolve, versions, self.dirs.toolchains)
        if pods := wanted(versions, "cocoapods"):
            env = self._environment(found)
            found += ToolEnv(notes=(await check_cocoapods(pods, env),))
        for note in found.notes:
            await self._note(note)
        return found

    def _make_dirs(self) -> None:
        isolation.prepare_scratch(
            self.scratch, self.paths.export_dir, self.paths.env_file, self.user
        )
        if self.user.home.parent == self.scratch:
            isolation.make_home(self.user)
        self.dirs.workspaces.mkdir(parents=True, exist_ok=True)

    def _environment(self, toolchain: ToolEnv | None = None) -> dict[str, str]:
        workflow = self.job.workflow
        env = build_environment(
            self.build,
            self.job.repository,
            self.paths,
            workflow_vars=workflow.environment.vars,
            secrets=self.job.secrets,
            tool_versions=workflow.environment.tool_versions,
            user=self.user,
            host=self.dirs.host,
            toolchain=self.toolchain if toolchain is None else toolchain,
        )
        if self.build.from_fork:  # its own HOME even when builds run as the daemon's user
            env["HOME"] = str(self.user.home)
        return env

    async def _create_steps(self) -> list[Step]:
        workflow = self.job.workflow
        scripts = [(s, "script") for s in workflow.scripts]
        scripts += [(s, "publishing") for s in workflow.publishing.scripts]
        steps = [
            Step(id=new_id(), build_id=self.build.id, index=i, name=s.name, kind=kind)
            for i, (s, kind) in enumerate(scripts)
        ]
        await self.store.create_steps(steps)
        return steps

    async def _run_scripts(
        self, steps: list[Step], env: dict[str, str], deadline: float
    ) -> tuple[BuildStatus, dict[str, str]]:
        status = BuildStatus.SUCCEEDED
        for step, script in zip(steps, self.job.workflow.scripts, strict=True):
            if status is not BuildStatus.SUCCEEDED:
                await self._skip(step, "an earlier script did not succeed")
                continue
            outcome = await self._run_step(step, script, env, deadline)
            env = {**env, **read_cm_env(self.paths.env_file)}
            if outcome in STEP_FAILURE and not (
                outcome is StepStatus.FAILED and script.ignore_failure
            ):
                status = STEP_FAILURE[outcome]
        return status, env

    async def _run_step(
        self, step: Step, script: Script, env: dict[str, str], deadline: float
    ) -> StepStatus:
        run, reason = script_should_run(
            script,
            env=env,
            event=self.job.event,
            changed_files=self.job.changed_files,
            pipeline_file=self.job.pipeline_file,
            inputs=self.job.inputs,
        )
        if not run:
            await self._skip(step, reason or "its `when` does not hold")
            return StepStatus.SKIPPED
        if self.cancel.is_set():
            await self.store.transition_step(step.id, StepStatus.CANCELLED)
            return StepStatus.CANCELLED
        cwd = self._cwd(script)
        await self.store.transition_step(step.id, StepStatus.RUNNING)
        await self._note(f"==> [{step.index + 1}] {step.name}", step.index)
        if script.timeout_seconds is not None:
            deadline = min(deadline, trio.current_time() + script.timeout_seconds)
        argv = await trio.to_thread.run_sync(
            process.command_for, script.script, self.scratch / f"step-{step.index}.sh"
        )
        outcome = await process.run(
            argv,
            cwd=cwd,
            env=env,
            output=lambda stream, data: self._output(step.index, stream, data),
            deadline=deadline,
            cancel=self.cancel,
            grace=self.grace,
            on_start=self._record_group,
            user=self.user,
            nice=self.dirs.nice,
        )
        await self.store.transition_step(
            step.id, outcome.status, exit_code=outcome.exit_code, error=outcome.error
        )
        done = f"<== [{step.index + 1}] {step.name}: {outcome.status} ({outcome.error or 'ok'})"
        await self._note(done, step.index)
        return outcome.status

    def _cwd(self, script: Script) -> Path:
        relative = script.working_directory or self.job.workflow.working_directory or "."
        path = (self.paths.workspace / relative).resolve()
        if not path.is_relative_to(self.paths.workspace.resolve()):
            return self.paths.workspace
        return path if path.is_dir() else self.paths.workspace

    async def _record_group(self, group: int) -> None:
        await self.store.set_build_fields(self.build.id, process_group=group)

    async def _output(self, step: int, stream: str, data: bytes) -> None:
        await self.logs.send(LogChunk(self.build.id, step, stream, data))

    async def _note(self, text: str, step: int = -1) -> None:
        await self.logs.send(LogChunk(self.build.id, step, META, f"[oore] {text}\n".encode()))

    async def _skip(self, step: Step, reason: str) -> None:
        await self.store.transition_step(step.id, StepStatus.SKIPPED, error=reason)

    async def _cancel_steps(self, steps: list[Step]) -> None:
        for step in steps:
            await self.store.transition_step(step.id, StepStatus.CANCELLED)

    async def _publish(self, steps: list[Step], env: dict[str, str], status: BuildStatus) -> None:
        # Publishing runs whatever the build's result (but not after a cancel), with its own
        # deadline, and cannot change the build's status; its step records what happened.
        env = {**env, "OORE_BUILD_STATUS": str(status), "CM_BUILD_STATUS": str(status)}
        deadline = trio.current_time() + self.job.workflow.max_build_duration * 60
        for step, script in zip(steps, self.job.workflow.publishing.scripts, strict=True):
            await self._run_step(step, script, env, deadline)

    async def _collect_artifacts(self, deadline: float) -> None:
        """Copy the artifacts; stopped by the build's deadline (trio time) or its cancel."""
        # Everything a script puts in CM_EXPORT_DIR is an artifact too (Codemagic's convention).
        patterns = (*self.job.workflow.artifacts, str(self.paths.export_dir / "**" / "*"))
        roots = (self.paths.workspace, self.paths.export_dir)
        stop = threading.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._stop_collecting, stop, deadline)
            found = await trio.to_thread.run_sync(
                lambda: artifacts.collect(
                    self.build.id,
                    patterns,
                    roots,
                    self.dirs.artifacts,
                    build_user=self.user,
                    stop=stop.is_set,
                )
            )
            nursery.cancel_scope.cancel()
        for note in found.notes:
            await self._note(note)
        if found.stopped:
            why = "cancelled" if self.cancel.is_set() else "the build ran out of time"
            await self._note(f"artifact collection stopped ({why}): some artifacts were not kept")
        if found.artifacts:
            await self.store.add_artifacts(found.artifacts)
            await self._note(f"{len(found.artifacts)} artifact(s) kept")

    async def _stop_collecting(self, stop: threading.Event, deadline: float) -> None:
        # The worker thread cannot be cancelled: it looks at `stop` at every entry and chunk.
        # Set in `finally` too, so a daemon stopping does not wait for a whole collection.
        try:
            with trio.move_on_at(deadline):
                await self.cancel.wait()
        finally:
            stop.set()

    async def _cache(self, what: str, env: dict[str, str], deadline: float) -> None:
        """Restore or save the workflow's cache within the build's deadline and cancel."""
        if not self.job.workflow.cache_paths:
            return
        work = functools.partial(
            cache.restore if what == "restore" else cache.save,
            self._cache_dir(),
            self.job.workflow.cache_paths,
            env,
            workspace=self.paths.workspace,
            user=self.user,
        )
        await self._cache_notes(what, work, deadline)

    async def _cache_notes(
        self, what: str, work: Callable[[], Awaitable[list[str]]], deadline: float
    ) -> None:
        """Run a cache restore or save within the build's deadline and cancel; log its notes."""
        notes: list[str] | None = None
        with trio.move_on_at(deadline):
            with contextlib.suppress(Interrupted):
                notes = await until_set(self.cancel, work)
        if notes is None:
            why = "cancelled" if self.cancel.is_set() else "the build ran out of time"
            notes = [f"cache {what} stopped ({why})"]
        for note in notes:
            await self._note(note)

    def _cache_dir(self) -> Path:
        return cache.directory(self.dirs.cache, self.build.repository_id, self.build.workflow)

    async def _finish(self, status: BuildStatus, error: str | None) -> None:
        current = await self.store.get_build(self.build.id)
        if current.status.finished:
            return
        if status is BuildStatus.CANCELLED:  # superseded by a newer build: say which
            error = cancel_reason(current, error)
        await self.store.transition_build(self.build.id, status, error=error)
        log.info("build %s (#%d) %s", self.build.id, self.build.number, status)

    async def _cleanup(self, status: BuildStatus) -> None:
        keep = status in (BuildStatus.FAILED, BuildStatus.TIMED_OUT, BuildStatus.ERRORED)
        if not keep:
            await remove_workspace(self.paths.workspace)
        else:
            await trio.to_thread.run_sync(isolation.take_back, self.paths.workspace, self.user)
        await trio.to_thread.run_sync(shutil.rmtree, self.scratch, True)
