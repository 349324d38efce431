"""An ASGI fast path for webhook deliveries, in front of the Quart app.

Providers send bursts of deliveries and expect an answer within seconds; Quart's per-request
machinery (contexts, signals, wrappers) costs more CPU than verifying and storing a delivery
(measured: ~0.7 ms per trivial Quart request against ~0.4 ms for a bare ASGI handler on this
machine). So `POST /api/webhooks/...` is answered here, by the same `Intake` the Quart routes
use, with the same body limit, error format and answers; everything else goes to Quart.

Anyone can post here, so what a delivery may cost is bounded before it is read: one that its
headers condemn (no signature or token, say) is read and dropped as it arrives; a large GitHub
body is HMAC-ed as it arrives and refused unjoined when the signature is wrong (see
`webhookbody`); and at most `LARGE_BODIES` bodies over `LARGE_BODY` bytes are read at once (the
others wait in the kernel's buffers): eight clients posting 25 MB each no longer hold 200 MB.
So that a client sending slowly cannot keep that slot (and every large delivery after it out),
a large body must arrive at `MIN_BYTES_PER_SECOND` (after `READ_GRACE` seconds) or is answered
408, and a delivery waits at most `SLOT_WAIT` seconds for the slot before a 503.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, cast

import trio
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from oore.errors import OoreError, RequestTimeout, Unavailable
from oore.http.services import Services
from oore.http.webhookbody import receive_body
from oore.webhooks.intake import UNVERIFIED_BYTES, Answer, Headers

log = logging.getLogger("oore.http")

GITLAB = re.compile(r"/api/webhooks/gitlab/([^/]+)")
LARGE_BODY = 1024 * 1024
LARGE_BODIES = 1
SLOT_WAIT = 8.0  # GitHub gives up on a delivery after 10 s
READ_GRACE = 10.0
MIN_BYTES_PER_SECOND = 256 * 1024


class WebhookFastPath:
    def __init__(
        self,
        app: ASGIFramework,
        svc: Services,
        *,
        slot_wait: float = SLOT_WAIT,
        read_grace: float = READ_GRACE,
        min_rate: int = MIN_BYTES_PER_SECOND,
    ) -> None:
        self.app = app
        self.svc = svc
        self.large_bodies = trio.CapacityLimiter(LARGE_BODIES)
        self.slot_wait = slot_wait
        self.read_grace = read_grace
        self.min_rate = min_rate

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        fields = cast(dict[str, Any], scope)
        if fields["type"] != "http" or fields.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = fields.get("path", "")
        gitlab = GITLAB.fullmatch(path)
        if path != "/api/webhooks/github" and gitlab is None:
            await self.app(scope, receive, send)
            return
        headers = _headers(fields)
        try:
            answer = await self._answer(receive, headers, gitlab)
        except OoreError as exc:
            # A body refused unread, or cut off, may still be arriving: close the connection.
            await _send(send, _error(exc), close=exc.status in (408, 413, 503))
            return
        except Exception:
            log.exception("unhandled error in the webhook fast path")
            await _send(send, Answer(500, _error_body("internal_error", "internal error")))
            return
        await _send(send, answer)

    async def _answer(
        self, receive: ASGIReceiveCallable, headers: Headers, gitlab: re.Match[str] | None
    ) -> Answer:
        intake = self.svc.intake
        try:
            if gitlab is not None:
                await intake.gitlab_headers(gitlab.group(1), headers)
            else:
                await intake.github_headers(headers, _declared(headers))
        except OoreError:
            # Refused on its headers alone: read the body (so that the client gets the answer)
            # but keep none of it.
            await receive_body(receive, headers, self.svc.settings.max_body_bytes, keep_up_to=0)
            raise
        if _large(headers):
            return await self._take_large(receive, headers, gitlab)
        return await self._take(receive, headers, gitlab)

    async def _take_large(
        self, receive: ASGIReceiveCallable, headers: Headers, gitlab: re.Match[str] | None
    ) -> Answer:
        with trio.move_on_after(self.slot_wait) as waiting:
            await self.large_bodies.acquire()
        if waiting.cancelled_caught:
            raise Unavailable("another large delivery is being received; retry in a moment")
        try:
            seconds = self.read_grace + _declared(headers) / self.min_rate
            with trio.fail_after(seconds):
                return await self._take(receive, headers, gitlab)
        except trio.TooSlowError:
            raise RequestTimeout(
                f"the body did not arrive within {seconds:.0f} s (at least "
                f"{self.min_rate // 1024} KiB/s is expected)"
            ) from None
        finally:
            self.large_bodies.release()

    async def _take(
        self, receive: ASGIReceiveCallable, headers: Headers, gitlab: re.Match[str] | None
    ) -> Answer:
        intake = self.svc.intake
        limit = self.svc.settings.max_body_bytes
        if gitlab is not None:
            received = await receive_body(receive, headers, limit)
            return await intake.gitlab(gitlab.group(1), headers, received.raw())
        secret = await intake.github_expected_secret(headers)
        keep = None if secret is not None else UNVERIFIED_BYTES
        received = await receive_body(receive, headers, limit, secret=secret, keep_up_to=keep)
        await intake.github_large(headers, received.size, received.digest)
        return await intake.github(headers, received.raw())


def _large(headers: Headers) -> bool:
    declared = headers.get("Content-Length")
    return not declared.isdigit() or int(declared) > LARGE_BODY


def _declared(headers: Headers) -> int:
    """The declared body size (0 when chunked: the intake checks the size it reads)."""
    declared = headers.get("Content-Length")
    return int(declared) if declared.isdigit() else 0


def _headers(scope: dict[str, Any]) -> Headers:
    return Headers({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})


def _error(exc: OoreError) -> Answer:
    extra = {"field": exc.field} if hasattr(exc, "field") else {}
    return Answer(exc.status, _error_body(exc.code, exc.message, **extra))


def _error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


async def _send(send: ASGISendCallable, answer: Answer, *, close: bool = False) -> None:
    body = json.dumps(answer.body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # a refused body may still be arriving: this connection cannot be reused
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
