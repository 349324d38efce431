"""What `/metrics` reports about the running daemon, gathered where it lives.

Most figures are read when `/metrics` is asked (queue length, running builds, actor restarts,
mailbox use, log bytes, stored deliveries by state); build durations must be counted as builds
finish, so `BuildDurations` is a small supervised actor that follows the store's announcements
into a histogram. Each daemon has its own registry (no process-global state: tests run many).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import trio
from prometheus_client import CollectorRegistry, Histogram

from oore.actors.logs import LogStreamer
from oore.actors.repository import RepositorySupervisor
from oore.actors.runtime import Supervisor
from oore.model import Build
from oore.primitives import Broadcast
from oore.store.changes import Change, ChangeKind

# Seconds: from a quick check to a long mobile release build.
DURATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))


class BuildDurations:
    """Observes each finished build's running time, by workflow result."""

    def __init__(self, changes: Broadcast[Change], registry: CollectorRegistry) -> None:
        self.changes = changes
        self.histogram = Histogram(
            "oore_build_duration_seconds",
            "Time from a build's start to its end, by result",
            ["result"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self.changes.subscribe(buffer=1024, accept=_finished_build) as finished:
            task_status.started()
            async for change in finished:
                assert change.build is not None
                seconds = _duration(change.build)
                if seconds is not None:
                    self.histogram.labels(result=str(change.build.status)).observe(seconds)


def _finished_build(change: Change) -> bool:
    return (
        change.kind is ChangeKind.BUILD_CHANGED
        and change.build is not None
        and change.build.status.finished
    )


def _duration(build: Build) -> float | None:
    if build.started_at is None or build.finished_at is None:
        return None  # never started (cancelled while queued, say): no running time
    started = datetime.fromisoformat(build.started_at.replace("Z", "+00:00"))
    finished = datetime.fromisoformat(build.finished_at.replace("Z", "+00:00"))
    return max(0.0, (finished - started).total_seconds())


@dataclass(frozen=True, slots=True)
class DaemonGauges:
    """The live objects `/metrics` reads figures from."""

    registry: CollectorRegistry  # what is counted as it happens (build durations)
    supervisor: Supervisor
    repositories: RepositorySupervisor
    streamer: LogStreamer
    mailboxes: Mapping[str, trio.MemorySendChannel[Any]]

    def running_builds(self) -> int:
        return self.repositories.running

    def restarts(self) -> Mapping[str, int]:
        return self.supervisor.restart_counts

    def mailbox_use(self) -> dict[str, tuple[int, float]]:
        """Messages waiting and capacity, per mailbox."""
        found = {}
        for name, channel in self.mailboxes.items():
            stats = channel.statistics()
            found[name] = (stats.current_buffer_used, stats.max_buffer_size)
        return found

    def log_bytes(self) -> int:
        return self.streamer.bytes_written
