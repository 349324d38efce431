"""What the store announces after a write commits: builds, steps, the queue and repositories.

Subscribers (the /api/events WebSocket, live-log viewers, the webhook intake's repository cache)
get a `Change` only once the row it describes is readable, so an announcement never runs ahead of
the database (DESIGN.md §1: "a build's state change is written before it is announced").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from oore.model import Build, Step


class ChangeKind(StrEnum):
    BUILD_CREATED = "build_created"
    BUILD_CHANGED = "build_changed"
    BUILD_DELETED = "build_deleted"
    STEP_CHANGED = "step_changed"
    QUEUE_CHANGED = "queue_changed"
    REPOSITORY_CHANGED = "repository_changed"
    # A delivery was put back in the outbox by hand (resend): wakes the notifier.
    NOTIFICATIONS_CHANGED = "notifications_changed"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    build: Build | None = None
    step: Step | None = None
    queue: dict[str, str] | None = None
    repository_id: str | None = None
