"""The Notifier on a real store: what build changes planned reaches the channels, in order per
chain, within each target's room, retried with backoff or after Retry-After, dead when refused
for good or too old, picked up again after a crash, and woken by a resend. The channel here is a
recording stand-in behind the real `Channel` interface (the signed webhook channel itself is
tested against a real receiver in tests/notify and tests/e2e)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
import trio

from oore.actors.notifier import Notifier, RetryPolicy
from oore.ids import new_id
from oore.model import Build, BuildStatus, DeliveryState, Repository, WebhookTarget, utcnow
from oore.notify.base import Delivery, DeliveryFailed, Sent
from oore.store.base import DeliveryFilter
from oore.store.sqlite import SqliteStore
from tests.store.factories import NO_SECRETS, make_build, make_repo

FAST = RetryPolicy(base=0.05, cap=0.2, max_age=60)
RUN = (BuildStatus.PREPARING, BuildStatus.RUNNING, BuildStatus.SUCCEEDED)


class Recorder:
    """Answers each delivery with Sent(ref="ref-<event>"), or with the failures queued for
    its event; holds a target's sends while its gate is closed."""

    kind: ClassVar[str] = "webhook"

    def __init__(self) -> None:
        self.calls: list[tuple[float, Delivery]] = []
        self.failures: dict[str, list[DeliveryFailed]] = {}
        self.gates: dict[str, trio.Event] = {}
        self.busy: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.sent = trio.Event()

    async def send(self, delivery: Delivery) -> Sent:
        self.calls.append((time.monotonic(), delivery))
        self.busy[delivery.target] += 1
        self.most[delivery.target] = max(self.most[delivery.target], self.busy[delivery.target])
        try:
            gate = self.gates.get(delivery.target)
            if gate is not None:
                await gate.wait()
            queued = self.failures.get(delivery.event)
            if queued:
                raise queued.pop(0)
            return Sent(ref=f"ref-{delivery.event}")
        finally:
            self.busy[delivery.target] -= 1


@pytest.fixture
async def repo(store: SqliteStore) -> Repository:
    repo = make_repo()
    await store.create_repository(repo, NO_SECRETS)
    return repo


async def add_target(store: SqliteStore, repo: Repository) -> str:
    target = WebhookTarget(new_id(), repo.id, "http://127.0.0.1:9/", (), utcnow())
    await store.add_webhook_target(target, b"sealed")
    return f"webhook:{target.id}"


async def run_build(store: SqliteStore, build: Build, *statuses: BuildStatus) -> Build:
    created = await store.create_build(build)
    for status in statuses:
        created = await store.transition_build(created.id, status)
    return created


async def states(store: SqliteStore, build_id: str | None = None) -> list[DeliveryState]:
    page = await store.list_deliveries(DeliveryFilter(build_id=build_id), None, 500)
    return [d.state for d in page.items]


async def until(store: SqliteStore, wanted: DeliveryState, count: int, limit: float = 10) -> None:
    with trio.fail_after(limit):
        while (await states(store)).count(wanted) < count:  # noqa: ASYNC110 - a bounded poll
            await trio.sleep(0.02)


