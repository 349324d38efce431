"""Secret groups over HTTP: names come out, values never do; values are sealed per row."""

from __future__ import annotations

from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.crypto import aad
from oore.errors import CryptoError
from oore.http.services import Services

VALUES = {"STORE_PASSWORD": "hunter2-s3cr3t", "KEY_ALIAS": "upload-alias-value"}


@pytest.fixture
def client(app: QuartTrio) -> Client:
    return app.test_client()


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    assert services.settings.admin_token is not None
    return {"Authorization": f"Bearer {services.settings.admin_token}"}


class Bodies:
    """Every response body seen, so a test can say a value never appeared in any of them."""

    def __init__(self, client: Client, admin: dict[str, str]) -> None:
        self.client, self.admin, self.seen = client, admin, b""

    async def __call__(self, method: str, url: str, status: int, **kwargs: Any) -> Any:
        response = await self.client.open(url, method=method, headers=self.admin, **kwargs)
        data = await response.get_data()
        assert response.status_code == status, data
        self.seen += data + b"\n"
        return await response.get_json() if data else None

    def shows_no_value(self, values: dict[str, str]) -> bool:
        return not any(value.encode() in self.seen for value in values.values())


@pytest.fixture
def call(client: Client, admin: dict[str, str]) -> Bodies:
    return Bodies(client, admin)


async def test_put_answers_names_only_and_reads_show_names_never_values(call: Bodies) -> None:
    put = await call("PUT", "/api/secret-groups/android", 200, json={"variables": VALUES})
    assert put == {
        "name": "android",
        "variables": ["KEY_ALIAS", "STORE_PASSWORD"],
        "repositories": [],
    }
    await call("PUT", "/api/secret-groups/ios.release", 200, json={"variables": {"P12": "x"}})
    listed = await call("GET", "/api/secret-groups", 200)
    assert listed == {
        "items": [
            put,
            {"name": "ios.release", "variables": ["P12"], "repositories": []},
        ]
    }
    one = await call("GET", "/api/secret-groups/android", 200)
    assert one == put
    assert call.seen.count(b"STORE_PASSWORD") == 3
    assert call.shows_no_value(VALUES)


async def test_values_are_sealed_for_their_row(call: Bodies, services: Services) -> None:
    await call("PUT", "/api/secret-groups/android", 200, json={"variables": VALUES})
    rows = await services.store.sealed_secret_group("android")
    assert [name for _, name, _ in rows] == ["KEY_ALIAS", "STORE_PASSWORD"]
    for row_id, name, blob in rows:
        assert VALUES[name].encode() not in blob
        assert services.sealer.open(blob, aad("secrets", row_id, "value")) == VALUES[name].encode()
    (first_id, _, first_blob), (second_id, _, _) = rows
    assert first_id != second_id
    with pytest.raises(CryptoError):
        services.sealer.open(first_blob, aad("secrets", second_id, "value"))


async def test_put_replaces_the_whole_group(call: Bodies, services: Services) -> None:
    await call("PUT", "/api/secret-groups/android", 200, json={"variables": VALUES})
    before = {row_id for row_id, _, _ in await services.store.sealed_secret_group("android")}
    again = await call("PUT", "/api/secret-groups/android", 200, json={"variables": {"NEW": "n"}})
    assert again == {"name": "android", "variables": ["NEW"], "repositories": []}
    assert await call("GET", "/api/secret-groups/android", 200) == again
    [(row_id, name, blob)] = await services.store.sealed_secret_group("android")
    assert name == "NEW"
    assert row_id not in before
    assert services.sealer.open(blob, aad("secrets", row_id, "value")) == b"n"


@pytest.mark.parametrize(
    ("group", "body", "field"),
    [
        ("bad name", {"variables": {"A": "x"}}, "name"),
        ("a" * 101, {"variables": {"A": "x"}}, "name"),
        ("g", {"variables": {"1ABC": "x"}}, "variables"),
        ("g", {"variables": {"A-B": "x"}}, "variables"),
        ("g", {"variables": {"A": 5}}, "variables"),
        ("g", {"variables": {"A": None}}, "variables"),
        ("g", {"variables": {"A": "x" * (64 * 1024 + 1)}}, "variables"),
        ("g", {"variables": {}}, "variables"),
        ("g", {"variables": ["A"]}, "variables"),
        ("g", {}, "variables"),
        ("g", {"variables": {"A": "x"}, "values": {}}, "values"),
    ],
)
async def test_invalid_put_is_422_naming_the_field_and_stores_nothing(
    call: Bodies, services: Services, group: str, body: dict[str, Any], field: str
) -> None:
    answer = await call("PUT", f"/api/secret-groups/{group}", 422, json=body)
    assert (answer["error"]["code"], answer["error"]["field"]) == ("validation_error", field)
    assert await services.store.secret_groups() == []


