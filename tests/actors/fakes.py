"""Fakes at the actors' boundary, and the little a test needs to drive one actor alone.

`LogRecorder` stands in for the LogStreamer: a real memory channel whose receive side the test
reads (it answers `LogClose.written` at once, as the streamer does once the log is on disk).
`FakePlanner` stands in for the BuildPlanner beside a RepositorySupervisor: it answers the three
calls the supervisor makes (`for_trigger`, `for_manual`, `job_for`) from what the test set up,
with real `BuildJob`s (a real mirror, a real workflow) so that real executors run the builds.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import trio

from oore.actors.executor import BuildJob, Dirs
from oore.actors.messages import (
    CancelBuild,
    LogChunk,
    LogClose,
    LogMessage,
    ManualBuild,
    Reply,
    RepositoryMessage,
    RetryBuild,
    TriggerReceived,
)
from oore.actors.planner import Plan
from oore.actors.repository import WORKSPACE_SLOTS, RepositorySupervisor
from oore.actors.runtime import mailbox
from oore.errors import OoreError
from oore.git import Mirror
from oore.ids import new_id
from oore.model import (
    Build,
    BuildStatus,
    Provider,
    Repository,
    Trigger,
    TriggerKind,
    WebhookEvent,
    utcnow,
)
from oore.pipeline import Workflow, load
from oore.store.sqlite import SqliteStore

T = TypeVar("T")
WAIT_SECONDS = 10.0  # bound on every wait for an actor; a healthy test needs a fraction of it
POLL_SECONDS = 0.01


# --- the log inbox ------------------------------------------------------------------------------


class LogRecorder:
    """What an executor sends its LogStreamer, recorded in order with the trio time it came."""

    def __init__(self) -> None:
        self.send: trio.MemorySendChannel[LogMessage]
        self.send, self._receive = mailbox(16)
        self.received: list[tuple[float, LogMessage]] = []
        self._changed = trio.Event()

    async def run(self) -> None:
        async for message in self._receive:
            self.received.append((trio.current_time(), message))
            if isinstance(message, LogClose) and message.written is not None:
                message.written.set()
            self._changed.set()
            self._changed = trio.Event()

    def chunks(self, build_id: str) -> list[LogChunk]:
        return [m for _, m in self.received if isinstance(m, LogChunk) and m.build_id == build_id]

    def output(self, build_id: str, stream: str = "stdout") -> list[tuple[int, bytes]]:
        """The build's `stream` output as (step, bytes), consecutive chunks of a step joined."""
        joined: list[tuple[int, bytes]] = []
        for chunk in self.chunks(build_id):
            if chunk.stream != stream:
                continue
            if joined and joined[-1][0] == chunk.step:
                joined[-1] = (chunk.step, joined[-1][1] + chunk.data)
            else:
                joined.append((chunk.step, chunk.data))
        return joined

    def text(self, build_id: str) -> str:
        return b"".join(c.data for c in self.chunks(build_id)).decode()

    async def wait_for(self, done: Callable[[], bool]) -> None:
        with trio.fail_after(WAIT_SECONDS):
            while not done():
                await self._changed.wait()


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    """What `probe()` gives once `done` holds of it: a bounded poll (of the store, mostly)."""
    with trio.fail_after(WAIT_SECONDS):
        while not done(value := await probe()):  # noqa: ASYNC110 - a bounded poll: simple, any row
            await trio.sleep(POLL_SECONDS)
    return value


# --- values -------------------------------------------------------------------------------------


def pipeline_workflows(text: str) -> Mapping[str, Workflow]:
    return load(text, "codemagic.yaml").workflows


def push(repo: Repository, sha: str, branch: str = "main") -> Trigger:
    return Trigger(Provider.GITHUB, TriggerKind.PUSH, repo.owner, repo.name, sha, branch=branch)


def pull_request(repo: Repository, sha: str, number: int, *, from_fork: bool = False) -> Trigger:
    return Trigger(
        Provider.GITHUB,
        TriggerKind.PULL_REQUEST,
        repo.owner,
        repo.name,
        sha,
        pr_number=number,
        pr_source_branch=f"topic-{number}",
        pr_target_branch="main",
        from_fork=from_fork,
    )


def new_build(
    repo: Repository, trigger: Trigger, workflow: str, *, event_id: str | None = None
) -> Build:
    return Build.queued(repo.id, workflow, trigger, event_id)


async def stored_event(store: SqliteStore, repo: Repository) -> str:
    event = WebhookEvent(
        id=new_id(),
        provider=Provider.GITHUB,
        event_type="push",
        delivery_id=new_id(),
        received_at=utcnow(),
        repository_id=repo.id,
        headers={"Content-Type": "application/json", "X-GitHub-Event": "push"},
        body=b"{}",
    )
    event_id, _ = await store.insert_event(event)
    return event_id


# --- the planner --------------------------------------------------------------------------------


