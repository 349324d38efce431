"""`GET /api/badges/{repository_id}.svg`: public only for repositories that allow it."""

from __future__ import annotations

import re

from quart_trio import QuartTrio

from oore.http.services import Services
from oore.ids import new_id
from oore.model import BuildStatus, utcnow
from tests.http.test_builds_api import add_build, add_repository


async def test_the_badge_shows_the_latest_finished_build(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    await services.store.update_repository(repo.id, {"badge_public": True})
    client = app.test_client()
    url = f"/api/badges/{repo.id}.svg"
    empty = await client.get(url)
    assert empty.status_code == 200
    assert empty.mimetype == "image/svg+xml"
    assert "no-cache" in empty.headers["Cache-Control"]
    assert "no builds" in await empty.get_data(as_text=True)

    now = utcnow()
    await add_build(services, repo.id, status=BuildStatus.FAILED, finished_at=now)
    await add_build(services, repo.id, branch="dev", status=BuildStatus.SUCCEEDED)
    await add_build(services, repo.id, status=BuildStatus.RUNNING)  # not finished: not shown
    await add_build(services, repo.id, status=BuildStatus.CANCELLED)  # no outcome: not shown
    main = await (await client.get(f"{url}?branch=main")).get_data(as_text=True)
    assert ">failing<" in main
    dev = await (await client.get(f"{url}?branch=dev&workflow=ios")).get_data(as_text=True)
    assert ">passing<" in dev
    assert ">ios<" in dev
    other = await (await client.get(f"{url}?workflow=android")).get_data(as_text=True)
    assert ">no builds<" in other


async def test_a_private_badge_is_the_same_404_as_a_missing_repository(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    client = app.test_client()
    private = await client.get(f"/api/badges/{repo.id}.svg")
    missing = await client.get(f"/api/badges/{new_id()}.svg")
    assert private.status_code == missing.status_code == 404
    body = await private.get_json()
    assert body["error"]["code"] == "not_found"
    assert repo.id in body["error"]["message"]


HOSTILE = 'x" onload="alert(1)" a=\'<script>alert(2)</script>&'


async def test_a_hostile_workflow_or_branch_cannot_put_markup_into_the_badge(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    await services.store.update_repository(repo.id, {"badge_public": True})
    client = app.test_client()
    answer = await client.get(
        f"/api/badges/{repo.id}.svg", query_string={"workflow": HOSTILE, "branch": HOSTILE}
    )
    assert answer.status_code == 200
    body = await answer.get_data(as_text=True)
    assert 'onload="' not in body  # only as escaped text: onload=&quot;
    assert "<script" not in body
    assert "'" not in body
    # Every attribute is one quoted value: no quote from the input closed one early.
    assert re.fullmatch(r'(?:[^"]*"[^"]*")*[^"]*', body)
    for attribute in re.findall(r'\s([\w:-]+)="', body):
        assert attribute in SVG_ATTRIBUTES, attribute
    assert "x&quot; onload=&quot;alert(1)&quot;" in body
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "script-src" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


SVG_ATTRIBUTES = {
    "xmlns", "width", "height", "role", "aria-label", "x", "y", "fill", "text-anchor",
    "font-family", "font-size",
}  # fmt: skip


async def test_a_long_label_is_cut_short_with_an_ellipsis(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    await services.store.update_repository(repo.id, {"badge_public": True})
    long = "w" * 500
    answer = await app.test_client().get(f"/api/badges/{repo.id}.svg?workflow={long}")
    body = await answer.get_data(as_text=True)
    assert f">{'w' * 39}\u2026<" in body
    assert "w" * 40 not in body
    width = re.search(r'<svg[^>]* width="(\d+)"', body)
    assert width is not None
    assert int(width[1]) < 400
