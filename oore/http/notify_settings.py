"""Slack and SMTP settings: `GET`, `PUT`, `DELETE /api/settings/{slack,smtp}`, and a test send.

The secret (a Slack incoming-webhook URL or bot token, an SMTP password) goes in and never comes
out: it is sealed with AAD notification_settings:<kind>:secret and the answers only say whether
one is set. A `PUT` without the secret keeps the stored one only where it goes where it went
before: Slack's mode unchanged; the SMTP host, port, security and user unchanged (else anyone
allowed to change the settings could have the stored password sent to a server of their
choosing). The SMTP host goes through the private-address guard of provider and webhook URLs,
and a login over a plain connection is refused unless the server is this machine. `POST
.../test` sends a sample build report through the channel as the notifier would, so a setting
can be tried before a build depends on it; what the target refused comes back as a 502. Every
route here is the admin token's only: these settings decide where Oore sends its secrets.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from quart import Blueprint, Response, jsonify

from oore.errors import BadRequest, Forbidden, NotFound, ProviderError, Unavailable, ValidationError
from oore.http import validate
from oore.http.auth import admin_only
from oore.http.jsonio import read_json_object
from oore.http.services import Services, services
from oore.ids import new_id
from oore.notify.base import Channel, Delivery, DeliveryFailed
from oore.notify.email import EmailChannel
from oore.notify.sample import sample_report
from oore.notify.sending import Sender
from oore.notify.settings import (
    SECURITY,
    SLACK,
    SLACK_MODES,
    SMTP,
    WHAT,
    password_binding_changed,
    secret_aad,
)
from oore.notify.slack import SlackChannel
from oore.notify.smtp_delivery import LOGIN_IN_CLEAR, logs_in_clear
from oore.pipeline.publishing import MAX_EMAIL_RECIPIENTS
from oore.providers.outbound import public_addresses
from oore.settingstable import is_private_host
from oore.store.base import NotificationSetting

blueprint = Blueprint("notify_settings", __name__)

SLACK_PATH = "/api/settings/slack"
SMTP_PATH = "/api/settings/smtp"
SLACK_FIELDS = frozenset({"mode", "webhook_url", "token"})
SMTP_FIELDS = frozenset({"host", "port", "security", "username", "password", "from"})
# Printable, no spaces: it becomes an HTTP header or an SMTP command argument.
SECRET = re.compile(r"[\x21-\x7e]{1,4096}")
PASSWORD = re.compile(r"[\x20-\x7e]{1,1024}")
HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+|[^<>\r\n]{0,120}<[^\s<>@]+@[^\s<>@]+>")
MAX_RECIPIENTS = MAX_EMAIL_RECIPIENTS


def slack_json(setting: NotificationSetting) -> dict[str, Any]:
    return {
        "mode": setting.config.get("mode"),
        "secret_set": setting.secret_set,
        "updated_at": setting.updated_at,
    }


def smtp_json(setting: NotificationSetting) -> dict[str, Any]:
    config = setting.config
    return {
        "host": config.get("host"),
        "port": config.get("port"),
        "security": config.get("security"),
        "username": config.get("username") or None,
        "from": config.get("from"),
        "password_set": setting.secret_set,
        "updated_at": setting.updated_at,
    }


# --- Slack ------------------------------------------------------------------------------------


@blueprint.get(SLACK_PATH)
@admin_only
async def get_slack() -> Response:
    return jsonify(slack_json(await _setting(SLACK)))


@blueprint.put(SLACK_PATH)
@admin_only
async def put_slack() -> Response:
    body = await read_json_object()
    validate.unknown_fields(body, SLACK_FIELDS)
    mode = validate.choice(body, "mode", SLACK_MODES)
    field = "webhook_url" if mode == "webhook" else "token"
    other = "token" if mode == "webhook" else "webhook_url"
    if body.get(other) is not None:
        raise ValidationError(other, f"is not used in {mode} mode; send {field}")
    secret = validate.text(body, field, required=False, pattern=SECRET, max_length=4096)
    svc = services()
    if secret is not None and mode == "webhook":
        _webhook_url(svc, secret)
    current = await svc.store.notification_setting(SLACK)
    if secret is None and (current is None or current.config.get("mode") != mode):
        raise ValidationError(field, f"is required to set up Slack in {mode} mode")
    return jsonify(slack_json(await _put(svc, SLACK, {"mode": mode}, secret, current)))


@blueprint.delete(SLACK_PATH)
@admin_only
async def delete_slack() -> tuple[str, int]:
    return await _delete(SLACK)


@blueprint.post(SLACK_PATH + "/test")
@admin_only
async def test_slack() -> Response:
    body = await read_json_object()
    validate.unknown_fields(body, {"channel"})
    channel = validate.text(body, "channel", required=False, max_length=80) or ""
    svc = services()
    await _setting(SLACK)
    slack = SlackChannel(
        svc.store,
        svc.sealer,
        Sender(allow_private=svc.settings.allow_private_providers),
        api_url=svc.settings.slack_api_url,
        base_url=svc.settings.base_url,
    )
    return await _try(slack, {"channel": channel})


# --- SMTP -------------------------------------------------------------------------------------


@blueprint.get(SMTP_PATH)
@admin_only
async def get_smtp() -> Response:
    return jsonify(smtp_json(await _setting(SMTP)))


@blueprint.put(SMTP_PATH)
@admin_only
async def put_smtp() -> Response:
    body = await read_json_object()
    validate.unknown_fields(body, SMTP_FIELDS)
    config = _smtp_config(body)
    password = validate.text(body, "password", required=False, pattern=PASSWORD, max_length=1024)
    if logs_in_clear(config["security"], config["username"], config["host"]):
        raise ValidationError("security", LOGIN_IN_CLEAR)
    svc = services()
    await _smtp_host(svc, config["host"], config["port"])
    current = await svc.store.notification_setting(SMTP)
    _smtp_password(config, password, current)
    if not config["username"]:
        # Nothing logs in: a stored password is removed rather than kept for a later setting.
        setting = await svc.store.put_notification_setting(SMTP, config, None, clear_secret=True)
        return jsonify(smtp_json(setting))
    return jsonify(smtp_json(await _put(svc, SMTP, config, password, current)))


def _smtp_config(body: dict[str, Any]) -> dict[str, Any]:
    port = body.get("port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValidationError("port", "must be a port number from 1 to 65535")
    return {
        "host": validate.required_text(body, "host", pattern=HOST, hint="must be a host name"),
        "port": port,
        "security": validate.choice(body | {"security": body.get("security", "starttls")},
                                    "security", SECURITY),
        "username": validate.text(body, "username", required=False, pattern=SECRET) or "",
        "from": validate.required_text(
            body, "from", pattern=ADDRESS, hint="must be an address: ci@example.com"
        ),
    }  # fmt: skip


@blueprint.delete(SMTP_PATH)
@admin_only
async def delete_smtp() -> tuple[str, int]:
    return await _delete(SMTP)


@blueprint.post(SMTP_PATH + "/test")
@admin_only
async def test_smtp() -> Response:
    body = await read_json_object()
    validate.unknown_fields(body, {"to"})
    to = body.get("to")
    if (
        not isinstance(to, list)
        or not 0 < len(to) <= MAX_RECIPIENTS
        or not all(isinstance(a, str) and ADDRESS.fullmatch(a) for a in to)
    ):
        raise ValidationError("to", f"must list 1 to {MAX_RECIPIENTS} email addresses")
    svc = services()
    await _setting(SMTP)
    email = EmailChannel(
        svc.store,
        svc.sealer,
        base_url=svc.settings.base_url,
        allow_private=svc.settings.allow_private_providers,
    )
    return await _try(email, {"recipients": to})


def _smtp_password(
    config: dict[str, Any], password: str | None, current: NotificationSetting | None
) -> None:
    """Refuse a PUT that would leave the stored password to be sent somewhere new."""
    if not config["username"]:
        if password is not None:
            raise ValidationError("password", "is used only with a username; send username too")
        return
    if password is not None:
        return
    if current is None or not current.secret_set:
        raise ValidationError("password", "is required with a username")
    if password_binding_changed(current.config, config):
        raise BadRequest(
            "password: must be given again because host, port, security or username changed "
            "(Oore does not send the stored password to another server or user); send "
            "password again (`oore settings smtp set` without --keep-password), or remove "
            "username to clear it"
        )


async def _smtp_host(svc: Services, host: str, port: int) -> None:
    """The private-address guard of provider and webhook URLs, on the host's addresses now;
    a name that does not resolve now is let through (DNS may be down for a moment): the
    channel checks the addresses again at each send, before it connects."""
    if svc.settings.allow_private_providers:
        return
    try:
        await public_addresses(host.strip("[]"), port)
    except Forbidden:
        raise ValidationError(
            "host",
            "is (or resolves to) a private, loopback or link-local address; allowed only "
            "with OORE_ALLOW_PRIVATE_PROVIDERS=1",
        ) from None
    except Unavailable:
        pass


# --- shared -----------------------------------------------------------------------------------


async def _setting(kind: str) -> NotificationSetting:
    found = await services().store.notification_setting(kind)
    if found is None:
        raise NotFound(f"{WHAT[kind]} is not set up; set it with `oore settings {kind} set`")
    return found


async def _put(
    svc: Services,
    kind: str,
    config: dict[str, Any],
    secret: str | None,
    checked: NotificationSetting | None,
) -> NotificationSetting:
    """Store `config` with `secret`, or with the stored secret kept (when None): that only if
    the setting is still `checked`, the one the caller judged the secret safe to keep with."""
    if secret is not None:
        sealed = svc.sealer.seal(secret.encode(), secret_aad(kind))
        return await svc.store.put_notification_setting(kind, config, sealed)
    before = checked.config if checked is not None else {}  # the callers refuse that case
    return await svc.store.put_notification_setting(kind, config, None, unless_changed_from=before)


async def _delete(kind: str) -> tuple[str, int]:
    if not await services().store.delete_notification_setting(kind):
        raise NotFound(f"{WHAT[kind]} is not set up")
    return "", 204


async def _try(channel: Channel, to: dict[str, Any]) -> Response:
    test_id = new_id()
    delivery = Delivery(
        id=test_id,
        kind=channel.kind,
        target=channel.kind,
        build_id=test_id,
        event="succeeded",
        payload=sample_report(test_id) | {"to": to},
        idempotency_key=f"test:{test_id}",
    )
    try:
        sent = await channel.send(delivery)
    except DeliveryFailed as exc:
        raise ProviderError(f"the test message was not sent: {exc.why}") from None
    return jsonify({"sent": True, "ref": sent.ref})


def _webhook_url(svc: Services, url: str) -> None:
    parts = urlsplit(url)
    allowed = ("https", "http") if svc.settings.allow_private_providers else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise ValidationError("webhook_url", "must be an https:// URL (Slack's incoming webhook)")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("webhook_url", "must not carry a user or password")
    if is_private_host(parts.hostname) and not svc.settings.allow_private_providers:
        raise ValidationError(
            "webhook_url",
            "is a private, loopback or link-local address; allowed only with "
            "OORE_ALLOW_PRIVATE_PROVIDERS=1",
        )
