"""WebhookIngester: turns stored deliveries into triggers for the RepositorySupervisor.

Its inbox carries the stored events (or ids to re-read) as a wake-up only; the database is the
source of truth. On start, whenever the HTTP side rings the overflow doorbell, and every
`sweep_every` seconds, it re-reads every still-pending event, so a full inbox or a crash delays
an event but never loses it. During a burst of deliveries it waits for a pause (a `Lull`), so
acknowledging them comes first. Events it cannot use are closed with a reason (ignored or
failed); usable ones go to the repository supervisor, whose guarded write closes them exactly
once, however often they are sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from oore.actors.messages import IngestRequest, RepositoryMessage, TriggerReceived
from oore.errors import NotFound
from oore.model import EventState, Provider, Repository, Trigger, WebhookEvent
from oore.primitives import Doorbell, Lull
from oore.store.base import Store
from oore.webhooks import Ignored, Malformed, ParseResult, github, gitlab
from oore.webhooks.delivery import json_document

log = logging.getLogger("oore.actors.ingester")

SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class IngestQueue:
    """The HTTP side's handle on the ingester: wake it for a stored delivery, never waiting.

    Every new delivery touches `deliveries`, the `Lull` the ingester waits on, so that during a
    burst the CPU goes to acknowledging deliveries first (OORE_INGEST_QUIET and
    OORE_INGEST_PATIENCE tune it); the events are stored, so only their builds start later.
    """

    inbox: trio.MemorySendChannel[IngestRequest]
    overflow: Doorbell
    deliveries: Lull

    def kick(self, request: IngestRequest) -> None:
        """A full inbox is fine: the event is stored, and the ringing makes the ingester sweep."""
        if isinstance(request, WebhookEvent):  # a new delivery (not a reprocess request)
            self.deliveries.touch()
        try:
            self.inbox.send_nowait(request)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self.overflow.ring()


class WebhookIngester:
    def __init__(
        self,
        store: Store,
        inbox: trio.MemoryReceiveChannel[IngestRequest],
        triggers: trio.MemorySendChannel[RepositoryMessage],
        overflow: Doorbell,
        *,
        lull: Lull | None = None,
        sweep_every: float = 30.0,
        resend_after: float = 300.0,
    ) -> None:
        self.store = store
        self.inbox = inbox
        self.triggers = triggers
        self.overflow = overflow
        self.lull = lull
        self.sweep_every = sweep_every
        self.resend_after = resend_after
        self._sent: dict[str, float] = {}
        self._busy: set[str] = set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.sweep()
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sweep_loop)
            async for request in self.inbox:
                await self.process(request)
            nursery.cancel_scope.cancel()

    async def _sweep_loop(self) -> None:
        while True:
            with trio.move_on_after(self.sweep_every):
                await self.overflow.wait()
            await self.sweep()

    async def sweep(self) -> None:
        """Process every pending event not sent recently (oldest first)."""
        now = trio.current_time()
        self._sent = {k: t for k, t in self._sent.items() if now - t < self.resend_after}
        after = ""
        while True:
            # Paged by id: events still pending because the repository supervisor has not got
            # to them yet must not hide the ones behind them.
            batch = await self.store.pending_event_ids(SWEEP_BATCH, after=after)
            if not batch:
                return
            after = batch[-1]
            for event_id in batch:
                if event_id not in self._sent:
                    await self.process(event_id)

    async def process(self, request: IngestRequest) -> None:
        event_id = request if isinstance(request, str) else request.id
        if event_id in self._busy:
            return
        self._busy.add(event_id)
        try:
            if self.lull is not None:
                await self.lull.wait()
            event = request if isinstance(request, WebhookEvent) else await self._pending(event_id)
            if event is not None:
                await self._process(event)
        finally:
            self._busy.discard(event_id)

    async def _pending(self, event_id: str) -> WebhookEvent | None:
        try:
            event = await self.store.get_event(event_id)
        except NotFound:
            return None
        return event if event.state is EventState.PENDING else None

    async def _process(self, event: WebhookEvent) -> None:
        result = parse(event)
        if isinstance(result, Ignored):
            await self._close(event, EventState.IGNORED, result.reason)
        elif isinstance(result, Malformed):
            await self._close(event, EventState.FAILED, result.reason)
        else:
            await self._route(event, result)

    async def _route(self, event: WebhookEvent, trigger: Trigger) -> None:
        repo = await self._repository(event, trigger)
        if repo is None:
            reason = (
                f"no {trigger.provider} repository {trigger.repo_owner}/{trigger.repo_name} is "
                "registered; add it with POST /api/repositories, then reprocess this event"
            )
            await self._close(event, EventState.IGNORED, reason)
        elif not repo.active:
            await self._close(event, EventState.IGNORED, f"repository {repo.full_name} is inactive")
        else:
            self._sent[event.id] = trio.current_time()
            await self.triggers.send(TriggerReceived(event.id, repo.id, trigger))

    async def _repository(self, event: WebhookEvent, trigger: Trigger) -> Repository | None:
        if event.repository_id is not None:
            try:
                return await self.store.get_repository(event.repository_id)
            except NotFound:
                return None
        return await self.store.find_repository(
            trigger.provider, trigger.repo_owner, trigger.repo_name, trigger.repo_provider_id
        )

    async def _close(self, event: WebhookEvent, state: EventState, reason: str) -> None:
        if await self.store.finish_event(event.id, state, reason, event.repository_id, None):
            log.info("webhook %s %s %s: %s", event.id, event.event_type, state, reason)


def parse(event: WebhookEvent) -> ParseResult:
    """The parser's answer for a stored event (also used when it is reprocessed)."""
    if event.provider is Provider.GITHUB:
        document = json_document(event.headers.get("Content-Type"), event.body)
        return github.parse(event.event_type, document)
    return gitlab.parse(event.event_type, event.body)
