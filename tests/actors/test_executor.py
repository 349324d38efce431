"""The BuildExecutor alone: a claimed build, a real workspace and real processes, a recording log
inbox in place of the LogStreamer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import trio

from oore.actors.executor import BuildExecutor, BuildJob, Dirs
from oore.actors.messages import LogChunk, LogClose, LogOpen
from oore.git import Mirror
from oore.model import Build, BuildStatus, Repository, StepStatus
from oore.pipeline import Workflow
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import LogRecorder, new_build, pipeline_workflows, process_alive, push
from tests.e2e.gitrepo import GitRepo

STEPS = """\
workflows:
  ordered:
    scripts:
      - name: count
        script: |
          echo one
          echo two >&2
          echo three
      - name: more
        script: echo four
  fails:
    scripts:
      - name: ok
        script: echo fine
      - name: boom
        script: |
          echo about to fail
          exit 3
      - name: after
        script: echo never
  hangs:
    scripts:
      - name: hang
        script: |
          trap '' TERM
          sleep 600 &
          echo "child $!"
          echo "shell $$"
          wait
      - name: after
        script: echo never
  slow:
    max_build_duration: 120
    scripts:
      - name: sleepy
        timeout: 5
        script: sleep 600
      - name: after
        script: echo never
"""


class Harness:
    def __init__(
        self,
        store: SqliteStore,
        repository: Repository,
        mirror: Mirror,
        dirs: Dirs,
        workflows: Mapping[str, Workflow],
        sha: str,
    ) -> None:
        self.store, self.repository, self.mirror, self.dirs = store, repository, mirror, dirs
        self.workflows = workflows
        self.sha = sha
        self.logs = LogRecorder()
        self.cancel = trio.Event()
        self.slots: trio.CapacityLimiter | None = None  # the supervisor's workspace slots

    async def claimed(self, workflow: str) -> Build:
        """A build as the supervisor hands it to an executor: created, then preparing."""
        build = new_build(self.repository, push(self.repository, self.sha), workflow)
        created = await self.store.create_build(build)
        return await self.store.transition_build(created.id, BuildStatus.PREPARING)

    def executor(self, build: Build, grace: float = 10.0) -> BuildExecutor:
        job = BuildJob(build, self.repository, self.workflows[build.workflow], self.mirror, {})
        return BuildExecutor(
            self.store,
            job,
            self.dirs,
            self.logs.send,
            self.cancel,
            grace=grace,
            workspace_slots=self.slots,
        )

    def notes(self, build_id: str) -> str:
        return "".join(c.data.decode() for c in self.logs.chunks(build_id) if c.stream == "oore")

    async def run(self, build: Build, grace: float = 10.0) -> BuildStatus:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.logs.run)
            status = await self.executor(build, grace).run()
            nursery.cancel_scope.cancel()
        return status


def harness(
    store: SqliteStore, repository: Repository, mirror: Mirror, dirs: Dirs, origin: GitRepo
) -> Harness:
    return Harness(store, repository, mirror, dirs, pipeline_workflows(STEPS), origin.head())


async def test_step_output_reaches_the_log_inbox_in_order(
    store: SqliteStore, repository: Repository, mirror: Mirror, dirs: Dirs, origin: GitRepo
) -> None:
    h = harness(store, repository, mirror, dirs, origin)
    build = await h.claimed("ordered")

    assert await h.run(build) is BuildStatus.SUCCEEDED

    messages = [m for _, m in h.logs.received]
    assert messages[0] == LogOpen(build.id, ())
    assert isinstance(messages[-1], LogClose)
    assert h.logs.output(build.id) == [(0, b"one\nthree\n"), (1, b"four\n")]
    assert h.logs.output(build.id, "stderr") == [(0, b"two\n")]
    # Each step is announced before its output and summed up after it.
    notes = [(c.step, c.data.decode()) for c in h.logs.chunks(build.id) if c.stream == "oore"]
    assert [n for n in notes if "==>" in n[1] or "<==" in n[1]] == [
        (0, "[oore] ==> [1] count\n"),
        (0, "[oore] <== [1] count: succeeded (ok)\n"),
        (1, "[oore] ==> [2] more\n"),
        (1, "[oore] <== [2] more: succeeded (ok)\n"),
    ]
    steps = await store.get_steps(build.id)
    assert [(s.name, s.status, s.exit_code) for s in steps] == [
        ("count", StepStatus.SUCCEEDED, 0),
        ("more", StepStatus.SUCCEEDED, 0),
    ]
    done = await store.get_build(build.id)
    assert done.status is BuildStatus.SUCCEEDED
    assert done.workspace is not None
    assert not await trio.Path(done.workspace).exists()  # removed after a success


async def test_a_failing_step_fails_the_build_and_skips_the_rest(
    store: SqliteStore, repository: Repository, mirror: Mirror, dirs: Dirs, origin: GitRepo
) -> None:
    h = harness(store, repository, mirror, dirs, origin)
    build = await h.claimed("fails")

    assert await h.run(build) is BuildStatus.FAILED

    steps = await store.get_steps(build.id)
    assert [(s.name, s.status, s.exit_code, s.error) for s in steps] == [
        ("ok", StepStatus.SUCCEEDED, 0, None),
        ("boom", StepStatus.FAILED, 3, "exited with code 3"),
        ("after", StepStatus.SKIPPED, None, "an earlier script did not succeed"),
    ]
    assert h.logs.output(build.id) == [(0, b"fine\n"), (1, b"about to fail\n")]
    assert "never" not in h.logs.text(build.id)
    done = await store.get_build(build.id)
    assert done.status is BuildStatus.FAILED
    assert done.workspace is not None
    assert await trio.Path(done.workspace, "README.md").exists()  # kept after a failure


async def test_cancel_kills_the_process_group_and_marks_the_build_cancelled(
    store: SqliteStore, repository: Repository, mirror: Mirror, dirs: Dirs, origin: GitRepo
) -> None:
    h = harness(store, repository, mirror, dirs, origin)
    build = await h.claimed("hangs")
    status: list[BuildStatus] = []
    finished = trio.Event()

    async def run() -> None:
        status.append(await h.executor(build, grace=0.3).run())
        finished.set()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(h.logs.run)
            nursery.start_soon(run)
            await h.logs.wait_for(
                lambda: b"shell " in b"".join(d for _, d in h.logs.output(build.id))
            )
            running = await store.get_build(build.id)
            assert running.status is BuildStatus.RUNNING
            assert running.process_group is not None
            said = dict(
                line.split() for line in h.logs.output(build.id)[0][1].decode().splitlines()
            )
            pids = [int(said["child"]), int(said["shell"])]
            assert all(process_alive(pid) for pid in pids)

            h.cancel.set()  # the script ignores SIGTERM: only the kill after the grace ends it
            await finished.wait()
            nursery.cancel_scope.cancel()

    assert status == [BuildStatus.CANCELLED]
    assert not any(process_alive(pid) for pid in pids)
    assert not process_alive(running.process_group)  # the reaper, the group's leader
    done = await store.get_build(build.id)
    assert done.status is BuildStatus.CANCELLED
    steps = await store.get_steps(build.id)
    assert [(s.name, s.status) for s in steps] == [
        ("hang", StepStatus.CANCELLED),
        ("after", StepStatus.SKIPPED),
    ]


async def wait_for_a_slot(
    h: Harness, build: Build, then: Callable[[], Awaitable[None]]
) -> BuildStatus:
    """Run `build` while its only workspace slot is another build's; once it says it waits,
    `then()` (which lets it go on or cancels it); the status it ends with."""
    h.slots = trio.CapacityLimiter(1)
    status: list[BuildStatus] = []
    finished = trio.Event()

    async def run() -> None:
        status.append(await h.executor(build).run())
        finished.set()

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await h.slots.acquire()  # another build is making its workspace
            nursery.start_soon(h.logs.run)
            nursery.start_soon(run)
            await h.logs.wait_for(lambda: "waiting for a workspace slot" in h.notes(build.id))
            await then()
            await finished.wait()
            nursery.cancel_scope.cancel()
    return status[0]


async def test_a_build_waits_for_a_free_workspace_slot_and_says_so(
    store: SqliteStore, repository: Repository, mirror: Mirror, dirs: Dirs, origin: GitRepo
) -> None:
    h = harness(store, repository, mirror, dirs, origin)
    build = await h.claimed("ordered")

    async def waits_then_goes_on() -> None:
        await trio.sleep(0.2)  # time to start a clone, were it not waiting
        waiting = await store.get_build(build.id)
        assert waiting.status is BuildStatus.PREPARING
        assert waiting.workspace is None
        assert not (dirs.workspaces / build.id).exists()
        assert h.slots is not None
        h.slots.release()

    assert await wait_for_a_slot(h, build, waits_then_goes_on) is BuildStatus.SUCCEEDED
    assert "[oore] waiting for a workspace slot (1 at a time)\n" in h.notes(build.id)
    assert h.slots.available_tokens == 1  # given back once the workspace was made


async def test_a_build_cancelled_while_waiting_for_a_workspace_slot_ends_cancelled(
    store: SqliteStore, repository: Repository, mirror: Mirror, dirs: Dirs, origin: GitRepo
) -> None:
    h = harness(store, repository, mirror, dirs, origin)
    build = await h.claimed("ordered")

    async def cancel() -> None:
        h.cancel.set()

    assert await wait_for_a_slot(h, build, cancel) is BuildStatus.CANCELLED
    done = await store.get_build(build.id)
    assert (done.status, done.error) == (BuildStatus.CANCELLED, "cancelled while preparing")
    assert not (dirs.workspaces / build.id).exists()
    assert h.slots is not None
    assert h.slots.available_tokens == 0  # still the other build's: nothing taken, nothing lost


async def test_a_workspace_that_cannot_be_made_gives_its_slot_back(
    store: SqliteStore, repository: Repository, mirror: Mirror, dirs: Dirs, origin: GitRepo
) -> None:
    h = harness(store, repository, mirror, dirs, origin)
    h.sha = "0" * 40  # a commit the mirror does not have: the checkout fails with the slot held
    h.slots = trio.CapacityLimiter(1)
    build = await h.claimed("ordered")
    assert await h.run(build) is BuildStatus.ERRORED
    done = await store.get_build(build.id)
    assert "preparing the workspace failed" in (done.error or "")
    assert h.slots.available_tokens == 1


async def test_a_step_past_its_timeout_is_stopped_and_times_the_build_out(
    store: SqliteStore,
    repository: Repository,
    mirror: Mirror,
    dirs: Dirs,
    origin: GitRepo,
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Jump only once everything has been idle a while in real time: the jump to the step's
    # deadline, not the few milliseconds a killed process takes to be reaped.
    autojump_clock.autojump_threshold = 0.5
    h = harness(store, repository, mirror, dirs, origin)
    build = await h.claimed("slow")
    began = trio.current_time()

    assert await h.run(build, grace=1.0) is BuildStatus.TIMED_OUT

    steps = await store.get_steps(build.id)
    assert [(s.name, s.status, s.error) for s in steps] == [
        ("sleepy", StepStatus.TIMED_OUT, "timed out"),
        ("after", StepStatus.SKIPPED, "an earlier script did not succeed"),
    ]
    # Stopped at its own 5 s, not at the build's 120 minutes nor the script's 600 s (virtual
    # time: the clock jumps to each deadline, the grace and the reaper's included).
    (ended,) = [
        at
        for at, m in h.logs.received
        if isinstance(m, LogChunk) and m.data.startswith(b"[oore] <== [1] sleepy")
    ]
    assert 5 <= ended - began < 60
    assert (await store.get_build(build.id)).status is BuildStatus.TIMED_OUT
