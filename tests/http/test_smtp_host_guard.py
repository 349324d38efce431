"""The SMTP host goes through the private-address guard of provider and webhook URLs: without
OORE_ALLOW_PRIVATE_PROVIDERS a host that is, or resolves to, a private, loopback or link-local
address is refused when it is saved, and again (resolved anew) when a mail is sent."""

from __future__ import annotations

import pytest
from quart_trio import QuartTrio

from oore.http.services import Services
from tests.fakes.smtp import smtp_server

URL = "/api/settings/smtp"
SERVER = {"port": 25, "security": "none", "from": "ci@x.org"}


def admin(services: Services) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.settings.admin_token}"}


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "127.1",  # not an address to ipaddress, but resolves to 127.0.0.1
        "2130706433",  # likewise
        "10.0.0.25",
        "192.168.1.25",
        "169.254.169.254",
        "[::1]",
        "[fe80::25]",
    ],
)
async def test_a_private_smtp_host_is_refused_when_saved(
    app: QuartTrio, services: Services, host: str
) -> None:
    put = await app.test_client().put(URL, json=SERVER | {"host": host}, headers=admin(services))
    assert put.status_code == 422
    error = (await put.get_json())["error"]
    assert error["field"] == "host"
    assert "OORE_ALLOW_PRIVATE_PROVIDERS=1" in error["message"]
    assert await services.store.notification_setting("smtp") is None


async def test_a_name_that_does_not_resolve_is_saved_and_checked_at_send(
    app: QuartTrio, services: Services
) -> None:
    client, headers = app.test_client(), admin(services)
    body = SERVER | {"host": "smtp.invalid"}
    assert (await client.put(URL, json=body, headers=headers)).status_code == 200
    sent = await client.post(URL + "/test", json={"to": ["dev@example.com"]}, headers=headers)
    assert sent.status_code == 502
    message = (await sent.get_json())["error"]["message"]
    assert (
        message == "the test message was not sent: could not reach the SMTP server smtp.invalid:25"
    )


async def test_a_stored_host_resolving_to_loopback_is_refused_at_send(
    app: QuartTrio, services: Services
) -> None:
    async with smtp_server() as smtp:
        # As if saved before the guard (or while the name resolved elsewhere).
        config = SERVER | {"host": "127.1", "port": smtp.port, "username": ""}
        await services.store.put_notification_setting("smtp", config, None)
        sent = await app.test_client().post(
            URL + "/test", json={"to": ["dev@example.com"]}, headers=admin(services)
        )
    assert sent.status_code == 502
    message = (await sent.get_json())["error"]["message"]
    assert "private, loopback or link-local" in message
    assert smtp.mails == []
