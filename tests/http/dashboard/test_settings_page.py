"""The settings page's integrations and notifications: what the API shows of GitHub, GitLab,
Slack, SMTP and the webhook targets, never a secret, and to a session only what the API would
answer it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.config import Settings
from oore.http.services import Services
from tests.http.dashboard.signin import sign_in
from tests.http.dashboard.test_pages import signed_in, text
from tests.http.test_builds_api import add_repository

SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/slackWebhookSecret0123"
SMTP_PASSWORD = "smtp pass phrase 4567"
TARGET_SECRET = "target signing secret 89ab"
TARGET_URL = "https://hooks.example.com/oore"  # a global target: every repository's builds
TARGET_QUERY = "querySecret0123"  # a receiver's token in the query: never shown
REPO_TARGET_URL = "https://app-hooks.example.com/app"
# As the page and the API show them: scheme and host (the path may hold a receiver's key).
TARGET_SHOWN, REPO_TARGET_SHOWN = "https://hooks.example.com/…", "https://app-hooks.example.com/…"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # smtp.example.com need not resolve here (the private-address guard would look it up).
    return make_settings(OORE_BIND="127.0.0.1:0", OORE_ALLOW_PRIVATE_PROVIDERS="1")


async def api(app: QuartTrio, services: Services, method: str, url: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {services.settings.admin_token}"}
    answer = await app.test_client().open(url, method=method, headers=headers, **kwargs)
    assert answer.status_code in {200, 201}, await answer.get_data(as_text=True)
    return await answer.get_json()


async def configure(app: QuartTrio, services: Services) -> None:
    await api(app, services, "PUT", "/api/settings/slack",
              json={"mode": "webhook", "webhook_url": SLACK_URL})  # fmt: skip
    await api(app, services, "PUT", "/api/settings/smtp", json={
        "host": "smtp.example.com", "port": 465, "security": "tls", "username": "ci-sender",
        "password": SMTP_PASSWORD, "from": "ci@example.com",
    })  # fmt: skip
    await api(app, services, "POST", "/api/notifications/webhooks", json={
        "url": f"{TARGET_URL}?token={TARGET_QUERY}", "secret": TARGET_SECRET, "events": ["failed"],
    })  # fmt: skip
    repo = await add_repository(services)
    await api(app, services, "POST", "/api/notifications/webhooks", json={
        "url": REPO_TARGET_URL, "secret": TARGET_SECRET, "repository_id": repo.id,
    })  # fmt: skip


def card(page: str, name: str) -> str:
    return page.split(f'data-integration="{name}"')[1].split("</article>")[0]


async def test_integrations_show_slack_smtp_and_targets_but_never_a_secret(
    app: QuartTrio, services: Services
) -> None:
    await configure(app, services)
    page = await text(await signed_in(app, services), "/settings")
    assert 'id="integrations-h"' in page
    assert 'id="notifications-h"' in page
    slack = card(page, "slack")
    assert "incoming webhook" in slack
    assert "stored" in slack
    assert "oore settings slack set" in slack
    smtp = card(page, "smtp")
    assert "smtp.example.com:465" in smtp
    assert "(tls)" in smtp
    assert "ci-sender" in smtp
    assert "ci@example.com" in smtp
    assert "oore settings smtp set" in smtp
    targets = page.split('data-integration="webhooks"')[1]
    assert TARGET_SHOWN in targets
    assert REPO_TARGET_SHOWN in targets
    assert ">failed<" in targets
    assert "acme/app" in targets  # the repository target's repository
    assert "oore notifications webhooks add" in targets
    assert "not set up" in card(page, "github")
    assert "oore github setup" in card(page, "github")
    assert "oore gitlab connect" in card(page, "gitlab")
    for secret in (SLACK_URL, "slackWebhookSecret0123", SMTP_PASSWORD, TARGET_SECRET, TARGET_QUERY):
        assert secret not in page


async def test_each_item_is_shown_to_a_session_only_if_the_api_answers_it(
    app: QuartTrio, services: Services
) -> None:
    # The API decides who may read each item (admin-only or not); the page must agree for a
    # non-admin session, whichever way the API decides.
    await configure(app, services)
    made = await api(app, services, "POST", "/api/tokens", json={"name": "viewer", "scope": "read"})
    token = made["token"]
    client: Client = app.test_client()
    await sign_in(client, token)
    page = await text(client, "/settings")
    bearer = {"Authorization": f"Bearer {token}"}

    async def answer(url: str) -> Any:
        got = await app.test_client().get(url, headers=bearer)
        assert got.status_code in {200, 403}, url
        return await got.get_json() if got.status_code == 200 else None

    for name, url, shown in (
        ("slack", "/api/settings/slack", "incoming webhook"),
        ("smtp", "/api/settings/smtp", "smtp.example.com:465"),
    ):
        section, refused = card(page, name), await answer(url) is None
        assert ("admin only" in section, shown in section) == (refused, not refused), url
    listed = await answer("/api/notifications/webhooks")
    targets = page.split('data-integration="webhooks"')[1]
    if listed is None:
        assert "admin only" in targets
        listed = {"items": []}
    listed_urls = {item["url"] for item in listed["items"]}
    for url in (TARGET_SHOWN, REPO_TARGET_SHOWN):
        assert (url in targets) == (url in listed_urls), url
    for secret in (SLACK_URL, SMTP_PASSWORD, TARGET_SECRET, TARGET_QUERY):
        assert secret not in page
