"""Every message actors exchange: frozen dataclasses, one module, so the protocol is visible."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import trio

from oore.errors import OoreError
from oore.model import Build, Trigger, WebhookEvent

# HTTP → WebhookIngester: a stored event (just received), or the id of one to look up
# (reprocess). Either is only a wake-up: the database stays the source of truth.
IngestRequest = WebhookEvent | str


@dataclass(frozen=True, slots=True)
class TriggerReceived:
    """WebhookIngester → RepositorySupervisor: a stored delivery resolved to a repository.

    The receiver must be idempotent per `event_id`: after a crash the ingester sends a still
    pending event again, and the receiver's guarded write is what makes it count once.
    """

    event_id: str
    repository_id: str
    trigger: Trigger


@dataclass(frozen=True, slots=True)
class LogOpen:
    """BuildExecutor → LogStreamer: a build's log begins; `secrets` are masked in every line."""

    build_id: str
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LogChunk:
    """BuildExecutor → LogStreamer: raw output of a step (`stream` is stdout, stderr or oore)."""

    build_id: str
    step: int
    stream: str
    data: bytes


@dataclass(frozen=True, slots=True)
class LogClose:
    """BuildExecutor → LogStreamer: the build's output is complete; flush partial lines.

    `written` (when given) is set once everything is on disk.
    """

    build_id: str
    written: trio.Event | None = None


LogMessage = LogOpen | LogChunk | LogClose


@dataclass(frozen=True, slots=True)
class ManualBuild:
    """HTTP → RepositorySupervisor: run `workflow` at a branch, tag or sha (exactly one)."""

    repository_id: str
    workflow: str
    reply: trio.MemorySendChannel[Reply]
    branch: str | None = None
    tag: str | None = None
    sha: str | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CancelBuild:
    """HTTP → RepositorySupervisor: cancel a queued or running build."""

    build_id: str
    reply: trio.MemorySendChannel[Reply]


@dataclass(frozen=True, slots=True)
class RetryBuild:
    """HTTP → RepositorySupervisor: queue a new attempt of a finished build."""

    build_id: str
    reply: trio.MemorySendChannel[Reply]


@dataclass(frozen=True, slots=True)
class DeleteBuild:
    """HTTP → RepositorySupervisor: delete a finished build, its rows and its files."""

    build_id: str
    reply: trio.MemorySendChannel[Reply]


@dataclass(frozen=True, slots=True)
class DeleteRepository:
    """HTTP → RepositorySupervisor: cancel the repository's builds, wait for them to end, then
    delete it and every file it has; the reply holds no build, only an error if one."""

    repository_id: str
    reply: trio.MemorySendChannel[Reply]


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a request: the build, or the error to raise in the caller."""

    build: Build | None = None
    error: OoreError | None = None

    def unwrap(self) -> Build:
        if self.error is not None:
            raise self.error
        if self.build is None:
            raise RuntimeError("empty reply")
        return self.build


RepositoryMessage = (
    TriggerReceived | ManualBuild | CancelBuild | RetryBuild | DeleteBuild | DeleteRepository
)
