"""Slack and SMTP settings over HTTP: the secret goes in sealed and never comes out, a PUT
without it keeps it, and the test send reaches a real Slack-like server and SMTP server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
from quart_trio import QuartTrio

from oore.config import Settings
from oore.crypto import generate_token, hash_token
from oore.http.services import Services
from oore.ids import new_id
from oore.model import ApiToken, TokenScope, utcnow
from oore.notify.settings import secret_aad
from tests.fakes.slack import FakeSlack, serve_slack
from tests.fakes.smtp import smtp_server

PASSWORD = "smtp pass phrase 0123"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with trio.open_nursery() as nursery:
        yield await nursery.start(serve_slack)
        nursery.cancel_scope.cancel()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], slack: FakeSlack) -> Settings:
    return make_settings(
        OORE_BIND="127.0.0.1:0", OORE_ALLOW_PRIVATE_PROVIDERS="1", OORE_SLACK_API_URL=slack.api_url
    )


class Api:
    def __init__(self, app: QuartTrio, services: Services) -> None:
        self.client = app.test_client()
        self.admin = {"Authorization": f"Bearer {services.settings.admin_token}"}
        self.seen = b""

    async def __call__(self, method: str, url: str, status: int, **kwargs: Any) -> Any:
        response = await self.client.open(url, method=method, headers=self.admin, **kwargs)
        data = await response.get_data()
        assert response.status_code == status, data
        self.seen += data + b"\n"
        return await response.get_json() if data else None


async def test_slack_secrets_are_sealed_kept_and_never_answered(
    app: QuartTrio, services: Services, slack: FakeSlack
) -> None:
    api = Api(app, services)
    url = "/api/settings/slack"
    shown = await api("PUT", url, 200, json={"mode": "webhook", "webhook_url": slack.webhook_url})
    assert (shown["mode"], shown["secret_set"]) == ("webhook", True)
    assert (await api("GET", url, 200))["mode"] == "webhook"
    await api("PUT", url, 200, json={"mode": "webhook"})  # kept
    found = await services.store.sealed_notification_setting("slack")
    assert found is not None
    assert found[1] is not None
    assert slack.webhook_secret.encode() not in found[1]
    assert services.sealer.open(found[1], secret_aad("slack")).decode() == slack.webhook_url
    sent = await api("POST", url + "/test", 200, json={})
    assert sent["sent"] is True
    (message,) = slack.messages
    assert message.body["text"].startswith("oore/example #0 main: succeeded")

    refused = await api("PUT", url, 422, json={"mode": "bot"})  # a new mode needs its secret
    assert refused["error"]["field"] == "token"
    await api("PUT", url, 422, json={"mode": "webhook", "webhook_url": "ftp://x/y"})
    creds = slack.webhook_url.replace("http://", "http://user:pw@")
    await api("PUT", url, 422, json={"mode": "webhook", "webhook_url": creds})
    await api("PUT", url, 422, json={"mode": "bot", "webhook_url": slack.webhook_url})
    await api("PUT", url, 200, json={"mode": "bot", "token": slack.bot_token})
    await api("POST", url + "/test", 200, json={"channel": "#builds"})
    failed = await api("POST", url + "/test", 502, json={"channel": "#nowhere"})
    assert "channel_not_found" in failed["error"]["message"]
    assert slack.messages[-1].authorization == f"Bearer {slack.bot_token}"
    for secret in (slack.webhook_secret, slack.bot_token):
        assert secret.encode() not in api.seen
    await api("DELETE", url, 204)
    await api("GET", url, 404)


async def test_smtp_password_is_sealed_kept_and_the_test_mail_arrives(
    app: QuartTrio, services: Services
) -> None:
    api = Api(app, services)
    url = "/api/settings/smtp"
    async with smtp_server() as smtp:
        server = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "ci@x.org"}
        shown = await api("PUT", url, 200, json=server)
        assert shown == {
            "host": "127.0.0.1", "port": smtp.port, "security": "none", "username": None,
            "from": "ci@x.org", "password_set": False, "updated_at": shown["updated_at"],
        }  # fmt: skip
        await api("POST", url + "/test", 200, json={"to": ["dev@example.com"]})
        await smtp.wait_for(1)
    (mail,) = smtp.mails
    assert mail.message["Subject"] == "[oore] oore/example #0 main: succeeded"
    assert mail.rcpt_tos == ["dev@example.com"]

    with_login = server | {"username": "ci", "password": PASSWORD}
    assert (await api("PUT", url, 200, json=with_login))["password_set"] is True
    before = await services.store.sealed_notification_setting("smtp")
    await api("PUT", url, 200, json=server | {"username": "ci", "from": "oore@x.org"})  # kept
    after = await services.store.sealed_notification_setting("smtp")
    assert before is not None
    assert after is not None
    assert before[1] == after[1]
    assert after[0].config["from"] == "oore@x.org"
    await api("PUT", url, 422, json=server | {"security": "ssl"})
    await api("PUT", url, 422, json=server | {"port": 70000})
    await api("PUT", url, 422, json=server | {"from": "not an address"})
    await api("PUT", url, 422, json=server | {"host": "bad host\r\nRCPT"})
    assert PASSWORD.encode() not in api.seen


@pytest.mark.parametrize(
    "change",
    [
        {"host": "localhost"},  # another server
        {"port": 2525},  # another port of it
        {"security": "starttls"},
        {"username": "other"},  # the same password for another user
    ],
)
async def test_smtp_password_is_not_kept_for_another_server_port_security_or_user(
    app: QuartTrio, services: Services, change: dict[str, Any]
) -> None:
    api = Api(app, services)
    url = "/api/settings/smtp"
    server = {"host": "127.0.0.1", "port": 25, "security": "none", "from": "ci@x.org"}
    await api("PUT", url, 200, json=server | {"username": "ci", "password": PASSWORD})
    before = await services.store.sealed_notification_setting("smtp")
    moved = server | {"username": "ci"} | change
    refused = await api("PUT", url, 400, json=moved)
    assert refused["error"]["message"].startswith("password: must be given again")
    assert await services.store.sealed_notification_setting("smtp") == before
    given = await api("PUT", url, 200, json=moved | {"password": "another " + PASSWORD})
    assert given["password_set"] is True
    # Without a username nothing logs in: the stored password is cleared, not kept for later.
    cleared = await api("PUT", url, 200, json=server)
    assert cleared["password_set"] is False
    found = await services.store.sealed_notification_setting("smtp")
    assert found is not None
    assert found[1] is None
    back = await api("PUT", url, 422, json=server | {"username": "ci"})
    assert back["error"]["field"] == "password"
    alone = await api("PUT", url, 422, json=server | {"password": PASSWORD})
    assert alone["error"]["field"] == "password"
    assert PASSWORD.encode() not in api.seen


async def test_a_clear_text_login_is_refused_unless_the_server_is_this_machine(
    app: QuartTrio, services: Services
) -> None:
    api = Api(app, services)
    url = "/api/settings/smtp"
    login = {"port": 25, "security": "none", "from": "ci@x.org", "username": "ci"}
    for host in ("mail.example.com", "192.0.2.25", "[2001:db8::25]"):
        refused = await api("PUT", url, 422, json=login | {"host": host, "password": PASSWORD})
        assert refused["error"]["field"] == "security"
        assert "clear text" in refused["error"]["message"]
    assert await services.store.notification_setting("smtp") is None
    for host in ("localhost", "127.0.0.1", "[::1]"):
        await api("PUT", url, 200, json=login | {"host": host, "password": PASSWORD})
    # Without a login (an open relay) or with TLS, any host.
    await api("PUT", url, 200, json=login | {"host": "mail.example.com", "username": None})
    tls = login | {"host": "mail.example.com", "security": "tls", "password": PASSWORD}
    await api("PUT", url, 200, json=tls)


async def test_every_settings_route_needs_the_admin_token(
    app: QuartTrio, services: Services, slack: FakeSlack
) -> None:
    api = Api(app, services)
    await api(
        "PUT",
        "/api/settings/slack",
        200,
        json={"mode": "webhook", "webhook_url": slack.webhook_url},
    )
    smtp = {"host": "127.0.0.1", "port": 25, "security": "none", "from": "ci@x.org"}
    await api("PUT", "/api/settings/smtp", 200, json=smtp)
    writer = {"Authorization": f"Bearer {await _token(services, TokenScope.WRITE)}"}
    bodies = {
        "/api/settings/slack": {"mode": "webhook", "webhook_url": slack.webhook_url},
        "/api/settings/slack/test": {},
        "/api/settings/smtp": smtp | {"host": "localhost"},
        "/api/settings/smtp/test": {"to": ["dev@example.com"]},
    }
    routes = [
        (method, kind + suffix)
        for kind in ("/api/settings/slack", "/api/settings/smtp")
        for method, suffix in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/test"))
    ]
    for method, url in routes:
        response = await api.client.open(url, method=method, headers=writer, json=bodies.get(url))
        assert response.status_code == 403, (method, url)
        assert "needs the admin token" in (await response.get_json())["error"]["message"]
    assert slack.messages == []
    assert (await api("GET", "/api/settings/smtp", 200))["host"] == "127.0.0.1"
    assert (await api("GET", "/api/settings/slack", 200))["mode"] == "webhook"


async def _token(services: Services, scope: TokenScope) -> str:
    secret = generate_token()
    token = ApiToken(id=new_id(), name=f"{scope}-token", scope=scope, created_at=utcnow())
    await services.store.create_token(token, hash_token(secret))
    return secret


async def _listener(nursery: trio.Nursery, greeting: bytes) -> int:
    """A port on loopback where something that is not an SMTP server answers: it says
    `greeting` (or nothing) and hangs up."""

    async def answer(stream: trio.SocketStream) -> None:
        async with stream:
            if greeting:
                await stream.send_all(greeting)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    nursery.start_soon(trio.serve_listeners, answer, listeners)
    return int(listeners[0].socket.getsockname()[1])


async def test_the_smtp_test_send_says_only_could_not_reach_whatever_is_at_the_port(
    app: QuartTrio, services: Services, nursery: trio.Nursery
) -> None:
    api = Api(app, services)
    url = "/api/settings/smtp"
    closed = _free_port()
    hosts = [
        ("127.0.0.1", closed),  # nothing listens: connection refused
        ("nowhere.invalid", 25),  # the name does not resolve
        ("127.0.0.1", await _listener(nursery, b"")),  # something that hangs up at once
        ("127.0.0.1", await _listener(nursery, b"HTTP/1.1 400 Bad Request\r\n\r\n")),
    ]
    said = set()
    for host, port in hosts:
        server = {"host": host, "port": port, "security": "none", "from": "ci@x.org"}
        await api("PUT", url, 200, json=server)
        failed = await api("POST", url + "/test", 502, json={"to": ["dev@example.com"]})
        said.add(failed["error"]["message"].replace(f"{host}:{port}", "HOST:PORT"))
    assert said == {"the test message was not sent: could not reach the SMTP server HOST:PORT"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
