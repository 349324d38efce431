"""The Slack channel against a Slack-like server on loopback: a Block Kit message by incoming
webhook or by bot token (chat.postMessage), 429 Retry-After honoured, refusals given up, and
never the webhook URL or the token in what it says."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from oore.crypto import Sealer
from oore.model import Provider, Repository
from oore.notify.base import DeliveryFailed
from oore.notify.sending import Sender
from oore.notify.settings import secret_aad
from oore.notify.slack import SlackChannel
from oore.store.sqlite import SqliteStore
from tests.fakes.slack import FakeSlack, serve_slack
from tests.notify.payloads import BASE_URL, BUILD_ID, delivery

REPO = Repository("01JREPO", Provider.GITHUB, "acme", "app", "https://github.com/acme/app.git")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with trio.open_nursery() as nursery:
        yield await nursery.start(serve_slack)
        nursery.cancel_scope.cancel()


async def configure(store: SqliteStore, sealer: Sealer, mode: str, secret: str) -> None:
    sealed = sealer.seal(secret.encode(), secret_aad("slack"))
    await store.put_notification_setting("slack", {"mode": mode}, sealed)


def channel(store: SqliteStore, sealer: Sealer, slack: FakeSlack) -> SlackChannel:
    return SlackChannel(
        store, sealer, Sender(allow_private=True), api_url=slack.api_url, base_url=BASE_URL
    )


def texts(body: dict[str, Any]) -> str:
    return json.dumps(body["blocks"])


async def test_an_incoming_webhook_gets_the_block_kit_message(
    store: SqliteStore, sealer: Sealer, slack: FakeSlack
) -> None:
    await configure(store, sealer, "webhook", slack.webhook_url)
    sent = delivery(REPO, "slack", "failed", target="slack", to={"channel": "#builds"})
    await channel(store, sealer, slack).send(sent)
    (message,) = slack.messages
    assert message.key == sent.idempotency_key
    body = message.body
    assert body["text"] == f"acme/app #12 main: failed: {BASE_URL}/builds/{BUILD_ID}"
    header, section, *_rest = body["blocks"]
    title = "acme/app #12 main: failed"
    assert header == {"type": "header", "text": {"type": "plain_text", "text": title}}
    fields = [f["text"] for f in section["fields"]]
    assert fields == [
        "*Repository*\nacme/app",
        "*Branch*\nmain",
        "*Commit*\n`3f2a9c1e` by alice",
        "*Workflow*\nandroid",
        "*Status*\n:x: failed",
        "*Duration*\n2m 10s",
    ]
    shown = texts(body)
    assert "Fix &lt;the&gt; crash" in shown  # the commit message, escaped for mrkdwn
    assert f"<{BASE_URL}/api/artifacts/01ART|app.apk>" in shown
    assert f"<{BASE_URL}/builds/{BUILD_ID}|Open build #12>" in shown


async def test_a_bot_token_posts_to_the_workflows_channel(
    store: SqliteStore, sealer: Sealer, slack: FakeSlack
) -> None:
    await configure(store, sealer, "bot", slack.bot_token)
    sent = delivery(REPO, "slack", "succeeded", target="slack", to={"channel": "#builds"})
    answer = await channel(store, sealer, slack).send(sent)
    (message,) = slack.messages
    assert message.path == "/api/chat.postMessage"
    assert message.authorization == f"Bearer {slack.bot_token}"
    assert message.body["channel"] == "#builds"
    assert "*Status*\\n:white_check_mark: succeeded" in texts(message.body)
    assert answer.ref == "1767225600.000000"


async def test_a_429_waits_as_long_as_slack_asks(
    store: SqliteStore, sealer: Sealer, slack: FakeSlack
) -> None:
    await configure(store, sealer, "webhook", slack.webhook_url)
    slack.throttle(1, "30")
    sent = delivery(REPO, "slack", "failed", target="slack", to={"channel": "#builds"})
    with pytest.raises(DeliveryFailed) as failed:
        await channel(store, sealer, slack).send(sent)
    assert (failed.value.permanent, failed.value.retry_after) == (False, 30.0)
    await channel(store, sealer, slack).send(sent)
    assert len(slack.messages) == 1


async def test_refusals_are_given_up_without_the_secret(
    store: SqliteStore, sealer: Sealer, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent = delivery(REPO, "slack", "failed", target="slack", to={"channel": "#random"})
    revoked = slack.webhook_url + "x"
    await configure(store, sealer, "webhook", revoked)
    with pytest.raises(DeliveryFailed) as gone:
        await channel(store, sealer, slack).send(sent)
    assert gone.value.permanent
    assert gone.value.why == "Slack refused to take the message: HTTP 404 (no_service)"
    await configure(store, sealer, "bot", slack.bot_token)
    with pytest.raises(DeliveryFailed) as unknown:
        await channel(store, sealer, slack).send(sent)
    assert unknown.value.permanent
    assert unknown.value.why == "Slack refused to post to #random: channel_not_found"
    await configure(store, sealer, "bot", "xoxb-revoked-token-0000")
    with pytest.raises(DeliveryFailed) as bad:
        await channel(store, sealer, slack).send(sent)
    assert "invalid_auth" in bad.value.why
    assert bad.value.permanent
    # httpx logs URLs at INFO; the daemon keeps it at WARNING (oore.logsetup). Oore's own:
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("oore"))
    said = gone.value.why + unknown.value.why + bad.value.why + logged
    for secret in (slack.webhook_secret, slack.bot_token, "xoxb-revoked-token-0000", "/services/"):
        assert secret not in said


async def test_a_removed_setting_is_given_up(
    store: SqliteStore, sealer: Sealer, slack: FakeSlack
) -> None:
    sent = delivery(REPO, "slack", "failed", target="slack", to={"channel": "#builds"})
    with pytest.raises(DeliveryFailed) as failed:
        await channel(store, sealer, slack).send(sent)
    assert failed.value.permanent
    assert "oore settings slack set" in failed.value.why
    assert slack.received == []