@pytest.fixture
async def running(store: SqliteStore) -> AsyncIterator[tuple[Recorder, Notifier]]:
    channel = Recorder()
    notifier = Notifier(store, {"webhook": channel}, FAST, per_target=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(notifier.run)
        yield channel, notifier
        nursery.cancel_scope.cancel()


async def test_a_builds_events_reach_the_channel_in_order_with_the_chain_ref(
    store: SqliteStore, repo: Repository, running: tuple[Recorder, Notifier]
) -> None:
    channel, _ = running
    target = await add_target(store, repo)
    build = await run_build(store, make_build(repo), *RUN)
    await until(store, DeliveryState.DELIVERED, 3)
    sent = [(d.event, d.chain_ref, d.target) for _, d in channel.calls]
    assert sent == [
        ("queued", None, target),
        ("started", "ref-queued", target),
        ("succeeded", "ref-started", target),
    ]
    page = await store.list_deliveries(DeliveryFilter(build_id=build.id), None, 9)
    assert {(d.attempts, d.ref) for d in page.items} >= {(1, "ref-succeeded")}


async def test_one_slow_target_never_holds_up_another(
    store: SqliteStore, repo: Repository, running: tuple[Recorder, Notifier]
) -> None:
    channel, _ = running
    slow = await add_target(store, repo)
    channel.gates[slow] = trio.Event()
    fast = await add_target(store, repo)
    for _ in range(5):
        await run_build(store, make_build(repo))
    await until(store, DeliveryState.DELIVERED, 5)  # the fast target's five
    assert channel.most[slow] == 2  # its room (per_target=2), no more
    assert {d.target for _, d in channel.calls if d.target == fast} == {fast}
    channel.gates[slow].set()
    await until(store, DeliveryState.DELIVERED, 10)


async def test_a_failure_is_retried_with_growing_backoff(
    store: SqliteStore, repo: Repository, running: tuple[Recorder, Notifier]
) -> None:
    channel, _ = running
    channel.failures["queued"] = [DeliveryFailed("HTTP 503"), DeliveryFailed("HTTP 503")]
    await add_target(store, repo)
    await run_build(store, make_build(repo))
    await until(store, DeliveryState.DELIVERED, 1)
    times = [at for at, _ in channel.calls]
    assert len(times) == 3
    # base 0.05 then 0.1, each times a jitter of 0.5..1.0
    assert times[1] - times[0] >= 0.025
    assert times[2] - times[1] >= 0.05
    (done,) = (await store.list_deliveries(DeliveryFilter(), None, 9)).items
    assert (done.attempts, done.last_error) == (3, None)


async def test_retry_after_is_honoured(
    store: SqliteStore, repo: Repository, running: tuple[Recorder, Notifier]
) -> None:
    channel, _ = running
    channel.failures["queued"] = [DeliveryFailed("HTTP 429", retry_after=0.6)]
    await add_target(store, repo)
    await run_build(store, make_build(repo))
    await until(store, DeliveryState.DELIVERED, 1)
    first, second = (at for at, _ in channel.calls)
    assert second - first >= 0.59  # not the 0.05 s backoff


async def test_refused_for_good_or_too_old_is_dead_and_holds_nothing_up(
    store: SqliteStore, repo: Repository, running: tuple[Recorder, Notifier]
) -> None:
    channel, _ = running
    channel.failures["queued"] = [DeliveryFailed("HTTP 404", permanent=True)]
    await add_target(store, repo)
    build = await run_build(store, make_build(repo), BuildStatus.PREPARING, BuildStatus.RUNNING)
    await until(store, DeliveryState.DELIVERED, 1)
    assert sorted(await states(store, build.id)) == [DeliveryState.DEAD, DeliveryState.DELIVERED]
    assert [d.event for _, d in channel.calls] == ["queued", "started"]


async def test_a_delivery_older_than_the_maximum_age_dies(
    store: SqliteStore, repo: Repository
) -> None:
    channel = Recorder()
    channel.failures["queued"] = [DeliveryFailed("HTTP 503")] * 100
    notifier = Notifier(store, {"webhook": channel}, dataclasses.replace(FAST, max_age=0.3))
    await add_target(store, repo)
    async with trio.open_nursery() as nursery:
        await nursery.start(notifier.run)
        await run_build(store, make_build(repo))
        await until(store, DeliveryState.DEAD, 1)
        nursery.cancel_scope.cancel()
    assert 2 <= len(channel.calls) < 20
    (dead,) = (await store.list_deliveries(DeliveryFilter(), None, 9)).items
    assert dead.last_error == "HTTP 503"


async def test_a_kind_without_a_channel_stays_pending_and_says_why(
    store: SqliteStore, repo: Repository
) -> None:
    notifier = Notifier(store, {}, FAST)
    await add_target(store, repo)
    async with trio.open_nursery() as nursery:
        await nursery.start(notifier.run)
        await run_build(store, make_build(repo))
        with trio.fail_after(5):
            while True:
                (found,) = (await store.list_deliveries(DeliveryFilter(), None, 9)).items
                if found.attempts >= 2:
                    break
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()
    assert found.state is DeliveryState.PENDING
    assert found.last_error == "no webhook channel is registered in this daemon"


async def test_deliveries_left_sending_by_a_crash_are_sent_after_a_restart(
    store: SqliteStore, repo: Repository
) -> None:
    await add_target(store, repo)
    await run_build(store, make_build(repo))
    (claimed,) = await store.claim_deliveries(utcnow(), {}, 4)  # the "crashed" daemon's claim
    channel = Recorder()
    async with trio.open_nursery() as nursery:
        await nursery.start(Notifier(store, {"webhook": channel}, FAST).run)
        await until(store, DeliveryState.DELIVERED, 1)
        nursery.cancel_scope.cancel()
    assert [d.id for _, d in channel.calls] == [claimed.id]


async def test_a_resend_wakes_the_notifier(
    store: SqliteStore, repo: Repository, running: tuple[Recorder, Notifier]
) -> None:
    channel, _ = running
    channel.failures["queued"] = [DeliveryFailed("gone", permanent=True)]
    await add_target(store, repo)
    await run_build(store, make_build(repo))
    await until(store, DeliveryState.DEAD, 1)
    (dead,) = (await store.list_deliveries(DeliveryFilter(), None, 9)).items
    await store.resend_delivery(dead.id)
    await until(store, DeliveryState.DELIVERED, 1, limit=2)  # well before the idle recheck
    assert len(channel.calls) == 2


def test_backoff_grows_to_its_cap_and_retry_after_wins() -> None:
    policy = RetryPolicy(base=5, cap=600, max_age=86400)
    assert [policy.delay(n, None, 1.0) for n in range(4)] == [5, 10, 20, 40]
    assert policy.delay(20, None, 1.0) == 600
    assert policy.delay(3, None, 0.5) == 20
    assert policy.delay(3, 7.0, 0.5) == 7.0
    assert policy.delay(3, 10**9, 1.0) == 3600.0
