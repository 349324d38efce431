"""API tokens in-process on a real store: create (secret once), list, revoke, validation."""

from __future__ import annotations

from typing import Any

import pytest
from quart_trio import QuartTrio

from oore.config import Settings
from oore.crypto import hash_token
from oore.ids import new_id
from oore.model import TokenScope
from oore.store.sqlite import SqliteStore


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    assert settings.admin_token is not None
    return {"Authorization": f"Bearer {settings.admin_token}"}


async def _call(
    app: QuartTrio, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    response = await app.test_client().open(path, method=method, headers=headers, **kwargs)
    return response.status_code, await response.get_json(silent=True)


async def test_create_shows_the_secret_once_and_stores_only_its_hash(
    app: QuartTrio, admin: dict[str, str], store: SqliteStore
) -> None:
    status, created = await _call(
        app, "POST", "/api/tokens", admin, {"name": "ci", "scope": "read"}
    )
    assert status == 201
    assert set(created) == {
        "id",
        "name",
        "scope",
        "created_at",
        "last_used_at",
        "revoked_at",
        "token",
    }
    assert created["token"].startswith("oore_")
    assert len(created["token"]) >= 40
    assert (created["name"], created["scope"]) == ("ci", "read")
    assert (created["last_used_at"], created["revoked_at"]) == (None, None)
    found = await store.find_token(hash_token(created["token"]))
    assert found is not None
    assert (found.id, found.scope) == (created["id"], TokenScope.READ)
    rows = await store.engine.read(lambda db: list(db.table("api_tokens").rows))
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hash_token(created["token"])
    assert created["token"] not in repr(rows)


async def test_two_tokens_have_different_secrets(app: QuartTrio, admin: dict[str, str]) -> None:
    body = {"name": "same", "scope": "write"}
    _, first = await _call(app, "POST", "/api/tokens", admin, body)
    _, second = await _call(app, "POST", "/api/tokens", admin, body)
    assert first["token"] != second["token"]
    assert first["id"] != second["id"]


async def test_list_has_no_secrets_and_shows_use(app: QuartTrio, admin: dict[str, str]) -> None:
    _, one = await _call(app, "POST", "/api/tokens", admin, {"name": "one", "scope": "read"})
    _, two = await _call(app, "POST", "/api/tokens", admin, {"name": "two", "scope": "write"})
    used = {"Authorization": f"Bearer {one['token']}"}
    assert (await _call(app, "GET", "/api/repositories", used))[0] == 200
    status, listed = await _call(app, "GET", "/api/tokens", admin)
    assert status == 200
    assert [(t["id"], t["name"], t["scope"]) for t in listed["items"]] == [
        (one["id"], "one", "read"),
        (two["id"], "two", "write"),
    ]
    assert all("token" not in t and "token_hash" not in t for t in listed["items"])
    assert one["token"] not in repr(listed)
    assert two["token"] not in repr(listed)
    assert listed["items"][0]["last_used_at"] is not None
    assert listed["items"][1]["last_used_at"] is None


async def test_revoke_sets_revoked_at_and_stops_the_token(
    app: QuartTrio, admin: dict[str, str]
) -> None:
    _, created = await _call(app, "POST", "/api/tokens", admin, {"name": "x", "scope": "write"})
    status, revoked = await _call(app, "DELETE", f"/api/tokens/{created['id']}", admin)
    assert status == 200
    assert revoked["id"] == created["id"]
    assert revoked["revoked_at"] is not None
    assert revoked["revoked_at"] >= created["created_at"]
    assert "token" not in revoked
    again_status, again = await _call(app, "DELETE", f"/api/tokens/{created['id']}", admin)
    assert again_status == 200
    assert again["revoked_at"] == revoked["revoked_at"]
    status, listed = await _call(app, "GET", "/api/tokens", admin)
    assert listed["items"][0]["revoked_at"] == revoked["revoked_at"]
    bearer = {"Authorization": f"Bearer {created['token']}"}
    status, body = await _call(app, "GET", "/api/repositories", bearer)
    assert (status, body["error"]["code"]) == (401, "unauthorized")


async def test_revoke_unknown_is_404(app: QuartTrio, admin: dict[str, str]) -> None:
    status, body = await _call(app, "DELETE", f"/api/tokens/{new_id()}", admin)
    assert status == 404
    assert body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "read"}, "name"),
        ({"name": "", "scope": "read"}, "name"),
        ({"name": "   ", "scope": "read"}, "name"),
        ({"name": 5, "scope": "read"}, "name"),
        ({"name": "n" * 101, "scope": "read"}, "name"),
        ({"name": "ci"}, "scope"),
        ({"name": "ci", "scope": "admin"}, "scope"),
        ({"name": "ci", "scope": "READ"}, "scope"),
        ({"name": "ci", "scope": ["read"]}, "scope"),
        ({"name": "ci", "scope": "read", "expires": 1}, "expires"),
    ],
)
async def test_create_validation_is_422_naming_the_field(
    app: QuartTrio, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    status, answer = await _call(app, "POST", "/api/tokens", admin, body)
    assert status == 422
    assert answer["error"]["code"] == "validation_error"
    assert answer["error"]["field"] == field
    _, listed = await _call(app, "GET", "/api/tokens", admin)
    assert listed["items"] == []


async def test_name_at_the_limit_is_accepted(app: QuartTrio, admin: dict[str, str]) -> None:
    status, created = await _call(
        app, "POST", "/api/tokens", admin, {"name": "n" * 100, "scope": "write"}
    )
    assert status == 201
    assert created["name"] == "n" * 100


async def test_api_tokens_cannot_manage_tokens(app: QuartTrio, admin: dict[str, str]) -> None:
    _, writer = await _call(app, "POST", "/api/tokens", admin, {"name": "w", "scope": "write"})
    bearer = {"Authorization": f"Bearer {writer['token']}"}
    for method, path in (
        ("POST", "/api/tokens"),
        ("GET", "/api/tokens"),
        ("DELETE", f"/api/tokens/{writer['id']}"),
    ):
        status, body = await _call(app, method, path, bearer, {"name": "z", "scope": "write"})
        assert status == 403, (method, path)
        assert body["error"]["message"] == "this endpoint needs the admin token"
    _, listed = await _call(app, "GET", "/api/tokens", admin)
    assert [t["revoked_at"] for t in listed["items"]] == [None]
