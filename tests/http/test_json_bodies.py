"""Hostile JSON request bodies: whatever the body, a JSON error is a 400 with the usual error body.

Python's decoder raises RecursionError for deeply nested arrays and a plain ValueError (not a
JSONDecodeError) for integers over its 4,300-digit conversion limit; both used to escape as 500s.
"""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.http.services import Services

ENDPOINTS = [
    ("POST", "/api/repositories"),
    ("PUT", "/api/secret-groups/x"),
    ("POST", "/api/repositories/01J0000000000000000000000Z/builds"),
]
HOSTILE = {
    "deep array": b"[" * 100_000 + b"]" * 100_000,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep array in an object": b'{"values": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "5,000-digit integer": b'{"name": "x", "count": ' + b"7" * 5_000 + b"}",
    "5,000-digit negative integer": b"[-" + b"9" * 5_000 + b"]",
}


@pytest.fixture
def client(app: QuartTrio) -> Client:
    return app.test_client()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
async def test_a_hostile_json_body_is_a_400(
    client: Client, services: Services, method: str, path: str, kind: str
) -> None:
    headers = {
        "Authorization": f"Bearer {services.settings.admin_token}",
        "Content-Type": "application/json",
    }
    response = await client.open(path, method=method, headers=headers, data=HOSTILE[kind])
    body = await response.get_json()
    assert response.status_code == 400, body
    assert body["error"]["code"] == "bad_request"
    assert body["error"]["message"].startswith("the request body is not valid JSON")
