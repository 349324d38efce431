"""Large webhook bodies on the fast path: a client sending slowly cannot hold the one slot."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio
from quart_trio import QuartTrio

from oore.config import Settings
from oore.crypto import Sealer
from oore.execution.identity import current_user
from oore.http.app import create_app
from oore.http.fastpath import LargeBodies
from oore.store.sqlite import SqliteStore
from oore.wiring import wire

BODY = 2 * 1024 * 1024  # over the fast path's LARGE_BODY


def _scope(delivery: str) -> dict[str, Any]:
    headers = {
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": "sha256=" + "0" * 64,
        "content-type": "application/json",
        "content-length": str(BODY),
    }
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/webhooks/github",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


async def _post(app: QuartTrio, delivery: str) -> tuple[int, dict[str, Any], float]:
    """Post a delivery whose client sends 1 KiB of its body, then nothing more."""
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"x" * 1024, "more_body": True}
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = trio.current_time()
    await app(_scope(delivery), receive, send)  # type: ignore[arg-type]
    status = sent[0]["status"]
    return status, json.loads(sent[1]["body"]), trio.current_time() - started


async def test_a_slow_large_body_is_cut_off_and_the_next_waits_boundedly(
    make_settings: Callable[..., Settings], store: SqliteStore, sealer: Sealer
) -> None:
    settings = make_settings(OORE_BIND="127.0.0.1:0", OORE_GITHUB_WEBHOOK_SECRET="s" * 20)
    svc = wire(settings, store, sealer, current_user()).services
    path = create_app(svc, LargeBodies(slot_wait=0.3, read_grace=0.5, min_rate=BODY))
    answers: dict[str, tuple[int, dict[str, Any], float]] = {}

    async def post(delivery: str) -> None:
        answers[delivery] = await _post(path, delivery)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(post, "slow")
        await trio.sleep(0.05)  # the slow one holds the slot
        nursery.start_soon(post, "next")
    slow_status, slow_body, slow_took = answers["slow"]
    assert (slow_status, slow_body["error"]["code"]) == (408, "request_timeout")
    assert 1.4 < slow_took < 3  # grace 0.5 s + 2 MiB at 2 MiB/s
    next_status, next_body, next_took = answers["next"]
    assert (next_status, next_body["error"]["code"]) == (503, "unavailable")
    assert 0.25 < next_took < 1
