from __future__ import annotations

from typing import Any

from quart import jsonify
from quart_trio import QuartTrio

from oore import __version__
from oore.http.jsonio import read_json_object
from oore.store.sqlite import SqliteStore


async def test_health_ok(app: QuartTrio) -> None:
    response = await app.test_client().get("/api/health")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["status"] == "ok"
    assert body["store"] == "ok"


async def test_health_503_when_store_unusable(app: QuartTrio, store: SqliteStore) -> None:
    store.engine.close()
    response = await app.test_client().get("/api/health")
    assert response.status_code == 503
    body = await response.get_json()
    assert body["error"]["code"] == "unavailable"
    assert "store" in body["error"]["message"]


async def test_version(app: QuartTrio) -> None:
    response = await app.test_client().get("/api/version")
    assert (await response.get_json())["version"] == __version__


async def test_unknown_route_is_json_404(app: QuartTrio) -> None:
    response = await app.test_client().get("/api/nope")
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "not_found"


def _echo_route(app: QuartTrio) -> None:
    async def echo() -> Any:
        return jsonify(await read_json_object())

    app.add_url_rule("/test/echo", "echo", echo, methods=["POST"])


async def test_bad_json_is_400_never_500(services: Any) -> None:
    from oore.http.app import create_app

    app = create_app(services)
    _echo_route(app)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {services.settings.admin_token}"}
    for body, fragment in [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "empty"),
    ]:
        response = await client.post("/test/echo", data=body, headers=auth)
        assert response.status_code == 400, body
        error = (await response.get_json())["error"]
        assert error["code"] == "bad_request"
        assert fragment in error["message"]
    ok = await client.post("/test/echo", data=b'{"a": 1}', headers=auth)
    assert (await ok.get_json()) == {"a": 1}


async def test_declared_oversized_body_is_413_before_reading(services: Any) -> None:
    from oore.http.app import create_app

    app = create_app(services)
    _echo_route(app)
    limit = services.settings.max_body_bytes
    response = await app.test_client().post(
        "/test/echo", data=b"{}", headers={"Content-Length": str(limit + 1)}
    )
    assert response.status_code == 413
    assert (await response.get_json())["error"]["code"] == "payload_too_large"
