"""A real SMTP server on loopback (aiosmtpd), plain, with STARTTLS or with implicit TLS.

aiosmtpd runs its asyncio loop in a thread of its own; `smtp_server` starts it (off the trio
loop: its start waits for the server to answer) and stops it after the block. Messages are kept
as parsed `email.message.EmailMessage`s with their envelope; `users` are the accepted logins
(LOGIN and PLAIN, only over TLS, as a careful server would). `self_signed(tmp_path)` makes a
certificate for 127.0.0.1 with `cryptography`, and a client context that trusts it.

A test that logs in must ignore aiosmtpd's own DeprecationWarning (it sets the deprecated
`Session.login_data` itself): mark it with `LOGIN_WARNING`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOGIN_WARNING = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the user it was sent as


@dataclass
class FakeSmtp:
    port: int = 0
    users: dict[str, str] = field(default_factory=dict)  # user -> password
    mails: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)
    refuse_next: list[tuple[int, str]] = field(default_factory=list)  # DATA answers instead
    # RCPT TO answers instead of 250, by recipient address.
    refuse_rcpt: dict[str, tuple[int, str]] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_rcpt:
            code, text = self.refuse_rcpt[address]
            return f"{code} {text}"
        envelope.rcpt_tos.append(address)  # what aiosmtpd does without this hook
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next:
            code, text = self.refuse_next.pop(0)
            return f"{code} {text}"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.auth_data else None
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, login))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = self.users.get(user) == password
        self.logins.append((user, accepted))
        if not accepted:  # aiosmtpd answers 535 itself
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)

    async def wait_for(self, count: int) -> None:
        """Until `count` mails arrived (bound it with trio.fail_after)."""
        # The server's thread cannot set a trio.Event: polling it is.
        while len(self.mails) < count:  # noqa: ASYNC110
            await trio.sleep(0.05)


@dataclass(frozen=True)
class Certificate:
    server: ssl.SSLContext
    client: ssl.SSLContext
    cafile: Path


def self_signed(where: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cafile, keyfile = where / "smtp-cert.pem", where / "smtp-key.pem"
    cafile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cafile, keyfile)
    return Certificate(server, ssl.create_default_context(cafile=str(cafile)), cafile)


@asynccontextmanager
async def smtp_server(
    *,
    security: str = "none",
    certificate: Certificate | None = None,
    users: dict[str, str] | None = None,
) -> AsyncIterator[FakeSmtp]:
    """`security`: none (plain), starttls (offered and required), tls (implicit)."""
    fake = FakeSmtp(port=_free_port(), users=dict(users or {}))
    options: dict[str, Any] = {"authenticator": fake.authenticate, "auth_require_tls": True}
    if security == "starttls":
        assert certificate is not None
        options |= {"tls_context": certificate.server, "require_starttls": True}
    elif security == "tls":
        assert certificate is not None
        # aiosmtpd counts only STARTTLS as TLS when it decides to offer AUTH.
        options |= {"ssl_context": certificate.server, "auth_require_tls": False}
    controller = Controller(fake, hostname="127.0.0.1", port=fake.port, **options)
    await trio.to_thread.run_sync(controller.start)
    try:
        yield fake
    finally:
        await trio.to_thread.run_sync(controller.stop)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
