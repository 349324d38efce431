"""Slack: a Block Kit message per build outcome, by incoming webhook or by bot token.

With an incoming webhook (https://api.slack.com/messaging/webhooks) the message goes to the
channel the webhook was made for; its URL is the secret, so it is never shown, logged or put
in an error. With a bot token it goes through chat.postMessage
(https://api.slack.com/methods/chat.postMessage) to the channel the workflow's
`publishing.slack.channel` names, at OORE_SLACK_API_URL. Slack answers 429 with Retry-After
when it limits the rate: the delivery waits that long. chat.postMessage answers HTTP 200 with
`ok: false` and an error name for most refusals; the transient ones are retried.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from oore.crypto import Sealer
from oore.notify.base import Delivery, DeliveryFailed, Sent
from oore.notify.report import Report
from oore.notify.sending import Request, Sender, failure, json_object
from oore.notify.settings import SLACK, SettingsStore, opened

if TYPE_CHECKING:
    import httpx  # for types only: oore.providers.outbound imports it on first use

NAME = "Slack"
# chat.postMessage's errors worth retrying; any other `error` is a refusal for good.
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
ERROR_NAME = re.compile(r"^[a-z_]{1,64}$")  # Slack's error names; anything else is not quoted
MAX_HEADER = 150  # Slack's limit on a header block's text
ICONS = {
    "succeeded": ":white_check_mark:",
    "started": ":arrow_forward:",
    "skipped": ":fast_forward:",
}


class SlackChannel:
    kind: ClassVar[str] = "slack"

    def __init__(
        self, store: SettingsStore, sealer: Sealer, sender: Sender, *, api_url: str, base_url: str
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.sender = sender
        self.api_url = api_url.rstrip("/")
        self.base_url = base_url

    async def send(self, delivery: Delivery) -> Sent:
        report = Report(delivery.payload, self.base_url)
        setting = await opened(self.store, self.sealer, SLACK)
        headers = {"Idempotency-Key": delivery.idempotency_key}
        body = message(report)
        if setting.config.get("mode") != "bot":
            response = await self.sender.send(NAME, Request("POST", setting.secret, headers, body))
            return _webhook_answer(response)
        channel = str(report.to.get("channel") or "")
        if not channel:
            raise DeliveryFailed("the build names no Slack channel to post to", permanent=True)
        headers["Authorization"] = f"Bearer {setting.secret}"
        url = f"{self.api_url}/chat.postMessage"
        response = await self.sender.send(
            NAME, Request("POST", url, headers, body | {"channel": channel})
        )
        return _api_answer(response, channel)


def _webhook_answer(response: httpx.Response) -> Sent:
    if response.is_success:
        return Sent()
    raise _with_error_name(failure(NAME, "take the message", response), response.text.strip())


def _api_answer(response: httpx.Response, channel: str) -> Sent:
    if not response.is_success:
        raise failure(NAME, f"post to {channel}", response)
    answer = json_object(response)
    if answer.get("ok") is True:
        ts = answer.get("ts")
        return Sent(ref=str(ts) if ts is not None else None)
    error = str(answer.get("error") or "unknown_error")
    why = f"Slack refused to post to {channel}: {_safe(error)}"
    if error in TRANSIENT:
        raise DeliveryFailed(why)
    raise DeliveryFailed(why, permanent=True)


def _with_error_name(failed: DeliveryFailed, text: str) -> DeliveryFailed:
    # An incoming webhook answers its refusals as plain text ("invalid_payload", "no_service").
    if not ERROR_NAME.match(text):
        return failed
    return DeliveryFailed(
        f"{failed.why} ({text})", retry_after=failed.retry_after, permanent=failed.permanent
    )


def _safe(error: str) -> str:
    return error if ERROR_NAME.match(error) else "an unreadable error"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(report: Report) -> dict[str, Any]:
    """The Block Kit message, with a plain `text` for notifications and old clients."""
    icon = ICONS.get(report.event, ":x:")
    commit = f"`{report.short_sha}`" + (f" by {escape(report.author)}" if report.author else "")
    fields = [
        ("Repository", escape(report.full_name)),
        ("Branch", escape(report.ref or "-")),
        ("Commit", commit if report.short_sha else "-"),
        ("Workflow", escape(report.workflow)),
        ("Status", f"{icon} {report.word}"),
        ("Duration", report.duration),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": report.title[:MAX_HEADER]}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]
    if report.message_line:
        blocks.append(_context(escape(report.message_line)))
    if report.error:
        blocks.append(_context(f"Error: {escape(report.error)}"))
    links = report.artifact_links()
    if links:
        listed = "\n".join(f"• <{url}|{escape(name)}>" for name, url in links)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Artifacts*\n{listed}"}}
        )
    blocks.append(
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"<{report.build_url}|Open build {escape(report.number)}>",
            },
        }
    )
    return {"text": f"{report.title}: {report.build_url}", "blocks": blocks}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2000]}]}