@dataclass
class FakePlanner:
    """The three calls a RepositorySupervisor makes of its planner, answered from test setup.

    `plans` answers triggers by event id (an exception there is raised); a manual request
    builds `workflow` at the message's sha, unless `refuse_manual` says why not; `job_for` gives
    every build a real job running its workflow from `workflows` (a workflow not there: the
    reason string). `started` lists the builds `job_for` was asked for, in the order the
    supervisor started them.
    """

    mirrors_dir: Path
    repository: Repository
    mirror: Mirror
    workflows: Mapping[str, Workflow]
    plans: dict[str, Plan | Exception] = field(default_factory=dict)
    refuse_manual: OoreError | None = None  # what `for_manual` raises, if anything
    started: list[str] = field(default_factory=list)

    async def for_trigger(self, message: TriggerReceived, event: WebhookEvent) -> Plan:
        plan = self.plans.pop(message.event_id)
        if isinstance(plan, Exception):
            raise plan
        return plan

    async def for_manual(self, message: ManualBuild) -> Build:
        if self.refuse_manual is not None:
            raise self.refuse_manual
        trigger = push(self.repository, message.sha or "", message.branch or "main")
        return new_build(self.repository, trigger, message.workflow)

    async def job_for(self, build: Build) -> BuildJob | str:
        self.started.append(build.id)
        workflow = self.workflows.get(build.workflow)
        if workflow is None:
            return f"fake planner: no workflow {build.workflow}"
        return BuildJob(build, self.repository, workflow, self.mirror, secrets={})


# --- a running supervisor -----------------------------------------------------------------------


class Held:
    """A script that holds its build running until the test releases it (a file named after the
    build appears), so that a test decides when each build ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        flag = f"{directory}/$OORE_BUILD_ID"
        script = f'echo "holding $OORE_BUILD_ID"\nuntil [ -e "{flag}" ]; do sleep 0.05; done\n'
        (directory / "hold.sh").write_text(script)

    def pipeline(self, *workflows: str) -> str:
        """A pipeline whose `workflows` each run the held script."""
        text = "workflows:\n"
        for name in workflows:
            text += f"  {name}:\n    scripts:\n      - sh {self.directory}/hold.sh\n"
        return text

    def release(self, build_id: str) -> None:
        (self.directory / build_id).touch()


@dataclass
class Running:
    """A supervisor running in the test's nursery, and how the test talks to it."""

    supervisor: RepositorySupervisor
    store: SqliteStore
    inbox: trio.MemorySendChannel[RepositoryMessage]
    logs: LogRecorder

    async def ask(
        self, make: Callable[[trio.MemorySendChannel[Reply]], RepositoryMessage]
    ) -> Reply:
        send, receive = trio.open_memory_channel[Reply](1)
        await self.inbox.send(make(send))
        with trio.fail_after(WAIT_SECONDS):
            return await receive.receive()

    async def manual(self, repository_id: str, workflow: str, sha: str) -> Build:
        reply = await self.ask(lambda r: ManualBuild(repository_id, workflow, r, sha=sha))
        return reply.unwrap()

    async def cancel(self, build_id: str) -> Reply:
        return await self.ask(lambda r: CancelBuild(build_id, r))

    async def retry(self, build_id: str) -> Reply:
        return await self.ask(lambda r: RetryBuild(build_id, r))

    async def trigger(self, planner: FakePlanner, trigger: Trigger, *workflows: str) -> list[Build]:
        """Send a stored event's trigger, planned as `workflows` (those marked `!` cancel
        previous builds); the builds once the supervisor has created them."""
        repo = planner.repository
        event_id = await stored_event(self.store, repo)
        names = [w.lstrip("!") for w in workflows]
        builds = [new_build(repo, trigger, name, event_id=event_id) for name in names]
        cancels = frozenset(w.lstrip("!") for w in workflows if w.startswith("!"))
        planner.plans[event_id] = Plan(builds, f"{len(builds)} build(s)", cancels)
        await self.inbox.send(TriggerReceived(event_id, repo.id, trigger))
        created = await eventually(lambda: self.store.builds_for_event(event_id), bool)
        return sorted(created, key=lambda b: names.index(b.workflow))

    async def wait_build(self, build_id: str, done: Callable[[Build], bool]) -> Build:
        """The build once `done(build)` holds."""
        return await eventually(lambda: self.store.get_build(build_id), done)

    async def wait_status(self, build_id: str, status: BuildStatus) -> Build:
        return await self.wait_build(build_id, lambda b: b.status is status)

    async def wait_reason(self, build_id: str, reason: str) -> Build:
        return await self.wait_build(
            build_id, lambda b: b.status is BuildStatus.QUEUED and b.queue_reason == reason
        )

    async def wait_reason_containing(self, build_id: str, part: str) -> Build:
        return await self.wait_build(
            build_id,
            lambda b: b.status is BuildStatus.QUEUED and part in (b.queue_reason or ""),
        )

    async def wait_holding(self, build_id: str) -> None:
        """Until the build's held script has started (its first line reached the log)."""
        await self.logs.wait_for(lambda: f"holding {build_id}" in self.logs.text(build_id))


@asynccontextmanager
async def running_supervisor(
    store: SqliteStore,
    planner: FakePlanner,
    dirs: Dirs,
    *,
    max_concurrent: int,
    workspace_slots: int = WORKSPACE_SLOTS,
) -> AsyncIterator[Running]:
    logs = LogRecorder()
    inbox_send: trio.MemorySendChannel[RepositoryMessage]
    inbox_send, inbox_receive = mailbox(16)
    supervisor = RepositorySupervisor(
        store,
        planner,
        inbox_receive,
        logs.send,
        dirs,
        max_concurrent=max_concurrent,
        kill_grace=1.0,
        workspace_slots=workspace_slots,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(logs.run)
        await nursery.start(supervisor.run)
        yield Running(supervisor, store, inbox_send, logs)
        nursery.cancel_scope.cancel()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