async def test_invalid_put_keeps_the_previous_values(call: Bodies, services: Services) -> None:
    await call("PUT", "/api/secret-groups/g", 200, json={"variables": {"A": "kept"}})
    await call("PUT", "/api/secret-groups/g", 422, json={"variables": {"A": "x", "B": 1}})
    [(row_id, name, blob)] = await services.store.sealed_secret_group("g")
    assert name == "A"
    assert services.sealer.open(blob, aad("secrets", row_id, "value")) == b"kept"


async def test_delete_then_404(call: Bodies) -> None:
    await call("PUT", "/api/secret-groups/g", 200, json={"variables": {"A": "x"}})
    assert await call("DELETE", "/api/secret-groups/g", 204) is None
    await call("GET", "/api/secret-groups/g", 404)
    await call("DELETE", "/api/secret-groups/g", 404)
    assert await call("GET", "/api/secret-groups", 200) == {"items": []}


async def test_a_lone_surrogate_is_refused_not_500(client: Client, admin: dict[str, str]) -> None:
    body = b'{"variables": {"A": "\\ud800"}}'
    headers = admin | {"Content-Type": "application/json"}
    response = await client.put("/api/secret-groups/g", data=body, headers=headers)
    assert response.status_code in (400, 422)


# --- NUL values and scopes (issue 10) ---------------------------------------------------------


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "tail\x00"])
async def test_a_value_with_nul_is_refused_at_write_time(
    call: Bodies, services: Services, value: str
) -> None:
    answer = await call("PUT", "/api/secret-groups/g", 422, json={"variables": {"K": value}})
    assert answer["error"]["field"] == "variables"
    assert "K: a value may not contain a NUL character" in answer["error"]["message"]
    assert await services.store.secret_groups() == []


async def _repository(call: Bodies, name: str) -> str:
    body = {
        "provider": "github",
        "owner": "acme",
        "name": name,
        "clone_url": f"https://github.com/acme/{name}.git",
    }
    created = await call("POST", "/api/repositories", 201, json=body)
    return str(created["id"])


async def test_a_group_is_scoped_to_the_repositories_named(call: Bodies) -> None:
    app, lib = await _repository(call, "app"), await _repository(call, "lib")
    body = {"variables": {"K": "v"}, "repositories": [app, lib, app]}
    put = await call("PUT", "/api/secret-groups/g", 200, json=body)
    assert put == {"name": "g", "variables": ["K"], "repositories": [app, lib]}
    assert await call("GET", "/api/secret-groups/g", 200) == put
    assert (await call("GET", "/api/secret-groups", 200))["items"] == [put]


async def test_values_without_repositories_keep_the_scope_and_an_empty_list_clears_it(
    call: Bodies,
) -> None:
    app = await _repository(call, "app")
    await call("PUT", "/api/secret-groups/g", 200, json={"variables": {"K": "v"}})
    scoped = {"variables": {"K": "v"}, "repositories": [app]}
    await call("PUT", "/api/secret-groups/g", 200, json=scoped)
    again = await call("PUT", "/api/secret-groups/g", 200, json={"variables": {"K": "w"}})
    assert again["repositories"] == [app]
    nulled = {"variables": {"K": "w"}, "repositories": None}
    assert (await call("PUT", "/api/secret-groups/g", 200, json=nulled))["repositories"] == [app]
    cleared = {"variables": {"K": "w"}, "repositories": []}
    assert (await call("PUT", "/api/secret-groups/g", 200, json=cleared))["repositories"] == []


@pytest.mark.parametrize(
    "repositories", [["01HZZZZZZZZZZZZZZZZZZZZZZZ"], "all", [5], {"id": "x"}, ["x"] * 1001]
)
async def test_a_scope_naming_no_registered_repository_is_refused(
    call: Bodies, services: Services, repositories: object
) -> None:
    body = {"variables": {"K": "v"}, "repositories": repositories}
    answer = await call("PUT", "/api/secret-groups/g", 422, json=body)
    assert answer["error"]["field"] == "repositories"
    assert await services.store.secret_groups() == []


async def test_deleting_a_repository_never_widens_a_scope(call: Bodies, services: Services) -> None:
    app = await _repository(call, "app")
    body = {"variables": {"K": "v"}, "repositories": [app]}
    await call("PUT", "/api/secret-groups/g", 200, json=body)
    await call("DELETE", f"/api/repositories/{app}", 204)
    group = await services.store.secret_group("g")
    assert group.repositories == (app,)
    assert not group.allows("01HZZZZZZZZZZZZZZZZZZZZZZZ")


async def test_delete_removes_the_scope_too(call: Bodies, services: Services) -> None:
    app = await _repository(call, "app")
    body = {"variables": {"K": "v"}, "repositories": [app]}
    await call("PUT", "/api/secret-groups/g", 200, json=body)
    await call("DELETE", "/api/secret-groups/g", 204)
    again = await call("PUT", "/api/secret-groups/g", 200, json={"variables": {"K": "v"}})
    assert again["repositories"] == []
