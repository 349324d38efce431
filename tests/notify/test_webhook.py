"""The signed webhook channel against a real receiver on loopback: the body signed with the
target's secret, the event and idempotency headers; 2xx sent, 429/5xx/no answer retried (after
Retry-After), other 4xx and a removed target refused for good; never the URL or the secret in
what it says."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from oore.crypto import Sealer
from oore.ids import new_id
from oore.model import WebhookTarget, utcnow
from oore.notify.base import Delivery, DeliveryFailed
from oore.notify.sending import retry_after_of
from oore.notify.webhook import WebhookChannel, secret_aad
from oore.store.sqlite import SqliteStore
from tests.fakes.webhook_receiver import WebhookReceiver, serve_receiver

SECRET = "whsec_test_secret_0123456789"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with trio.open_nursery() as nursery:
        yield await nursery.start(serve_receiver, SECRET)
        nursery.cancel_scope.cancel()


async def add_target(store: SqliteStore, sealer: Sealer, url: str) -> WebhookTarget:
    target = WebhookTarget(new_id(), None, url, (), utcnow())
    await store.add_webhook_target(target, sealer.seal(SECRET.encode(), secret_aad(target.id)))
    return target


def delivery(target: WebhookTarget, event: str = "succeeded") -> Delivery:
    return Delivery(
        id=new_id(),
        kind="webhook",
        target=f"webhook:{target.id}",
        build_id="01BUILD",
        event=event,
        payload={"event": event, "build": {"id": "01BUILD", "status": event}},
        idempotency_key=f"01BUILD:webhook:webhook:{target.id}:{event}",
    )


async def test_a_delivery_is_posted_signed_with_its_headers(
    store: SqliteStore, sealer: Sealer, receiver: WebhookReceiver
) -> None:
    target = await add_target(store, sealer, receiver.url + "/hooks/oore?team=ci")
    channel = WebhookChannel(store, sealer, allow_private=True)
    sent = delivery(target)
    await channel.send(sent)
    (got,) = receiver.received
    assert got.signed
    assert got.status == 200
    assert (got.path, got.event, got.key) == ("/hooks/oore", "succeeded", sent.idempotency_key)
    assert got.body == {"event": "succeeded", "build": {"id": "01BUILD", "status": "succeeded"}}


async def test_failures_are_retryable_or_permanent_and_name_no_url(
    store: SqliteStore, sealer: Sealer, receiver: WebhookReceiver
) -> None:
    target = await add_target(store, sealer, receiver.url + "/t0ken-in-path")
    channel = WebhookChannel(store, sealer, allow_private=True)
    receiver.down()
    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(delivery(target))
    assert (failed.value.permanent, failed.value.retry_after) == (False, None)
    assert failed.value.why == f"webhook target {target.id} answered HTTP 503"
    await receiver.up()
    receiver.throttle(1, "7")
    with pytest.raises(DeliveryFailed) as throttled:
        await channel.send(delivery(target))
    assert (throttled.value.permanent, throttled.value.retry_after) == (False, 7.0)
    wrong = await add_target(store, sealer, receiver.url + "/x")
    await store.engine.write(  # a target whose secret the receiver does not know: 401
        lambda db: db.execute(
            "UPDATE notification_targets SET secret_sealed = ? WHERE id = ?",
            [sealer.seal(b"another-secret-entirely", secret_aad(wrong.id)), wrong.id],
        )
    )
    with pytest.raises(DeliveryFailed) as refused:
        await channel.send(delivery(wrong))
    assert refused.value.permanent
    await store.delete_webhook_target(target.id)
    with pytest.raises(DeliveryFailed) as removed:
        await channel.send(delivery(target))
    assert removed.value.permanent
    assert "was removed" in removed.value.why
    for why in (failed.value.why, throttled.value.why, refused.value.why, removed.value.why):
        assert "t0ken" not in why
        assert "127.0.0.1" not in why
        assert SECRET not in why


async def test_an_unreachable_target_is_retried(
    store: SqliteStore, sealer: Sealer, receiver: WebhookReceiver
) -> None:
    target = await add_target(store, sealer, receiver.url)
    receiver.down(refuse=True)
    channel = WebhookChannel(store, sealer, allow_private=True)
    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(delivery(target))
    assert not failed.value.permanent
    assert failed.value.why == f"webhook target {target.id} could not be reached (ConnectError)"
    await receiver.up()  # the same port again
    await channel.send(delivery(target))
    assert receiver.received[-1].signed


async def test_a_private_address_is_refused_without_the_setting(
    store: SqliteStore, sealer: Sealer, receiver: WebhookReceiver
) -> None:
    target = await add_target(store, sealer, receiver.url)
    with pytest.raises(DeliveryFailed) as failed:
        await WebhookChannel(store, sealer, allow_private=False).send(delivery(target))
    assert failed.value.permanent
    assert "OORE_ALLOW_PRIVATE_PROVIDERS" in failed.value.why
    assert receiver.received == []


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert retry_after_of({"Retry-After": "3"}) == 3.0
    assert retry_after_of({}) is None
    assert retry_after_of({"Retry-After": "soon"}) is None
    assert retry_after_of({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
