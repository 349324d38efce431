"""A receiver of Oore's signed webhooks on loopback, as a careful integrator would write one.

Every POST (any path: one receiver can stand for several targets) is recorded with the time it
arrived, its `X-Oore-Event`, `Idempotency-Key` and whether `X-Oore-Signature-256` is the HMAC of
the exact body under `secret`. A request that is answered 2xx is *accepted* once per idempotency
key: a repeat is counted in `duplicates` and answered 200 without being accepted again.

The test controls it: `down()` answers 503 to everything (`down(refuse=True)` closes the port so
connections are refused) until `up()`; `throttle(n, retry_after)` answers the next n requests
429 with that `Retry-After` (tests/fakes/recording.py). Start it in the test's nursery:
``receiver = await nursery.start(serve_receiver, "the-secret")``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import trio
from quart import Response, request
from quart_trio import QuartTrio

from tests.fakes.recording import Recording, serve_app


@dataclass(frozen=True, slots=True)
class Received:
    at: float  # time.monotonic() on arrival
    path: str
    event: str | None
    key: str | None
    signed: bool  # the signature matched the body under the receiver's secret
    body: dict[str, Any]
    status: int  # what the receiver answered


@dataclass
class WebhookReceiver(Recording):
    secret: str
    port: int = 0
    received: list[Received] = field(default_factory=list)
    accepted: dict[str, Received] = field(default_factory=dict)  # idempotency key -> first 2xx
    duplicates: int = 0
    _status: int = 200
    _serving: trio.CancelScope | None = None
    _nursery: trio.Nursery | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the test's side ------------------------------------------------------------------

    def down(self, *, refuse: bool = False) -> None:
        self._status = 503
        if refuse and self._serving is not None:
            self._serving.cancel()
            self._serving = None

    async def up(self) -> None:
        self._status = 200
        if self._serving is None and self._nursery is not None:
            await self._nursery.start(self._serve_once)

    async def wait_for(self, accepted: int) -> None:
        """Until `accepted` distinct keys were accepted (bound it with trio.fail_after)."""
        await self.until(lambda: len(self.accepted) >= accepted)

    # --- serving ---------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[WebhookReceiver]) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self._serve_once)
            task_status.started(self)
            await trio.sleep_forever()  # the port may be closed and opened again meanwhile

    async def _serve_once(self, *, task_status: trio.TaskStatus[None]) -> None:
        with trio.CancelScope() as scope:
            self._serving = scope
            async with trio.open_nursery() as nursery:
                self.port = await nursery.start(serve_app, self._make_app(), self.port)
                task_status.started()

    def _make_app(self) -> QuartTrio:
        app = QuartTrio("fake-webhook-receiver")
        app.add_url_rule("/", view_func=self._receive, methods=["POST"])
        app.add_url_rule("/<path:path>", view_func=self._receive, methods=["POST"])
        return app

    async def _receive(self, path: str = "") -> Response:
        body = await request.get_data()
        key = request.headers.get("Idempotency-Key")
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(request.headers.get("X-Oore-Signature-256", ""), expected)
        status, headers = self._status, {}
        refusal = self.refusal() if status == 200 else None
        if refusal is not None:
            status, headers = refusal
        if status == 200 and not signed:
            status = 401
        received = Received(
            time.monotonic(),
            "/" + path,
            request.headers.get("X-Oore-Event"),
            key,
            signed,
            json.loads(body or b"{}"),
            status,
        )
        self.received.append(received)
        if status == 200 and key is not None:
            if key in self.accepted:
                self.duplicates += 1
            else:
                self.accepted[key] = received
                self.arrived()
        return Response("{}", status, headers=headers, content_type="application/json")


async def serve_receiver(
    secret: str, *, task_status: trio.TaskStatus[WebhookReceiver] = trio.TASK_STATUS_IGNORED
) -> None:
    await WebhookReceiver(secret).serve(task_status=task_status)
