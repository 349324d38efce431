"""A Store that announces build changes after they are committed (for /api/events and viewers).

It wraps any Store: every method passes through, and the ones that change a build or a step
publish a `Change` once the write has returned, so an announcement never runs ahead of the
database ("a build's state change is written before it is announced"). Publishing never blocks:
a slow subscriber is marked lagged and re-reads from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oore.model import Build, BuildStatus, Step, StepStatus
from oore.primitives import Broadcast
from oore.store.base import Store


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # build_created | build_changed | step_changed | queue_changed
    build: Build | None = None
    step: Step | None = None
    queue: dict[str, str] | None = None


class AnnouncingStore:
    def __init__(self, inner: Store, changes: Broadcast[Change]) -> None:
        self._inner = inner
        self.changes = changes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _publish(self, change: Change) -> None:
        self.changes.publish(change)

    async def create_build(self, build: Build) -> Build:
        created = await self._inner.create_build(build)
        self._publish(Change("build_created", build=created))
        return created

    async def create_numbered_build(self, build: Build) -> Build:
        created = await self._inner.create_numbered_build(build)
        self._publish(Change("build_created", build=created))
        return created

    async def create_builds_for_event(
        self, event_id: str, builds: list[Build], reason: str, trigger: dict[str, Any]
    ) -> list[Build] | None:
        created = await self._inner.create_builds_for_event(event_id, builds, reason, trigger)
        for build in created or []:
            self._publish(Change("build_created", build=build))
        return created

    async def transition_build(self, build_id: str, status: BuildStatus, **fields: Any) -> Build:
        changed = await self._inner.transition_build(build_id, status, **fields)
        self._publish(Change("build_changed", build=changed))
        return changed

    async def transition_step(self, step_id: str, status: StepStatus, **fields: Any) -> Step:
        changed = await self._inner.transition_step(step_id, status, **fields)
        self._publish(Change("step_changed", step=changed))
        return changed

    async def set_queue_reasons(self, reasons: dict[str, str]) -> None:
        await self._inner.set_queue_reasons(reasons)
        self._publish(Change("queue_changed", queue=dict(reasons)))
