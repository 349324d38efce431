"""The repository page's stored-pipeline editor as served: the stored text in the textarea
(escaped), the buttons and module for a write session, read-only text for a read session."""

from __future__ import annotations

import html

from quart_trio import QuartTrio

from oore.http.services import Services
from tests.http.dashboard.signin import sign_in
from tests.http.dashboard.test_pages import signed_in, text
from tests.http.test_builds_api import add_repository

# A leading newline (HTML drops one after <textarea>) and markup that must stay text.
PIPELINE = (
    "\n# </textarea><script>alert(1)</script>\nworkflows:\n  a:\n    scripts:\n      - echo a\n"
)


def textarea(page: str) -> tuple[str, str]:
    opening, rest = page.split('<textarea id="pipeline-text"')[1].split(">", 1)
    return opening, html.unescape(rest.split("</textarea>")[0])


async def test_a_write_session_edits_the_stored_pipeline(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    await services.store.set_pipeline(repo.id, PIPELINE)
    page = await text(await signed_in(app, services), f"/repositories/{repo.id}")
    opening, content = textarea(page)
    assert content == "\n" + PIPELINE  # the browser drops the first newline
    assert "readonly" not in opening
    assert "<script>alert(1)" not in page
    assert "data-pipeline-validate" in page
    assert "data-pipeline-save" in page
    assert "/js/pipeline.js" in page
    assert f'data-repository-id="{repo.id}"' in page


async def test_a_read_session_sees_the_pipeline_read_only(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    await services.store.set_pipeline(repo.id, PIPELINE)
    client = app.test_client()
    made = await app.test_client().post(
        "/api/tokens", json={"name": "viewer", "scope": "read"},
        headers={"Authorization": f"Bearer {services.settings.admin_token}"},
    )  # fmt: skip
    await sign_in(client, (await made.get_json())["token"])
    page = await text(client, f"/repositories/{repo.id}")
    opening, content = textarea(page)
    assert content == "\n" + PIPELINE
    assert "readonly" in opening
    assert "data-pipeline-save" not in page
    assert "data-pipeline-validate" not in page
