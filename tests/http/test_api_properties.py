"""Arbitrary input never makes the API answer 5xx, and every answer is one the OpenAPI doc lists.

Hypothesis throws bytes, JSON and header values at the webhook receivers, the repository
endpoints and the events list of an in-process app on a real store. Hypothesis runs in a worker
thread and sends each example to the test's own trio loop with `trio.from_thread.run`: one store
and one app serve all examples. (Letting pytest-trio run `@given` async tests instead starts a new
trio run per example and re-runs the async fixtures, and dependants can then be handed the
previous example's closed store.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from quart_trio import QuartTrio

from oore.config import Settings
from oore.http import openapi, repositories
from oore.ids import new_id

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
DOC = openapi.document()
GITHUB_SECRET = "property-test-secret"
GITLAB_TOKEN = "property-test-token"

# SQLite integers are 64-bit; make sure values just past that are drawn, not only small ones.
big_ints = st.integers(min_value=2**62, max_value=2**70) | st.integers(max_value=-(2**62))
integers = st.integers() | big_ints
scalars = (
    st.none()
    | st.booleans()
    | integers
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=250,
)
content_types = (
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""])
    | header_text
)
WEBHOOK_HEADERS = [
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-Hub-Signature-256",
    "X-Gitlab-Token",
    "X-Gitlab-Event",
    "X-Gitlab-Event-UUID",
    "User-Agent",
]
webhook_headers = st.fixed_dictionaries(
    {}, optional={"Content-Type": content_types} | dict.fromkeys(WEBHOOK_HEADERS, header_text)
)
github_headers = st.fixed_dictionaries(
    {
        "X-GitHub-Event": st.just("push") | header_text,
        "X-GitHub-Delivery": st.uuids().map(str) | header_text,
    },
    optional={"Content-Type": content_types, "X-Hub-Signature-256": header_text},
)


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


# Shaped like a GitHub delivery, so drawn values reach repository identification and lookup.
github_shaped = st.fixed_dictionaries(
    {
        "repository": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["app", "x"]) | st.text(max_size=8),
                "owner": st.fixed_dictionaries(
                    {"login": st.sampled_from(["acme", "o"]) | st.text(max_size=8)}
                ),
                "id": integers | json_values,
            },
            optional={"full_name": st.text(max_size=12) | json_values},
        )
    },
    optional={"installation": st.fixed_dictionaries({"id": integers | json_values})},
).map(_dump)
bodies = st.binary(max_size=300) | json_values.map(_dump) | st.just(b"")


def _documented(method: str, template: str) -> set[int]:
    return {int(s) for s in DOC["paths"][template][method.lower()]["responses"]}


async def _check(response: Any, method: str, template: str) -> int:
    status: int = response.status_code
    assert status < 500, (method, template, await response.get_data())
    assert status in _documented(method, template), (method, template, status)
    body = await response.get_json(silent=True)
    if status >= 400:
        assert isinstance(body["error"]["code"], str)
        assert isinstance(body["error"]["message"], str)
    return status


def _admin(settings: Settings) -> dict[str, str]:
    assert settings.admin_token is not None
    return {"Authorization": f"Bearer {settings.admin_token}"}


async def _register(
    app: QuartTrio, settings: Settings, provider: str, secret: str
) -> tuple[str, str]:
    body = {
        "provider": provider,
        "owner": "acme",
        "name": f"p{new_id().lower()}",
        "clone_url": "file:///nonexistent/acme/app.git",
        "webhook_secret": secret,
    }
    response = await app.test_client().post(
        "/api/repositories", json=body, headers=_admin(settings)
    )
    assert response.status_code == 201
    created = await response.get_json()
    return str(created["id"]), str(created["name"])


def check_property(
    example: Callable[..., Awaitable[None]], **strategies: SearchStrategy[Any]
) -> Awaitable[None]:
    """Run `example` for every Hypothesis draw, on the calling trio loop."""

    @PROPERTY
    @given(**strategies)
    def run(**values: Any) -> None:
        trio.from_thread.run(partial(example, **values))

    return trio.to_thread.run_sync(run)


# --- webhook receivers ---------------------------------------------------------------------


async def test_github_webhook_never_5xx(app: QuartTrio) -> None:
    client = app.test_client()

    async def example(body: bytes, headers: dict[str, str]) -> None:
        response = await client.post("/api/webhooks/github", data=body, headers=headers)
        await _check(response, "POST", "/api/webhooks/github")

    await check_property(
        example, body=github_shaped | bodies, headers=github_headers | webhook_headers
    )


github_repository_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": integers | json_values,
        "full_name": st.text(max_size=20) | json_values,
        "private": json_values,
    },
)


async def test_signed_github_deliveries_never_5xx(app: QuartTrio, settings: Settings) -> None:
    # Correctly signed, so the body reaches identification, storage and deduplication.
    _, name = await _register(app, settings, "github", GITHUB_SECRET)
    client = app.test_client()
    statuses: set[int] = set()

    async def example(
        extra: dict[str, Any], fields: dict[str, Any], event: str, delivery: str
    ) -> None:
        repository = {"name": name, "owner": {"login": "acme"}, **fields}
        raw = _dump(extra | {"repository": repository})
        digest = hmac.new(GITHUB_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": f"sha256={digest}",
            "Content-Type": "application/json",
        }
        response = await client.post("/api/webhooks/github", data=raw, headers=headers)
        status = await _check(response, "POST", "/api/webhooks/github")
        statuses.add(status)
        if all(0 < len(h.strip()) <= 200 for h in (event, delivery)):
            assert status in (200, 202), await response.get_data()

    await check_property(
        example,
        extra=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        fields=github_repository_fields,
        event=header_text,
        delivery=header_text,
    )
    assert 202 in statuses


async def test_gitlab_webhook_never_5xx(app: QuartTrio, settings: Settings) -> None:
    repo_id, _ = await _register(app, settings, "gitlab", GITLAB_TOKEN)
    url = f"/api/webhooks/gitlab/{repo_id}"
    client = app.test_client()

    async def example(body: bytes, headers: dict[str, str], right_token: bool) -> None:
        if right_token:
            headers = headers | {"X-Gitlab-Token": GITLAB_TOKEN}
        response = await client.post(url, data=body, headers=headers)
        status = await _check(response, "POST", "/api/webhooks/gitlab/{repository_id}")
        if headers.get("X-Gitlab-Token") != GITLAB_TOKEN:
            assert status == 401, await response.get_data()

    await check_property(example, body=bodies, headers=webhook_headers, right_token=st.booleans())


async def test_authentic_gitlab_json_never_5xx(app: QuartTrio, settings: Settings) -> None:
    repo_id, _ = await _register(app, settings, "gitlab", GITLAB_TOKEN)
    url = f"/api/webhooks/gitlab/{repo_id}"
    client = app.test_client()
    statuses: set[int] = set()

    async def example(
        payload: dict[str, Any], project: dict[str, Any], event: str, uuid: str | None
    ) -> None:
        headers = {"X-Gitlab-Token": GITLAB_TOKEN, "X-Gitlab-Event": event}
        if uuid is not None:
            headers["X-Gitlab-Event-UUID"] = uuid
        raw = _dump(payload | {"project": project})
        response = await client.post(url, data=raw, headers=headers)
        statuses.add(await _check(response, "POST", "/api/webhooks/gitlab/{repository_id}"))

    await check_property(
        example,
        payload=st.dictionaries(st.text(max_size=8), json_values, max_size=3)
        | st.fixed_dictionaries({"project_id": integers | json_values}),
        project=st.fixed_dictionaries({}, optional={"id": integers | json_values}),
        event=header_text,
        uuid=st.none() | header_text,
    )
    assert 202 in statuses


async def test_gitlab_webhook_any_path_id_never_5xx(app: QuartTrio) -> None:
    client = app.test_client()

    async def example(repo_id: str, body: bytes) -> None:
        response = await client.post("/api/webhooks/gitlab/" + quote(repo_id, safe=""), data=body)
        # 308: an id with "/" makes a doubled slash, which werkzeug redirects to the merged path.
        assert response.status_code in {308, 400, 401, 404, 405, 413}, await response.get_data()

    await check_property(example, repo_id=st.text(max_size=40), body=bodies)


# --- repositories ----------------------------------------------------------------------------

plausible = {
    "provider": st.sampled_from(["github", "gitlab", "GitHub", ""]),
    "owner": st.sampled_from(["acme", "a/b", "-x", ".."]) | st.text(max_size=12),
    "name": st.sampled_from(["app", "a.b", "..", "x" * 101]) | st.text(max_size=12),
    "clone_url": st.sampled_from(
        ["https://h/a.git", "git@h:a.git", "ext::sh -c x", "-oProxyCommand=x", "file:///x"]
    )
    | st.text(max_size=20),
    "default_branch": st.sampled_from(["main", "a..b", "x.lock", "@{u}", "/x"])
    | st.text(max_size=12),
    "active": scalars,
    "badge_public": scalars,
    "github_repo_id": integers,
    "github_installation_id": integers,
    "gitlab_project_id": integers,
    "webhook_secret": st.text(max_size=300),
}
repository_bodies = st.fixed_dictionaries(
    {}, optional={k: v | json_values for k, v in plausible.items()}
)


async def test_create_repository_never_5xx(app: QuartTrio, settings: Settings) -> None:
    client = app.test_client()
    statuses: set[int] = set()

    async def example(value: Any, extra: dict[str, Any]) -> None:
        body = value | extra if isinstance(value, dict) else value
        response = await client.post(
            "/api/repositories", data=_dump(body), headers=_admin(settings)
        )
        status = await _check(response, "POST", "/api/repositories")
        statuses.add(status)
        if status == 201:
            assert set(body) <= repositories.CREATABLE

    await check_property(
        example,
        value=repository_bodies | json_values,
        extra=st.dictionaries(st.text(max_size=6), json_values, max_size=2),
    )
    assert {400, 422} <= statuses


async def test_create_repository_arbitrary_bytes_never_5xx(
    app: QuartTrio, settings: Settings
) -> None:
    client = app.test_client()

    async def example(raw: bytes) -> None:
        response = await client.post("/api/repositories", data=raw, headers=_admin(settings))
        assert await _check(response, "POST", "/api/repositories") in (400, 422)

    await check_property(example, raw=st.binary(max_size=200))


async def test_patch_repository_never_5xx(app: QuartTrio, settings: Settings) -> None:
    repo_id, _ = await _register(app, settings, "github", GITHUB_SECRET)
    url = f"/api/repositories/{repo_id}"
    client = app.test_client()

    async def example(value: Any) -> None:
        raw = value if isinstance(value, bytes) else _dump(value)
        response = await client.patch(url, data=raw, headers=_admin(settings))
        status = await _check(response, "PATCH", "/api/repositories/{repository_id}")
        after = await client.get(url, headers=_admin(settings))
        assert after.status_code == 200
        if status == 200:
            patched = await response.get_json()
            patched.pop("webhook_secret", None)
            assert patched == await after.get_json()

    await check_property(example, value=repository_bodies | json_values | st.binary(max_size=100))


# --- events list -----------------------------------------------------------------------------

query_values = st.text(max_size=30) | st.sampled_from(
    ["0", "1", "500", "501", "-1", "1e3", " 7 ", "github", "gitlab", "pending", "failed"]
)
query_names = st.sampled_from(["repository", "provider", "state", "cursor", "limit"])


async def test_events_list_query_never_5xx(app: QuartTrio, settings: Settings) -> None:
    client = app.test_client()

    async def example(args: dict[str, str]) -> None:
        response = await client.get(
            "/api/webhooks/events", query_string=args, headers=_admin(settings)
        )
        assert await _check(response, "GET", "/api/webhooks/events") in (200, 422)

    await check_property(
        example,
        args=st.dictionaries(query_names | st.text(max_size=6), query_values, max_size=5),
    )


async def test_events_list_raw_query_bytes_never_5xx(app: QuartTrio, settings: Settings) -> None:
    client = app.test_client()

    async def example(raw: bytes) -> None:
        path = "/api/webhooks/events?" + quote(raw, safe="=&")
        response = await client.get(path, headers=_admin(settings))
        assert await _check(response, "GET", "/api/webhooks/events") in (200, 422)

    await check_property(example, raw=st.binary(max_size=120))


@pytest.mark.parametrize("limit", ["0", "501", "x", "-3"])
async def test_events_limit_outside_range_is_422(
    app: QuartTrio, settings: Settings, limit: str
) -> None:
    response = await app.test_client().get(
        "/api/webhooks/events", query_string={"limit": limit}, headers=_admin(settings)
    )
    assert response.status_code == 422
    assert (await response.get_json())["error"]["field"] == "limit"


@pytest.mark.parametrize("repo_id", [2**63, -(2**63) - 1, 10**30])
async def test_github_delivery_naming_an_id_past_int64_is_refused_not_500(
    app: QuartTrio, repo_id: int
) -> None:
    # Found by test_github_webhook_never_5xx: the id reached SQLite, which raised OverflowError.
    body = {"repository": {"id": repo_id, "name": "app", "owner": {"login": "acme"}}}
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}
    response = await app.test_client().post("/api/webhooks/github", json=body, headers=headers)
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "unauthorized"
