"""Slack's and SMTP's settings: what each holds, and opening their sealed secret.

Slack: `mode` is `webhook` (the secret is an incoming-webhook URL, which carries its own secret
and so is never shown or logged) or `bot` (the secret is a bot token `xoxb-...`, posting with
chat.postMessage to the channel each workflow names). SMTP: host, port, security (`none`,
`starttls` or `tls`), an optional user and the sender address; the secret is the password.
Secrets are sealed with AAD notification_settings:<kind>:secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from oore.crypto import Sealer, aad
from oore.errors import CryptoError
from oore.notify.base import DeliveryFailed
from oore.store.base import NotificationSetting

SLACK = "slack"
SMTP = "smtp"
KINDS = (SLACK, SMTP)
SLACK_MODES = ("webhook", "bot")
SECURITY = ("none", "starttls", "tls")
WHAT = {SLACK: "Slack", SMTP: "SMTP"}


# What a stored SMTP password is bound to: change any and it must be given again.
PASSWORD_BINDING = ("host", "port", "security", "username")


def secret_aad(kind: str) -> bytes:
    return aad("notification_settings", kind, "secret")


def password_binding_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a stored SMTP password would now go to another server, port, security or user."""
    return any(before.get(key) != after.get(key) for key in PASSWORD_BINDING)


class SettingsStore(Protocol):
    async def sealed_notification_setting(
        self, kind: str
    ) -> tuple[NotificationSetting, bytes | None] | None: ...


@dataclass(frozen=True, slots=True, repr=False)
class Opened:
    """A kind's config and its opened secret ("" when none); `repr` hides the secret."""

    config: Mapping[str, Any]
    secret: str

    def __repr__(self) -> str:
        return f"Opened(config={dict(self.config)!r}, <secret redacted>)"


async def opened(store: SettingsStore, sealer: Sealer, kind: str) -> Opened:
    """The current setting of `kind` for a send; a permanent `DeliveryFailed` when it was
    removed or its secret cannot be opened."""
    found = await store.sealed_notification_setting(kind)
    if found is None:
        raise DeliveryFailed(
            f"{WHAT[kind]} is not set up any more; set it with `oore settings {kind} set`",
            permanent=True,
        )
    setting, sealed = found
    if sealed is None:
        return Opened(setting.config, "")
    try:
        return Opened(setting.config, sealer.open(sealed, secret_aad(kind)).decode())
    except CryptoError:
        raise DeliveryFailed(
            f"the {WHAT[kind]} secret cannot be opened (was the encryption key changed?); set it "
            f"again with `oore settings {kind} set`",
            permanent=True,
        ) from None
