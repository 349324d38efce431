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
    assert put == {"name": "android", "variables": ["KEY_ALIAS", "STORE_PASSWORD"]}
    await call("PUT", "/api/secret-groups/ios.release", 200, json={"variables": {"P12": "x"}})
    listed = await call("GET", "/api/secret-groups", 200)
    assert listed == {
        "items": [
            {"name": "android", "variables": ["KEY_ALIAS", "STORE_PASSWORD"]},
            {"name": "ios.release", "variables": ["P12"]},
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
    assert again == {"name": "android", "variables": ["NEW"]}
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
    assert await services.store.secret_groups() == {}


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
