"""What the recording HTTP fakes share (GitHub's check runs and statuses, Slack, the signed
webhook receiver): serving a Quart app on loopback, the refusals a test queues for the next
requests, waiting until enough requests were recorded, and JSON answers.

A fake is a dataclass that inherits `Recording` and answers `self.refusal()` first when it is
not None; it calls `self.arrived()` when a request it counts came in, so `until` wakes up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import Response
from quart_trio import QuartTrio

# (status, headers) a test queued for the next request: 429 with Retry-After, 503, ...
Refusal = tuple[int, dict[str, str]]


@dataclass
class Recording:
    # The next requests are answered these, in order, instead of what the fake would answer.
    refuse_next: list[Refusal] = field(default_factory=list, kw_only=True)
    _arrived: trio.Event = field(default_factory=trio.Event, kw_only=True, repr=False)

    def throttle(self, count: int, retry_after: str) -> None:
        """Answer the next `count` requests 429 with this `Retry-After`."""
        self.refuse_next.extend([(429, {"Retry-After": retry_after})] * count)

    def refusal(self) -> Refusal | None:
        return self.refuse_next.pop(0) if self.refuse_next else None

    def arrived(self) -> None:
        self._arrived.set()

    async def until(self, done: Callable[[], bool]) -> None:
        """Until `done()` holds, checked after each arrival (bound it with trio.fail_after)."""
        while not done():
            await self._arrived.wait()
            self._arrived = trio.Event()


async def serve_app(app: QuartTrio, port: int = 0, *, task_status: trio.TaskStatus[int]) -> None:
    """Serve `app` on 127.0.0.1:`port` (0: a free one) until cancelled; started with the port."""
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(serve, app, config)
        task_status.started(int(bound[0].rsplit(":", 1)[1]))


def json_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status, headers=dict(headers or {}), content_type="application/json"
    )
