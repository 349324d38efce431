"""The webhook ingester as a unit: stored deliveries become triggers for the repository
supervisor (a recording inbox here), unusable ones are closed with a reason, nothing pending is
lost to a full inbox, and a burst of deliveries is acknowledged before it is processed.

A real store and real time (short timings): the store works in threads, which an autojump clock
would skip past.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from oore.actors.ingester import IngestQueue, WebhookIngester
from oore.actors.messages import IngestRequest, RepositoryMessage, TriggerReceived
from oore.actors.runtime import mailbox
from oore.ids import new_id
from oore.model import EventState, Provider, Repository, WebhookEvent, utcnow
from oore.primitives import Doorbell, Lull
from oore.store.base import RepositorySecrets
from oore.store.sqlite import SqliteStore

GITHUB = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github"
NEW_BRANCH = (GITHUB / "push" / "with-new-branch.payload.json").read_bytes()
QUIET, PATIENCE = 0.02, 0.5
WAIT = 10.0


@dataclass
class Rig:
    store: SqliteStore
    queue: IngestQueue
    triggers: trio.MemoryReceiveChannel[RepositoryMessage]
    ingester: WebhookIngester


@pytest.fixture
async def rig(store: SqliteStore) -> AsyncIterator[Rig]:
    send: trio.MemorySendChannel[IngestRequest]
    inbox: trio.MemoryReceiveChannel[IngestRequest]
    send, inbox = mailbox(2)
    trigger_send: trio.MemorySendChannel[RepositoryMessage]
    triggers: trio.MemoryReceiveChannel[RepositoryMessage]
    trigger_send, triggers = mailbox(16)
    queue = IngestQueue(send, Doorbell(), Lull(QUIET, PATIENCE))
    ingester = WebhookIngester(store, inbox, trigger_send, queue.overflow, lull=queue.deliveries)
    async with trio.open_nursery() as nursery:
        await nursery.start(ingester.run)
        yield Rig(store, queue, triggers, ingester)
        nursery.cancel_scope.cancel()


async def delivered(
    store: SqliteStore, body: bytes = NEW_BRANCH, event: str = "push"
) -> WebhookEvent:
    stored = WebhookEvent(
        id=new_id(),
        provider=Provider.GITHUB,
        event_type=event,
        delivery_id=new_id(),
        received_at=utcnow(),
        headers={"Content-Type": "application/json"},
        body=body,
    )
    await store.insert_event(stored)
    return stored


async def registered(store: SqliteStore, *, active: bool = True) -> Repository:
    now = utcnow()
    repo = Repository(
        id=new_id(),
        provider=Provider.GITHUB,
        owner="Codertocat",
        name="Hello-World",
        clone_url="file:///nonexistent/hello.git",
        created_at=now,
        updated_at=now,
        active=active,
    )
    await store.create_repository(repo, RepositorySecrets(None, None))
    return repo


async def settled(store: SqliteStore, event_id: str) -> WebhookEvent:
    for _ in range(int(WAIT / 0.01)):
        event = await store.get_event(event_id)
        if event.state is not EventState.PENDING:
            return event
        await trio.sleep(0.01)
    raise AssertionError(f"event {event_id} is still pending")


async def test_a_delivery_for_a_registered_repository_becomes_a_trigger(rig: Rig) -> None:
    repo = await registered(rig.store)
    event = await delivered(rig.store)
    rig.queue.kick(event)
    with trio.fail_after(WAIT):
        message = await rig.triggers.receive()
    assert isinstance(message, TriggerReceived)
    assert (message.event_id, message.repository_id) == (event.id, repo.id)
    assert message.trigger.branch is not None
    # The supervisor's guarded write closes it, not the ingester: still pending here.
    assert (await rig.store.get_event(event.id)).state is EventState.PENDING


async def test_unusable_deliveries_are_closed_with_a_reason(rig: Rig) -> None:
    unknown = await delivered(rig.store)
    malformed = await delivered(rig.store, body=b'{"ref": 7}')
    for event in (unknown, malformed):
        rig.queue.kick(event)
    closed = [await settled(rig.store, e.id) for e in (unknown, malformed)]
    assert closed[0].state is EventState.IGNORED
    assert "no github repository Codertocat/Hello-World is registered" in (closed[0].reason or "")
    assert closed[1].state is EventState.FAILED
    assert closed[1].reason


async def test_an_inactive_repository_ignores_its_deliveries(rig: Rig) -> None:
    await registered(rig.store, active=False)
    event = await delivered(rig.store)
    rig.queue.kick(event)
    assert (await settled(rig.store, event.id)).reason == (
        "repository Codertocat/Hello-World is inactive"
    )


async def test_a_full_inbox_loses_nothing(rig: Rig) -> None:
    await registered(rig.store)
    events = [await delivered(rig.store) for _ in range(6)]
    for event in events:  # the inbox holds two: the rest ring the doorbell
        rig.queue.kick(event)
    got: set[str] = set()
    with trio.fail_after(WAIT):
        while len(got) < len(events):
            message = await rig.triggers.receive()
            assert isinstance(message, TriggerReceived)
            got.add(message.event_id)
    assert got == {e.id for e in events}


async def test_processing_waits_for_a_lull_in_deliveries_but_not_forever(rig: Rig) -> None:
    await registered(rig.store)
    first = await delivered(rig.store)
    started = trio.current_time()
    rig.queue.kick(first)
    # Deliveries keep coming every 5 ms (closer than QUIET): the first waits, within patience.
    async with trio.open_nursery() as nursery:

        async def burst() -> None:
            while True:
                rig.queue.deliveries.touch()
                await trio.sleep(0.005)

        nursery.start_soon(burst)
        with trio.fail_after(WAIT):
            await rig.triggers.receive()
        waited = trio.current_time() - started
        nursery.cancel_scope.cancel()
    assert PATIENCE <= waited < PATIENCE + 2


async def test_a_pending_event_is_sent_again_after_a_crash_of_its_receiver(
    store: SqliteStore,
) -> None:
    """Sent once, never closed (the supervisor crashed holding it): the sweep sends it again."""
    await registered(store)
    event = await delivered(store)
    send, inbox = trio.open_memory_channel[IngestRequest](2)
    trigger_send, triggers = trio.open_memory_channel[RepositoryMessage](4)
    ingester = WebhookIngester(
        store, inbox, trigger_send, Doorbell(), sweep_every=0.1, resend_after=0.5
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(ingester.run)  # the start-up sweep sends it
        first = await triggers.receive()
        started = trio.current_time()
        second = await triggers.receive()
        nursery.cancel_scope.cancel()
    assert isinstance(first, TriggerReceived)
    assert first.event_id == event.id
    assert first == second
    assert 0.5 <= trio.current_time() - started <= 0.5 + 2
    send.close()
