"""The OpenAPI schemas of the Slack and SMTP settings (oore.http.notify_settings)."""

from __future__ import annotations

from oore.http import notify_settings
from oore.http.openapi.schemas import TIMESTAMP, Json, enum, nullable, obj, string
from oore.notify.settings import SECURITY, SLACK_MODES

WRITE_ONLY = "write-only: never answered"


def notify_settings_schemas() -> Json:
    mode = enum(list(SLACK_MODES)) | {
        "description": "webhook: an incoming-webhook URL; bot: a bot token (chat.postMessage)"
    }
    smtp = {
        "host": string(description="The SMTP server's host name or address"),
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "security": enum(list(SECURITY))
        | {"description": "none: plain; starttls: upgrade after EHLO; tls: implicit TLS"},
        "username": nullable(string(description="Logs in when set")),
        "from": string(description="The sender: ci@example.com or Oore CI <ci@example.com>"),
    }
    return {
        "SlackSetting": obj(
            {
                "mode": mode,
                "secret_set": {"type": "boolean"},
                "updated_at": TIMESTAMP,
            }
        ),
        "SlackSettingPut": obj(
            {
                "mode": mode,
                "webhook_url": string(
                    format="uri", description=f"webhook mode: the incoming webhook; {WRITE_ONLY}"
                ),
                "token": string(description=f"bot mode: the bot token (xoxb-...); {WRITE_ONLY}"),
            },
            ("mode",),
        ),
        "SlackTest": obj({"channel": string(description="bot mode: the channel to post to")}, ()),
        "SmtpSetting": obj(smtp | {"password_set": {"type": "boolean"}, "updated_at": TIMESTAMP}),
        "SmtpSettingPut": obj(
            smtp
            | {
                "username": string(description="Logs in when set"),
                "security": smtp["security"] | {"default": "starttls"},
                "port": smtp["port"] | {"default": 587},
                "password": string(
                    description="Needed with a username, and again whenever host, port, "
                    f"security or username change; {WRITE_ONLY}"
                ),
            },
            ("host", "from"),
        ),
        "SmtpTest": obj(
            {
                "to": {
                    "type": "array",
                    "items": string(description="An email address"),
                    "minItems": 1,
                    "maxItems": notify_settings.MAX_RECIPIENTS,
                }
            },
            ("to",),
        ),
        "TestSent": obj(
            {"sent": {"type": "boolean"}, "ref": nullable(string(description="What it answered"))}
        ),
    }
