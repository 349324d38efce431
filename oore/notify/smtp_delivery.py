"""The worker-thread side of an email send: connect, secure, log in, send, and what failed.

smtplib blocks, so all of this runs in a worker thread (see `oore.notify.email`). The connection
goes to the addresses the channel's guard checked (`Route.addresses`) rather than to the name
again, so a DNS answer that changes between the check and the connect cannot point it at a
private address; TLS still verifies the certificate against the configured host name. The
system's trust store is loaded once, here in the thread (it costs tens of milliseconds of CPU,
which the event loop must not pay per mail). What the server refused keeps its SMTP code (4xx
retried, 5xx not); every way of not reaching it reads the same ("could not reach"), the detail
going to the log only, so that the test send cannot tell an open port from a closed one.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from oore.notify.base import DeliveryFailed

log = logging.getLogger(__name__)

LOGIN_IN_CLEAR = (
    "security none would send the password in clear text; use starttls or tls (none with a "
    "login is allowed only for a relay on this machine: localhost, 127.0.0.1 or ::1)"
)


@dataclass(frozen=True, slots=True, repr=False)
class Server:
    host: str
    port: int
    security: str
    username: str
    password: str
    sender: str

    def __repr__(self) -> str:
        return f"Server({self.host}:{self.port}, {self.security}, <password redacted>)"

    @property
    def name(self) -> str:
        """The host as sockets and certificates know it (an IPv6 literal without brackets)."""
        return self.host.strip("[]")

    @property
    def where(self) -> str:
        return f"the SMTP server {self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Route:
    """How to reach the server: the checked `addresses` (empty: by name, when private
    addresses are allowed), a TLS context (None: the system's trust) and the socket timeout."""

    addresses: tuple[str, ...]
    tls: ssl.SSLContext | None
    timeout: float


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def logs_in_clear(security: str, username: str, host: str) -> bool:
    """A login over a plain connection to another machine: the password would cross the
    network readable by anyone on the path."""
    return bool(username) and security == "none" and not is_loopback(host)


def deliver(server: Server, mail: EmailMessage, to: Sequence[str], route: Route) -> None:
    """In a worker thread: connect, secure, log in, send; failures as `DeliveryFailed`."""
    tls = route.tls if route.tls is not None else system_tls()
    try:
        with _connect(server, route, tls) as smtp:
            _session(smtp, server, tls)
            refused = smtp.send_message(mail, to_addrs=list(to))
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(
            f"{server.where} refused the user and password ({exc.smtp_code}); set them again "
            "with `oore settings smtp set`",
            permanent=True,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        raise by_code(f"{server.where} refused every recipient {codes}", min(codes)) from None
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code < 400:  # not an SMTP answer at all (-1): something else listens
            raise _unreachable(server, exc) from None
        why = f"{server.where} refused the message ({exc.smtp_code})"
        raise by_code(why, exc.smtp_code) from None
    except smtplib.SMTPNotSupportedError:
        raise DeliveryFailed(
            f"{server.where} does not take non-ASCII addresses (no SMTPUTF8); use an ASCII "
            "sender address",
            permanent=True,
        ) from None
    except ssl.SSLCertVerificationError:
        raise DeliveryFailed(
            f"{server.where} has a certificate this machine does not trust", permanent=True
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise _unreachable(server, exc) from None
    if refused:
        # The others have the mail: sending it again would repeat it to them.
        log.warning("%s refused some recipients: %s", server.where, sorted(refused))


@functools.cache
def system_tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def by_code(why: str, code: int) -> DeliveryFailed:
    # 4xx: try again later (greylisting, a full queue); 5xx: refused for good (a mailbox that
    # does not exist, an address the server will not take).
    return DeliveryFailed(why, permanent=500 <= code < 600)


def _session(smtp: smtplib.SMTP, server: Server, tls: ssl.SSLContext) -> None:
    smtp.ehlo()
    if server.security == "starttls":
        _starttls(smtp, tls, server.where)
    if server.username:
        _login(smtp, server)


def _starttls(smtp: smtplib.SMTP, tls: ssl.SSLContext, where: str) -> None:
    try:
        smtp.starttls(context=tls)
    except smtplib.SMTPNotSupportedError:
        raise DeliveryFailed(
            f"{where} does not offer STARTTLS; set security to tls or none", permanent=True
        ) from None
    smtp.ehlo()


def _login(smtp: smtplib.SMTP, server: Server) -> None:
    if logs_in_clear(server.security, server.username, server.host):
        raise DeliveryFailed(f"{server.where}: {LOGIN_IN_CLEAR}", permanent=True)
    try:
        smtp.login(server.username, server.password)
    except smtplib.SMTPNotSupportedError:
        # Servers offer AUTH only over TLS, as they should: a plain connection cannot log in.
        raise DeliveryFailed(
            f"{server.where} offers no login on this connection (security {server.security}); "
            "use starttls or tls, or no username",
            permanent=True,
        ) from None


def _unreachable(server: Server, exc: Exception) -> DeliveryFailed:
    # smtplib's exceptions carry no password; the host is configuration, not a secret.
    log.info("%s could not be reached: %s: %s", server.where, type(exc).__name__, exc)
    return DeliveryFailed(f"could not reach {server.where}")


def _connect(server: Server, route: Route, tls: ssl.SSLContext) -> smtplib.SMTP:
    addresses = route.addresses or (server.name,)
    if server.security == "tls":
        return _PinnedTls(addresses, server.name, server.port, route.timeout, tls)
    return _Pinned(addresses, server.name, server.port, route.timeout)


def _open(addresses: Sequence[str], port: int, timeout: float) -> socket.socket:
    """A connection to the first of `addresses` that answers (as `socket.create_connection`
    does for the addresses of one name)."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _Pinned(smtplib.SMTP):
    """smtplib.SMTP connecting to given addresses; `_get_socket` is smtplib's own seam (the
    host name is kept for EHLO's peer and for TLS's server_hostname)."""

    def __init__(self, addresses: Sequence[str], host: str, port: int, timeout: float) -> None:
        self.pinned = tuple(addresses)
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _open(self.pinned, port, timeout)


class _PinnedTls(smtplib.SMTP_SSL, _Pinned):
    """Implicit TLS over `_Pinned`'s connection: SMTP_SSL wraps what `_Pinned` opens."""

    def __init__(
        self,
        addresses: Sequence[str],
        host: str,
        port: int,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        self.pinned = tuple(addresses)
        smtplib.SMTP_SSL.__init__(self, host, port, timeout=timeout, context=context)
