"""The webhook receivers in-process, through the app as hypercorn serves it: deliveries reach the
real ingester, and their errors are answered like every other route's (one error mapping)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from quart_trio import QuartTrio

from oore.config import Settings
from oore.http.services import Services
from oore.ids import new_id
from oore.model import EventState

SECRET = "shared-secret-for-tests"
PUSH = (
    Path(__file__).parents[1] / "fixtures/webhooks/github/push/with-new-branch.payload.json"
).read_bytes()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        OORE_BIND="127.0.0.1:0", OORE_GITHUB_WEBHOOK_SECRET=SECRET, OORE_MAX_BODY_BYTES="20000"
    )


def github_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": new_id(),
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


async def test_a_delivery_is_acknowledged_then_processed_by_the_real_ingester(
    app: QuartTrio, services: Services
) -> None:
    response = await app.test_client().post(
        "/api/webhooks/github", data=PUSH, headers=github_headers(PUSH)
    )
    assert response.status_code == 202, await response.get_data()
    event_id = (await response.get_json())["event_id"]
    for _ in range(1000):  # the ingester waits for a lull in deliveries first
        event = await services.store.get_event(event_id)
        if event.state is not EventState.PENDING:
            break
        await trio.sleep(0.01)
    # No repository is registered: the ingester closes it, saying what to do.
    assert event.state is EventState.IGNORED
    assert "add it with POST /api/repositories" in (event.reason or "")


async def test_a_too_large_delivery_is_answered_like_any_too_large_request(
    app: QuartTrio, services: Services
) -> None:
    limit = services.settings.max_body_bytes
    too_big = {"Content-Length": str(limit + 1)}
    client = app.test_client()
    auth = {"Authorization": f"Bearer {services.settings.admin_token}"}
    answers = []
    for path, headers in (
        ("/api/webhooks/github", github_headers(b"{}")),
        (f"/api/webhooks/gitlab/{new_id()}", {"X-Gitlab-Token": "t"}),
        ("/api/repositories", auth),
    ):
        response = await client.post(path, data=b"{}", headers=headers | too_big)
        answers.append(
            (response.status_code, await response.get_json(), response.headers["Connection"])
        )
    expected = {
        "error": {
            "code": "payload_too_large",
            "message": f"the request body is over the {limit}-byte limit",
        }
    }
    assert answers == [(413, expected, "close")] * 3


async def test_a_client_that_goes_away_mid_body_gets_no_answer_and_nothing_is_stored(
    app: QuartTrio, services: Services
) -> None:
    headers = github_headers(PUSH) | {"Content-Length": str(len(PUSH))}
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/webhooks/github",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    messages = iter(
        [
            {"type": "http.request", "body": PUSH[:100], "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent == []
    assert await services.store.pending_event_ids() == []


async def test_an_error_in_the_receiver_is_the_same_json_error_as_elsewhere(app: QuartTrio) -> None:
    response = await app.test_client().post(
        "/api/webhooks/github", data=b"{}", headers={"X-GitHub-Event": "push"}
    )
    assert response.status_code == 400
    assert await response.get_json() == {
        "error": {"code": "bad_request", "message": "the X-GitHub-Delivery header is missing"}
    }
    assert json.loads(await response.get_data())  # JSON, not HTML


async def test_other_methods_on_a_receiver_are_405_naming_post(app: QuartTrio) -> None:
    client = app.test_client()
    for path in ("/api/webhooks/github", f"/api/webhooks/gitlab/{new_id()}"):
        for method in ("GET", "PUT", "DELETE", "OPTIONS"):
            response = await client.open(path, method=method)
            assert response.status_code == 405, (path, method)
            assert response.headers["Allow"] == "POST"
            assert (await response.get_json())["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(("version", "closes"), [("1.1", True), ("2", False)])
async def test_a_refused_body_closes_an_http1_connection_only(
    app: QuartTrio, services: Services, version: str, closes: bool
) -> None:
    """HTTP/2 has no Connection header (h2 refuses a response that carries one)."""
    too_big = str(services.settings.max_body_bytes + 1)
    headers = github_headers(b"{}") | {"Content-Length": too_big}
    scope = {
        "type": "http",
        "http_version": version,
        "method": "POST",
        "path": "/api/webhooks/github",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert ((b"connection", b"close") in sent[0]["headers"]) is closes


async def test_a_refused_delivery_is_logged_with_its_source_and_reason(
    app: QuartTrio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="oore.webhooks")
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": new_id(), "X-GitHub-Hook-ID": "77"}
    response = await app.test_client().post("/api/webhooks/github", data=PUSH, headers=headers)
    assert response.status_code == 401
    assert "header is missing" in (await response.get_json())["error"]["message"]
    logged = [r.getMessage() for r in caplog.records if r.name == "oore.webhooks"]
    assert len(logged) == 1
    assert "GitHub hook 77" in logged[0]
    assert "(missing_signature)" in logged[0]
