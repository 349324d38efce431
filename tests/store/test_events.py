"""Webhook events in SQLite: unique per delivery, closed once, re-opened on request, listed
newest first, with the trigger they were parsed into."""

from __future__ import annotations

import dataclasses

import pytest

from oore.errors import Conflict, NotFound
from oore.model import EventState, Provider
from oore.store.base import EventFilter
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_event, make_repo, make_trigger


async def test_event_delivery_is_unique_per_provider(store: SqliteStore) -> None:
    first = make_event("d-1")
    assert await store.insert_event(first) == (first.id, True)
    assert await store.insert_event(make_event("d-1")) == (first.id, False)
    other = make_event("d-1", Provider.GITLAB)
    assert await store.insert_event(other) == (other.id, True)
    assert await store.pending_event_ids() == sorted([first.id, other.id])
    with pytest.raises(NotFound):
        await store.get_event("nope")


async def test_finish_event_only_once(store: SqliteStore) -> None:
    ev = make_event("d-2")
    await store.insert_event(ev)
    assert await store.finish_event(ev.id, EventState.IGNORED, "ping", None, None) is True
    late = make_trigger()
    assert await store.finish_event(ev.id, EventState.PROCESSED, None, None, late) is False
    got = await store.get_event(ev.id)
    assert (got.state, got.reason, got.body, got.trigger) == (
        EventState.IGNORED,
        "ping",
        ev.body,
        None,
    )
    reset = await store.reset_event(ev.id)
    assert reset.state is EventState.PENDING
    with pytest.raises(Conflict):
        await store.reset_event(ev.id)


async def test_a_finished_event_keeps_its_trigger_typed(store: SqliteStore) -> None:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    ev = make_event("d-3")
    await store.insert_event(ev)
    trigger = make_trigger(author="ada", message="fix")
    await store.finish_event(ev.id, EventState.FAILED, "fetch failed", repo.id, trigger)
    got = await store.get_event(ev.id)
    assert (got.state, got.repository_id, got.trigger) == (EventState.FAILED, repo.id, trigger)
    assert got.processed_at is not None
    reset = await store.reset_event(ev.id)
    assert (reset.trigger, reset.reason, reset.processed_at) == (None, None, None)


async def test_an_event_stored_with_its_trigger_reads_back_equal(store: SqliteStore) -> None:
    ev = dataclasses.replace(make_event("d-4"), trigger=make_trigger())
    await store.insert_event(ev)
    assert await store.get_event(ev.id) == ev


async def test_pending_event_ids_page_oldest_first(store: SqliteStore) -> None:
    events = [make_event(f"p-{i}") for i in range(5)]
    for ev in events:
        await store.insert_event(ev)
    await store.finish_event(events[1].id, EventState.IGNORED, "ping", None, None)
    pending = [ev.id for i, ev in enumerate(events) if i != 1]
    first = await store.pending_event_ids(limit=2)
    assert first == pending[:2]
    assert await store.pending_event_ids(limit=2, after=first[-1]) == pending[2:]


async def test_list_events_filters_and_cursor(store: SqliteStore) -> None:
    ids = []
    for i in range(5):
        ev = make_event(f"d-{i}", Provider.GITHUB if i % 2 else Provider.GITLAB)
        await store.insert_event(ev)
        ids.append(ev.id)
    page = await store.list_events(EventFilter(), None, 2)
    assert [e.id for e in page.items] == ids[::-1][:2]
    page2 = await store.list_events(EventFilter(), page.next_cursor, 2)
    page3 = await store.list_events(EventFilter(), page2.next_cursor, 2)
    assert [e.id for e in page2.items + page3.items] == ids[::-1][2:]
    assert page3.next_cursor is None
    github = await store.list_events(EventFilter(provider=Provider.GITHUB), None, 10)
    assert [e.id for e in github.items] == [ids[3], ids[1]]
    await store.finish_event(ids[0], EventState.IGNORED, "ping", None, None)
    ignored = await store.list_events(EventFilter(state=EventState.IGNORED), None, 10)
    assert [e.id for e in ignored.items] == [ids[0]]
