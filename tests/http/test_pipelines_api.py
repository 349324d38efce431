"""Pipelines over HTTP: `POST /api/pipelines/validate` (raw YAML or JSON `{content, file}`) and
the pipeline stored per repository (PUT refuses a file that would not load, naming file:line)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.http.services import Services
from oore.ids import new_id
from tests.http.test_builds_api import add_repository

GOOD = textwrap.dedent(
    """\
    workflows:
      ios:
        name: iOS
        colour: blue
        scripts:
          - echo hi
      android:
        scripts: [echo a]
    """
)
# Line 5 is indented differently from the list it follows: not YAML.
BROKEN = "workflows:\n  ios:\n    scripts:\n      - echo hi\n     bad: [\n"
# YAML, but a value of the wrong type on line 3.
WRONG_TYPE = "workflows:\n  ios:\n    max_build_duration: lots\n    scripts: [echo]\n"
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def client(app: QuartTrio) -> Client:
    return app.test_client()


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    assert services.settings.admin_token is not None
    return {"Authorization": f"Bearer {services.settings.admin_token}"}


async def validate_raw(client: Client, admin: dict[str, str], text: str) -> Any:
    response = await client.post(
        "/api/pipelines/validate", data=text.encode(), headers=admin | YAML
    )
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def test_validate_a_good_file_lists_workflows_and_warns_with_the_line(
    client: Client, admin: dict[str, str]
) -> None:
    report = await validate_raw(client, admin, GOOD)
    assert report == {
        "ok": True,
        "errors": [],
        "warnings": [
            {
                "file": "codemagic.yaml",
                "line": 4,
                "key": "workflows.ios.colour",
                "message": "unknown key 'colour', ignored",
            }
        ],
        "workflows": ["ios", "android"],
    }


async def test_validate_broken_yaml_points_at_the_line(
    client: Client, admin: dict[str, str]
) -> None:
    report = await validate_raw(client, admin, BROKEN)
    assert report["ok"] is False
    assert report["workflows"] == []
    [error] = report["errors"]
    assert (error["file"], error["line"], error["key"]) == ("codemagic.yaml", 5, None)
    assert "indented differently" in error["message"]


async def test_validate_wrong_type_names_line_and_key(
    client: Client, admin: dict[str, str]
) -> None:
    report = await validate_raw(client, admin, WRONG_TYPE)
    assert report["ok"] is False
    [error] = report["errors"]
    assert (error["line"], error["key"]) == (3, "workflows.ios.max_build_duration")


async def test_validate_json_body_gives_the_same_answer_with_its_file_name(
    client: Client, admin: dict[str, str]
) -> None:
    raw = await validate_raw(client, admin, BROKEN)
    for body, file in (
        ({"content": BROKEN}, "codemagic.yaml"),
        ({"content": BROKEN, "file": "oore.yaml"}, "oore.yaml"),
    ):
        response = await client.post("/api/pipelines/validate", json=body, headers=admin)
        assert response.status_code == 200
        report = await response.get_json()
        assert report["errors"][0]["file"] == file
        assert report["errors"][0] | {"file": "codemagic.yaml"} == raw["errors"][0]
    plain = await client.post(
        "/api/pipelines/validate",
        data=GOOD.encode(),
        headers=admin | {"Content-Type": "text/plain"},
    )
    assert (await plain.get_json())["workflows"] == ["ios", "android"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b'{"file": "a.yaml"}', "application/json"),
        (b'{"content": 5}', "application/json"),
        (b"{", "application/json"),
        (b"workflows: \xff\xfe", "application/yaml"),
    ],
)
async def test_validate_refuses_a_body_it_cannot_read(
    client: Client, admin: dict[str, str], data: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/pipelines/validate", data=data, headers=admin | {"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert (await response.get_json())["error"]["code"] == "bad_request"


async def test_stored_pipeline_put_get_delete(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    url = f"/api/repositories/{repo.id}/pipeline"
    assert (await client.get(url, headers=admin)).status_code == 404
    put = await client.put(url, data=GOOD.encode(), headers=admin | YAML)
    assert put.status_code == 200, await put.get_data()
    answer = await put.get_json()
    assert answer["workflows"] == ["ios", "android"]
    assert [(w["line"], w["key"]) for w in answer["warnings"]] == [(4, "workflows.ios.colour")]
    got = await client.get(url, headers=admin)
    assert got.status_code == 200
    assert got.mimetype == "application/yaml"
    assert await got.get_data(as_text=True) == GOOD
    assert await services.store.get_pipeline(repo.id) == GOOD
    deleted = await client.delete(url, headers=admin)
    assert (deleted.status_code, await deleted.get_data()) == (204, b"")
    assert (await client.get(url, headers=admin)).status_code == 404
    assert (await client.delete(url, headers=admin)).status_code == 404
    assert await services.store.get_pipeline(repo.id) is None


async def test_stored_pipeline_put_as_json(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    url = f"/api/repositories/{repo.id}/pipeline"
    put = await client.put(url, json={"content": GOOD, "file": "oore.yaml"}, headers=admin)
    assert put.status_code == 200
    assert (await put.get_json())["warnings"][0]["file"] == "oore.yaml"
    assert await (await client.get(url, headers=admin)).get_data(as_text=True) == GOOD


@pytest.mark.parametrize(
    ("text", "where"),
    [(BROKEN, "codemagic.yaml:5"), (WRONG_TYPE, "codemagic.yaml:3")],
)
async def test_stored_pipeline_put_invalid_is_422_and_stores_nothing(
    client: Client, admin: dict[str, str], services: Services, text: str, where: str
) -> None:
    repo = await add_repository(services)
    url = f"/api/repositories/{repo.id}/pipeline"
    put = await client.put(url, data=text.encode(), headers=admin | YAML)
    assert put.status_code == 422
    error = (await put.get_json())["error"]
    assert error["code"] == "invalid_pipeline"
    assert error["message"].startswith(where)
    assert (await client.get(url, headers=admin)).status_code == 404
    assert await services.store.get_pipeline(repo.id) is None


async def test_invalid_put_keeps_the_previous_pipeline(
    client: Client, admin: dict[str, str], services: Services
) -> None:
    repo = await add_repository(services)
    url = f"/api/repositories/{repo.id}/pipeline"
    assert (await client.put(url, data=GOOD.encode(), headers=admin | YAML)).status_code == 200
    assert (await client.put(url, data=BROKEN.encode(), headers=admin | YAML)).status_code == 422
    assert await (await client.get(url, headers=admin)).get_data(as_text=True) == GOOD


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_unknown_repository_is_404(
    client: Client, admin: dict[str, str], method: str
) -> None:
    url = f"/api/repositories/{new_id()}/pipeline"
    response = await client.open(url, method=method, data=GOOD.encode(), headers=admin | YAML)
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "not_found"
