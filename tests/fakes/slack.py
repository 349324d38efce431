"""A Slack on loopback: an incoming webhook and the Web API's chat.postMessage.

- `POST /services/T0FAKE/B0FAKE/{secret}` is the incoming webhook
  (https://api.slack.com/messaging/webhooks): a JSON body with `text` or `blocks` is answered
  200 `ok` (plain text, as Slack does); a body without either `400 no_text`; an unknown secret
  `404 no_service` (a revoked webhook).
- `POST /api/chat.postMessage` (https://api.slack.com/methods/chat.postMessage): needs
  `Authorization: Bearer <bot_token>` (else HTTP 200 `{"ok": false, "error": "invalid_auth"}`,
  as Slack answers) and a `channel` in `channels` (else `channel_not_found`); answers `ok`,
  the channel's id and a `ts`.
- `throttle(n, retry_after)`: the next n requests are answered 429 with that Retry-After
  (tests/fakes/recording.py).
Every request is recorded in `received` (path, JSON body, Idempotency-Key, the Authorization
header, the status answered); `messages` are the accepted ones.
Start it in the test's nursery: ``slack = await nursery.start(serve_slack)``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio

from tests.fakes.recording import Recording, json_response, serve_app


@dataclass(frozen=True)
class SlackRequest:
    path: str
    body: dict[str, Any]
    key: str | None
    authorization: str
    status: int


@dataclass
class FakeSlack(Recording):
    port: int = 0
    webhook_secret: str = field(default_factory=lambda: secrets.token_hex(12))
    bot_token: str = field(default_factory=lambda: "xoxb-" + secrets.token_hex(12))
    channels: dict[str, str] = field(default_factory=lambda: {"#builds": "C0BUILDS"})
    received: list[SlackRequest] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/services/T0FAKE/B0FAKE/{self.webhook_secret}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def messages(self) -> list[SlackRequest]:
        return [r for r in self.received if r.status == 200]

    async def wait_for(self, count: int) -> None:
        """Until `count` messages were accepted (bound it with trio.fail_after)."""
        await self.until(lambda: len(self.messages) >= count)

    async def serve(self, *, task_status: trio.TaskStatus[FakeSlack]) -> None:
        app = QuartTrio("fake-slack")
        app.add_url_rule("/services/<a>/<b>/<secret>", view_func=self._webhook, methods=["POST"])
        app.add_url_rule("/api/chat.postMessage", view_func=self._post, methods=["POST"])
        async with trio.open_nursery() as nursery:
            self.port = await nursery.start(serve_app, app)
            task_status.started(self)

    async def _webhook(self, a: str, b: str, secret: str) -> Response:
        body = await request.get_json(force=True, silent=True) or {}
        if (refused := self._refused()) is not None:
            return self._record(body, refused)
        if secret != self.webhook_secret:
            return self._record(body, Response("no_service", 404, content_type="text/plain"))
        if not body.get("text") and not body.get("blocks"):
            return self._record(body, Response("no_text", 400, content_type="text/plain"))
        return self._record(body, Response("ok", 200, content_type="text/plain"))

    async def _post(self) -> Response:
        body = await request.get_json(force=True, silent=True) or {}
        if (refused := self._refused()) is not None:
            return self._record(body, refused)
        if request.headers.get("Authorization", "") != f"Bearer {self.bot_token}":
            return self._record(
                body, json_response(200, {"ok": False, "error": "invalid_auth"}), ok=False
            )
        channel = self.channels.get(str(body.get("channel")))
        if channel is None:
            answer = json_response(200, {"ok": False, "error": "channel_not_found"})
            return self._record(body, answer, ok=False)
        ts = f"1767225600.{len(self.received):06d}"
        answer = json_response(200, {"ok": True, "channel": channel, "ts": ts, "message": body})
        return self._record(body, answer)

    def _refused(self) -> Response | None:
        refusal = self.refusal()
        if refusal is None:
            return None
        status, headers = refusal
        return Response("rate_limited", status, headers=headers, content_type="text/plain")

    def _record(self, body: dict[str, Any], answer: Response, *, ok: bool = True) -> Response:
        # An `ok: false` answer comes with HTTP 200 but is no message: recorded as 400.
        status = answer.status_code if ok else 400
        self.received.append(
            SlackRequest(
                request.path,
                body,
                request.headers.get("Idempotency-Key"),
                request.headers.get("Authorization", ""),
                status,
            )
        )
        if status == 200:
            self.arrived()
        return answer


async def serve_slack(
    *, task_status: trio.TaskStatus[FakeSlack] = trio.TASK_STATUS_IGNORED
) -> None:
    await FakeSlack().serve(task_status=task_status)
