"""A provider and an operator talking to a real daemon: signed deliveries and the admin API.

`Provider` sends deliveries the way GitHub and GitLab do (HMAC-SHA256 of the raw body in
`X-Hub-Signature-256`, or the secret token in `X-Gitlab-Token`); `Operator` uses the admin token to
register repositories and read stored events, and waits (bounded, polling) for an event to settle.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

FIXTURES = Path(__file__).parent.parent / "fixtures" / "webhooks"
SETTLE_TIMEOUT = 10.0
POLL_EVERY = 0.02
GITLAB_HOOKS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
}


def fixture(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_id() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class Provider:
    """Sends deliveries without any bearer token, as a provider does."""

    http: httpx.AsyncClient

    async def github(
        self,
        event: str,
        body: bytes,
        secret: str | None,
        *,
        delivery: str | None = None,
        content_type: str = "application/json",
        omit: tuple[str, ...] = (),
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or delivery_id(),
            "X-GitHub-Hook-ID": "292430182",
            "Content-Type": content_type,
            "User-Agent": "GitHub-Hookshot/e2e",
        }
        if secret is not None:
            headers["X-Hub-Signature-256"] = signature(secret, body)
        headers.update(extra or {})
        for name in omit:
            headers.pop(name)
        return await self.http.post("/api/webhooks/github", content=body, headers=headers)

    async def gitlab(
        self,
        repository_id: str,
        event: str,
        body: bytes,
        token: str | None,
        *,
        event_uuid: str | None = "",
    ) -> httpx.Response:
        headers = {"X-Gitlab-Event": event, "Content-Type": "application/json"}
        if token is not None:
            headers["X-Gitlab-Token"] = token
        if event_uuid is not None:
            headers["X-Gitlab-Event-UUID"] = event_uuid or delivery_id()
        url = f"/api/webhooks/gitlab/{repository_id}"
        return await self.http.post(url, content=body, headers=headers)


@dataclass(slots=True)
class Operator:
    """The admin API, as the person running the daemon uses it."""

    http: httpx.AsyncClient
    headers: dict[str, str]

    async def register(self, provider: str, owner: str, name: str, **fields: Any) -> dict[str, Any]:
        body = {
            "provider": provider,
            "owner": owner,
            "name": name,
            "clone_url": f"file:///srv/git/{owner}/{name}.git",
            **fields,
        }
        response = await self.http.post("/api/repositories", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.headers)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers)

    async def event(self, event_id: str) -> dict[str, Any]:
        response = await self.get(f"/api/webhooks/events/{event_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def events(self, **params: Any) -> list[dict[str, Any]]:
        """Every stored event matching the filters, newest first, following the cursor."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self.get("/api/webhooks/events", limit=500, cursor=cursor, **params)
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return items

    async def settled(self, event_id: str) -> dict[str, Any]:
        """The event once the ingester has closed it (bounded wait)."""
        with trio.fail_after(SETTLE_TIMEOUT):
            while True:
                found = await self.event(event_id)
                if found["state"] != "pending":
                    return found
                await trio.sleep(POLL_EVERY)

    async def all_settled(self) -> list[dict[str, Any]]:
        """Every stored event, once none is pending (bounded wait)."""
        with trio.fail_after(SETTLE_TIMEOUT):
            while True:
                if not await self.events(state="pending"):
                    return await self.events()
                await trio.sleep(POLL_EVERY)


def accepted_id(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert set(body) == {"status", "event_id"}
    event_id: str = body["event_id"]
    return event_id


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """The error message of a JSON error response, after checking its status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    message: str = error["message"]
    return message


def payload_of(body: bytes) -> Any:
    return json.loads(body)
