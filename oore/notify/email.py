"""Email: a plain-text and HTML message per build outcome, through the configured SMTP server.

smtplib blocks, so each send runs in a worker thread (`trio.to_thread.run_sync`, the code in
`oore.notify.smtp_delivery`) under a `trio.CapacityLimiter`, with a socket timeout so that a
silent server cannot hold a thread for ever. Security is `none` (plain SMTP, for a relay on
this machine), `starttls` (upgrade after EHLO; refused if the server does not offer it) or
`tls` (implicit TLS, usually port 465); the server's certificate is always verified. Before
the thread connects, the host is resolved here and refused when an address is private,
loopback or link-local, unless OORE_ALLOW_PRIVATE_PROVIDERS is set (the guard provider and
webhook URLs go through). The Message-ID is derived from the idempotency key, so a message
sent again after a crash carries the same id (mail clients and some servers drop the
duplicate). A recipient that is not a plain address, or one the server refuses with a 5xx
code, fails the delivery for good; a 4xx (or no answer) is retried. The password never appears
in an error (smtplib puts none in its exceptions; only codes are kept).
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import re
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any, ClassVar

import trio

from oore.crypto import Sealer
from oore.errors import Forbidden, Unavailable
from oore.notify.base import Delivery, DeliveryFailed, Sent
from oore.notify.report import Report
from oore.notify.settings import SMTP, SettingsStore, opened
from oore.notify.smtp_delivery import LOGIN_IN_CLEAR, Route, Server, deliver, logs_in_clear
from oore.notify.summary import html_text, plain_text
from oore.pipeline.publishing import MAX_EMAIL_RECIPIENTS
from oore.providers.outbound import public_addresses

TIMEOUT = 30.0  # seconds each SMTP socket operation may take
THREADS = 2  # SMTP sends at once (each holds a worker thread)
# An envelope address smtplib can send without SMTPUTF8: ASCII, one @, no spaces or commas.
MAILBOX = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
RECIPIENT = re.compile(
    rf"(?:(?P<name>[^<>\"\r\n]{{0,120}}?)\s*<(?P<named>{MAILBOX})>|(?P<bare>{MAILBOX}))"
)


def server_of(config: Mapping[str, Any], password: str) -> Server:
    return Server(
        host=str(config.get("host") or ""),
        port=int(config.get("port") or 25),
        security=str(config.get("security") or "starttls"),
        username=str(config.get("username") or ""),
        password=password,
        sender=str(config.get("from") or ""),
    )


class EmailChannel:
    kind: ClassVar[str] = "email"

    def __init__(
        self,
        store: SettingsStore,
        sealer: Sealer,
        *,
        base_url: str,
        allow_private: bool,
        tls: ssl.SSLContext | None = None,
        limiter: trio.CapacityLimiter | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.base_url = base_url
        self.allow_private = allow_private
        self.tls = tls  # None: the system's trust, loaded in the worker thread
        self.limiter = limiter if limiter is not None else trio.CapacityLimiter(THREADS)
        self.timeout = timeout

    async def send(self, delivery: Delivery) -> Sent:
        report = Report(delivery.payload, self.base_url)
        setting = await opened(self.store, self.sealer, SMTP)
        server = server_of(setting.config, setting.secret)
        if logs_in_clear(server.security, server.username, server.host):
            raise DeliveryFailed(f"{server.where}: {LOGIN_IN_CLEAR}", permanent=True)
        recipients = mailboxes(report.to.get("recipients") or [])
        mail = compose(report, server.sender, recipients, delivery.idempotency_key)
        route = Route(await self._addresses(server), self.tls, self.timeout)
        send = functools.partial(deliver, server, mail, [a for _, a in recipients], route)
        await trio.to_thread.run_sync(send, limiter=self.limiter)
        return Sent(ref=str(mail["Message-ID"]))

    async def _addresses(self, server: Server) -> tuple[str, ...]:
        """The server's checked addresses to connect to; none (connect by name) when private
        addresses are allowed."""
        if self.allow_private:
            return ()
        try:
            return tuple(await public_addresses(server.name, server.port))
        except Forbidden:
            raise DeliveryFailed(
                f"{server.where} is at a private, loopback or link-local address; Oore sends "
                "there only with OORE_ALLOW_PRIVATE_PROVIDERS=1",
                permanent=True,
            ) from None
        except Unavailable:
            raise DeliveryFailed(f"could not reach {server.where}") from None


def mailboxes(recipients: Sequence[object]) -> list[tuple[str, str]]:
    """(display name, address) of each recipient; a `DeliveryFailed` for good naming those
    that are not an address (no later attempt could send to them)."""
    if len(recipients) > MAX_EMAIL_RECIPIENTS:  # a pipeline stored before the limit
        raise DeliveryFailed(
            f"the build names {len(recipients)} email recipients; at most "
            f"{MAX_EMAIL_RECIPIENTS} are sent to",
            permanent=True,
        )
    found, bad = [], []
    for recipient in (str(r).strip() for r in recipients):
        if not recipient:
            continue
        match = RECIPIENT.fullmatch(recipient)
        if match is None:
            bad.append(recipient[:80])
        else:
            found.append(((match["name"] or "").strip(), match["named"] or match["bare"]))
    if bad:
        raise DeliveryFailed(f"not an email address: {', '.join(map(repr, bad))}", permanent=True)
    if not found:
        raise DeliveryFailed("the build names no email recipients", permanent=True)
    return found


def compose(
    report: Report, sender: str, recipients: Sequence[tuple[str, str]], key: str
) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"[oore] {report.title}"
    mail["From"] = sender
    mail["To"] = ", ".join(email.utils.formataddr(r) for r in recipients)
    mail["Date"] = email.utils.formatdate(usegmt=True)
    mail["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@oore>"
    mail["X-Oore-Build"] = str(report.build.get("id") or "")
    mail.set_content(plain_text(report))
    mail.add_alternative(html_text(report), subtype="html")
    return mail
