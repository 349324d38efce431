"""The webhook receivers: an ASGI layer in front of the Quart app, the only path deliveries take.

Providers send bursts of deliveries and expect an answer within seconds; Quart's per-request
machinery (contexts, signals, wrappers) costs more CPU than verifying and storing a delivery
(bench/RESULTS.md, "Webhook intake"). So `create_app` installs this layer as the app's
`asgi_app`: `POST /api/webhooks/...` is answered here, by the framework-free `Intake`, with the
body limit and error answers (`oore.http.errors.error_answer`) every other route has; everything
else goes on to Quart. The in-process test client and hypercorn both enter through it.

Anyone can post here, so what a delivery may cost is bounded before it is read: one that its
headers condemn (no signature or token, say) is read and dropped as it arrives; a large GitHub
body is HMAC-ed as it arrives and refused unjoined when the signature is wrong (see
`webhookbody`); and only one body over `LARGE_BODY` bytes is read at a time (the
others wait in the kernel's buffers): eight clients posting 25 MB each no longer hold 200 MB.
So that a client sending slowly cannot keep that slot (and every large delivery after it out),
a large body must arrive at `LargeBodies.min_rate` (after its `read_grace`) or is answered 408,
and a delivery waits at most `LargeBodies.slot_wait` seconds for the slot before a 503.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import trio
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from oore.errors import (
    ClientDisconnected,
    MethodNotAllowed,
    OoreError,
    RequestTimeout,
    Unavailable,
    WebhookRefused,
)
from oore.http.client_address import Network, from_scope
from oore.http.errors import closing, error_answer
from oore.http.rejections import RejectionLog
from oore.http.webhookbody import receive_body
from oore.webhooks.intake import UNVERIFIED_BYTES, Answer, Headers, Intake

GITHUB = "/api/webhooks/github"
GITLAB = re.compile(r"/api/webhooks/gitlab/([^/]+)")
# The routes answered here (not in Quart's URL map; the OpenAPI and route-auth tests add them).
ROUTES = (("POST", GITHUB), ("POST", "/api/webhooks/gitlab/{repository_id}"))
LARGE_BODY = 1024 * 1024
ONE_LARGE_BODY_AT_A_TIME = 1


@dataclass(frozen=True, slots=True)
class LargeBodies:
    """How long a large delivery may wait for the slot, and how fast it must then arrive."""

    slot_wait: float = 8.0  # GitHub gives up on a delivery after 10 s
    read_grace: float = 10.0
    min_rate: int = 256 * 1024  # bytes per second


LARGE_BODIES = LargeBodies()


class WebhookFastPath:
    def __init__(
        self,
        app: ASGIFramework,
        intake: Intake,
        max_body_bytes: int,
        large: LargeBodies,
        trusted_proxies: Sequence[Network] = (),
    ) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies  # whose X-Forwarded-For names a source
        self.intake = intake
        self.max_body_bytes = max_body_bytes
        self.large_bodies = trio.CapacityLimiter(ONE_LARGE_BODY_AT_A_TIME)
        self.rejections = RejectionLog()
        self.slot_wait = large.slot_wait
        self.read_grace = large.read_grace
        self.min_rate = large.min_rate

    def _source(self, scope: dict[str, Any], headers: Headers, gitlab: re.Match[str] | None) -> str:
        client = from_scope(scope, self.trusted_proxies)
        if gitlab is not None:
            return f"GitLab repository {gitlab.group(1)[:40]} at {client}"
        hook = headers.get("X-GitHub-Hook-ID")[:20] or "?"
        return f"GitHub hook {hook} at {client}"

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        fields = cast(dict[str, Any], scope)
        path = fields.get("path", "")
        gitlab = GITLAB.fullmatch(path) if fields["type"] == "http" else None
        if gitlab is None and (path != GITHUB or fields["type"] != "http"):
            await self.app(scope, receive, send)
            return
        if fields.get("method") != "POST":
            error = error_answer(MethodNotAllowed("this endpoint does not accept that method"))
            await _send(send, error.status, error.body, {"Allow": "POST"})
            return
        headers = _headers(fields)
        try:
            answer = await self._answer(receive, headers, gitlab)
        except ClientDisconnected:
            return  # nobody to answer
        except WebhookRefused as exc:
            self.rejections.note(self._source(fields, headers, gitlab), exc.why, exc.message)
            error = error_answer(exc)
            await _send(send, error.status, error.body)
            return
        except Exception as exc:
            error = error_answer(exc)
            # Refused unread (too large, too slow, no room to read it) or cut off: close.
            unread = error.status in (408, 413, 503)
            extra = closing(fields.get("http_version", "1.1")) if unread else {}
            await _send(send, error.status, error.body, extra)
            return
        await _send(send, answer.status, answer.body)

    async def _answer(
        self, receive: ASGIReceiveCallable, headers: Headers, gitlab: re.Match[str] | None
    ) -> Answer:
        intake = self.intake
        try:
            if gitlab is not None:
                await intake.gitlab_headers(gitlab.group(1), headers)
            else:
                await intake.github_headers(headers, _declared(headers))
        except OoreError:
            # Refused on its headers alone: read the body (so that the client gets the answer)
            # but keep none of it.
            await receive_body(receive, headers, self.max_body_bytes, keep_up_to=0)
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
        intake = self.intake
        limit = self.max_body_bytes
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


async def _send(
    send: ASGISendCallable, status: int, answer: dict[str, Any], extra: dict[str, str] | None = None
) -> None:
    body = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
