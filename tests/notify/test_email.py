"""The email channel against a real SMTP server on loopback (aiosmtpd): plain, STARTTLS and
implicit TLS with a certificate made here, a login, text and HTML parts, the subject; 4xx
retried, 5xx and a bad password given up, never the password in what it says."""

from __future__ import annotations

import logging
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trio

from oore.crypto import Sealer
from oore.model import Provider, Repository
from oore.notify.base import DeliveryFailed
from oore.notify.email import EmailChannel
from oore.notify.settings import secret_aad
from oore.notify.smtp_delivery import Route, Server, deliver, system_tls
from oore.store.sqlite import SqliteStore
from tests.fakes.smtp import LOGIN_WARNING, self_signed, smtp_server
from tests.notify.payloads import BASE_URL, BUILD_ID, delivery

REPO = Repository("01JREPO", Provider.GITHUB, "acme", "app", "https://github.com/acme/app.git")
PASSWORD = "smtp-Pa55word-not-in-logs"
TO = {"recipients": ["dev@example.com", "qa@example.com"]}


async def configure(
    store: SqliteStore, sealer: Sealer, port: int, security: str, password: str | None = None
) -> None:
    config = {
        "host": "127.0.0.1",
        "port": port,
        "security": security,
        "username": "oore" if password else "",
        "from": "Oore CI <ci@example.com>",
    }
    sealed = sealer.seal(password.encode(), secret_aad("smtp")) if password else None
    await store.put_notification_setting("smtp", config, sealed)


async def test_a_plain_relay_gets_text_and_html_parts(store: SqliteStore, sealer: Sealer) -> None:
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        sent = delivery(REPO, "email", "failed", target="smtp", to=TO)
        answer = await EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True).send(sent)
    (mail,) = smtp.mails
    assert mail.mail_from == "ci@example.com"
    assert mail.rcpt_tos == ["dev@example.com", "qa@example.com"]
    message = mail.message
    assert message["Subject"] == "[oore] acme/app #12 main: failed"
    assert message["To"] == "dev@example.com, qa@example.com"
    assert message["Message-ID"] == answer.ref
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    plain = text.get_content()
    assert "Commit: 3f2a9c1e" in plain
    assert "Author: alice" in plain
    assert "  2. Build | APK: failed (2m 05s)" in plain
    assert f"app.apk: {BASE_URL}/api/artifacts/01ART" in plain
    assert f"Build: {BASE_URL}/builds/{BUILD_ID}" in plain
    markup = html.get_content()
    assert "Fix &lt;the&gt; crash" in markup  # the commit message escaped
    assert f"<a href='{BASE_URL}/builds/{BUILD_ID}'>" in markup


async def test_the_same_delivery_keeps_its_message_id(store: SqliteStore, sealer: Sealer) -> None:
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        sent = delivery(REPO, "email", "succeeded", target="smtp", to=TO)
        channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
        await channel.send(sent)
        await channel.send(sent)
        other = delivery(REPO, "email", "failed", target="smtp", to=TO)
        await channel.send(other)
    ids = [m.message["Message-ID"] for m in smtp.mails]
    assert ids[0] == ids[1] != ids[2]


@LOGIN_WARNING
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_with_a_login(
    store: SqliteStore,
    sealer: Sealer,
    tmp_path: Path,
    security: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    certificate = self_signed(tmp_path)
    users = {"oore": PASSWORD}
    async with smtp_server(security=security, certificate=certificate, users=users) as smtp:
        await configure(store, sealer, smtp.port, security, PASSWORD)
        channel = EmailChannel(
            store, sealer, base_url=BASE_URL, allow_private=True, tls=certificate.client
        )
        await channel.send(delivery(REPO, "email", "succeeded", target="smtp", to=TO))
        await configure(store, sealer, smtp.port, security, "wrong-" + PASSWORD)
        with pytest.raises(DeliveryFailed) as refused:
            await channel.send(delivery(REPO, "email", "failed", target="smtp", to=TO))
        untrusting = EmailChannel(
            store, sealer, base_url=BASE_URL, allow_private=True
        )  # the system's CAs only
        with pytest.raises(DeliveryFailed) as untrusted:
            await untrusting.send(delivery(REPO, "email", "failed", target="smtp", to=TO))
    (mail,) = smtp.mails
    assert mail.login == "oore"
    assert smtp.logins[0] == ("oore", True)
    assert set(smtp.logins[1:]) == {("oore", False)}  # smtplib tries PLAIN, then LOGIN
    assert refused.value.permanent
    assert "refused the user and password (535)" in refused.value.why
    assert untrusted.value.permanent
    assert "certificate this machine does not trust" in untrusted.value.why
    assert PASSWORD not in refused.value.why + caplog.text


async def test_starttls_not_offered_is_given_up(store: SqliteStore, sealer: Sealer) -> None:
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "starttls")
        with pytest.raises(DeliveryFailed) as failed:
            await EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True).send(
                delivery(REPO, "email", "failed", target="smtp", to=TO)
            )
    assert failed.value.permanent
    assert "does not offer STARTTLS" in failed.value.why


async def test_a_login_without_tls_is_given_up(store: SqliteStore, sealer: Sealer) -> None:
    async with smtp_server(users={"oore": PASSWORD}) as smtp:
        await configure(store, sealer, smtp.port, "none", PASSWORD)
        with pytest.raises(DeliveryFailed) as failed:
            await EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True).send(
                delivery(REPO, "email", "failed", target="smtp", to=TO)
            )
    assert failed.value.permanent
    assert "offers no login on this connection (security none)" in failed.value.why
    assert smtp.mails == []


async def test_4xx_and_no_server_are_retried_5xx_given_up(
    store: SqliteStore, sealer: Sealer
) -> None:
    channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
    sent = delivery(REPO, "email", "failed", target="smtp", to=TO)
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        smtp.refuse_next += [(451, "try again later"), (554, "rejected")]
        with pytest.raises(DeliveryFailed) as later:
            await channel.send(sent)
        with pytest.raises(DeliveryFailed) as never:
            await channel.send(sent)
    assert not later.value.permanent
    assert "(451)" in later.value.why
    assert never.value.permanent
    assert "(554)" in never.value.why
    with pytest.raises(DeliveryFailed) as down:  # the server is gone now
        await channel.send(sent)
    assert not down.value.permanent
    assert down.value.why == f"could not reach the SMTP server 127.0.0.1:{smtp.port}"


async def test_a_recipient_refused_with_5xx_is_given_up_4xx_retried(
    store: SqliteStore, sealer: Sealer
) -> None:
    channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
    one = {"recipients": ["nobody@example.com"]}
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        smtp.refuse_rcpt["nobody@example.com"] = (550, "5.1.1 no such user")
        with pytest.raises(DeliveryFailed) as never:
            await channel.send(delivery(REPO, "email", "failed", target="smtp", to=one))
        smtp.refuse_rcpt["nobody@example.com"] = (450, "4.2.1 mailbox busy")
        with pytest.raises(DeliveryFailed) as later:
            await channel.send(delivery(REPO, "email", "failed", target="smtp", to=one))
        # One refused of two: the other has the mail, which is not sent again.
        smtp.refuse_rcpt["qa@example.com"] = (550, "5.1.1 no such user")
        await channel.send(delivery(REPO, "email", "failed", target="smtp", to=TO))
    assert never.value.permanent
    assert "refused every recipient [550]" in never.value.why
    assert not later.value.permanent
    assert [m.rcpt_tos for m in smtp.mails] == [["dev@example.com"]]


@pytest.mark.parametrize(
    "bad",
    [
        "not an address",
        "dev@example.com\nBcc: spy@example.org",  # a header of its own
        "dév@example.com",  # needs SMTPUTF8, which smtplib does not use
        "dev@example.com, spy@example.org",  # two in one
        "Dev <dev@example.com",
    ],
)
async def test_a_recipient_that_is_not_an_address_is_given_up_at_once(
    store: SqliteStore, sealer: Sealer, bad: str
) -> None:
    to = {"recipients": ["qa@example.com", bad]}
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
        with pytest.raises(DeliveryFailed) as failed:
            await channel.send(delivery(REPO, "email", "failed", target="smtp", to=to))
    assert failed.value.permanent
    assert failed.value.why.startswith("not an email address: ")
    assert smtp.mails == []


async def test_more_recipients_than_a_pipeline_may_name_are_given_up_at_once(
    store: SqliteStore, sealer: Sealer
) -> None:
    to = {"recipients": [f"user{n}@example.com" for n in range(21)]}  # stored before the limit
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
        with pytest.raises(DeliveryFailed) as failed:
            await channel.send(delivery(REPO, "email", "failed", target="smtp", to=to))
    assert failed.value.permanent
    assert "21 email recipients; at most 20" in failed.value.why
    assert smtp.mails == []


async def test_named_recipients_are_sent_to_their_address(
    store: SqliteStore, sealer: Sealer
) -> None:
    to = {"recipients": ["Dev, Team <dev@example.com>", "qa@example.com", " "]}
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
        await channel.send(delivery(REPO, "email", "failed", target="smtp", to=to))
    (mail,) = smtp.mails
    assert mail.rcpt_tos == ["dev@example.com", "qa@example.com"]
    assert mail.message["To"] == '"Dev, Team" <dev@example.com>, qa@example.com'


async def test_a_private_server_is_refused_without_allow_private(
    store: SqliteStore, sealer: Sealer
) -> None:
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=False)
        with pytest.raises(DeliveryFailed) as failed:
            await channel.send(delivery(REPO, "email", "failed", target="smtp", to=TO))
    assert failed.value.permanent
    assert "private, loopback or link-local" in failed.value.why
    assert smtp.mails == []


async def test_a_clear_text_login_to_another_machine_is_refused_before_connecting(
    store: SqliteStore, sealer: Sealer
) -> None:
    config = {
        "host": "mail.example.com",
        "port": 25,
        "security": "none",
        "username": "oore",
        "from": "ci@example.com",
    }
    await store.put_notification_setting("smtp", config, sealer.seal(b"pw", secret_aad("smtp")))
    channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(delivery(REPO, "email", "failed", target="smtp", to=TO))
    assert failed.value.permanent
    assert "clear text" in failed.value.why


@LOGIN_WARNING
async def test_the_connection_goes_to_the_checked_address_and_tls_verifies_the_name(
    tmp_path: Path,
) -> None:
    certificate = self_signed(tmp_path)  # for 127.0.0.1 and localhost
    mail = EmailMessage()
    mail["From"], mail["Subject"] = "ci@example.com", "pinned"
    mail.set_content("x")
    async with smtp_server() as plain:
        # The name is never resolved again: only the checked address is connected to.
        server = Server("nowhere.invalid", plain.port, "none", "", "", "ci@example.com")
        route = Route(("::1", "127.0.0.1"), None, 5.0)  # nothing listens on the first
        await trio.to_thread.run_sync(deliver, server, mail, ["dev@example.com"], route)
    users = {"oore": PASSWORD}
    async with smtp_server(security="tls", certificate=certificate, users=users) as tls:
        server = Server("localhost", tls.port, "tls", "oore", PASSWORD, "ci@example.com")
        route = Route(("127.0.0.1",), certificate.client, 5.0)
        await trio.to_thread.run_sync(deliver, server, mail, ["dev@example.com"], route)
    assert [m.rcpt_tos for m in plain.mails + tls.mails] == [["dev@example.com"]] * 2


async def test_no_answer_of_any_kind_says_more_than_could_not_reach(
    store: SqliteStore, sealer: Sealer, nursery: trio.Nursery
) -> None:
    silent = await trio.open_tcp_listeners(0, host="127.0.0.1")  # accepts, says nothing

    async def hold(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    nursery.start_soon(trio.serve_listeners, hold, silent)
    port = silent[0].socket.getsockname()[1]
    await configure(store, sealer, port, "none")
    channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True, timeout=0.3)
    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(delivery(REPO, "email", "failed", target="smtp", to=TO))
    assert failed.value.why == f"could not reach the SMTP server 127.0.0.1:{port}"
    assert not failed.value.permanent


async def test_the_system_trust_is_loaded_once_and_off_the_event_loop(
    store: SqliteStore, sealer: Sealer, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_loop: list[bool] = []
    create = ssl.create_default_context

    def recording(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return create(*args, **kwargs)

    system_tls.cache_clear()
    monkeypatch.setattr(ssl, "create_default_context", recording)
    async with smtp_server() as smtp:
        await configure(store, sealer, smtp.port, "none")
        channel = EmailChannel(store, sealer, base_url=BASE_URL, allow_private=True)
        for event in ("failed", "succeeded"):
            await channel.send(delivery(REPO, "email", event, target="smtp", to=TO))
    system_tls.cache_clear()
    assert len(smtp.mails) == 2
    assert on_loop == [False]
