"""The dashboard's pages render what the store holds, for a signed-in session."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from oore.http.services import Services
from oore.ids import new_id
from oore.model import BuildStatus, Step, StepStatus, utcnow
from tests.http.dashboard.signin import sign_in
from tests.http.test_builds_api import add_artifact, add_build, add_repository


async def signed_in(app: QuartTrio, services: Services) -> Client:
    client = app.test_client()
    assert services.settings.admin_token is not None
    await sign_in(client, services.settings.admin_token)
    return client


async def text(client: Client, url: str, status: int = 200) -> str:
    answer = await client.get(url)
    assert answer.status_code == status, url
    assert answer.mimetype == "text/html"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    return await answer.get_data(as_text=True)


async def test_every_page_shows_the_nav_and_who_is_signed_in(
    app: QuartTrio, services: Services
) -> None:
    client = await signed_in(app, services)
    for url in ("/", "/builds", "/repositories", "/events", "/settings"):
        page = await text(client, url)
        for label in ("Overview", "Builds", "Repositories", "Events", "Settings", "Sign out"):
            assert f">{label}<" in page, (url, label)
        assert 'aria-current="page"' in page
        assert "admin" in page


async def test_overview_shows_running_queued_with_reasons_and_positions(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    await add_build(services, repo.id, workflow="android", status=BuildStatus.RUNNING)
    await add_build(services, repo.id, workflow="first", queue_reason="2 of 2 executor slots busy")
    await add_build(services, repo.id, workflow="second", queue_reason="waiting for build 1")
    page = await text(await signed_in(app, services), "/")
    running = page.split('id="running-h"')[1].split("</section>")[0]
    assert "android" in running
    queue = page.split('id="queue-h"')[1].split("</section>")[0]
    assert queue.index("first") < queue.index("second")
    assert re.search(r'class="position"[^>]*>1<', queue)
    assert re.search(r'class="position"[^>]*>2<', queue)
    assert "2 of 2 executor slots busy" in queue
    assert "Store" in page
    assert "Disk" in page


async def test_builds_list_filters_and_pages(app: QuartTrio, services: Services) -> None:
    repo = await add_repository(services)
    other = await add_repository(services, "other")
    for _n in range(55):
        await add_build(services, repo.id, workflow="ios", branch="main")
    await add_build(services, repo.id, workflow="android", branch="dev")
    await add_build(services, other.id, workflow="ios", status=BuildStatus.FAILED)
    client = await signed_in(app, services)
    first = await text(client, "/builds")
    assert first.count("data-build-id=") == 50
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older is not None
    second = await text(client, older[1].replace("&amp;", "&"))
    assert second.count("data-build-id=") == 7
    by_branch = await text(client, "/builds?branch=dev")
    assert by_branch.count("data-build-id=") == 1
    assert "android" in by_branch
    by_repo = await text(client, f"/builds?repository={other.id}&status=failed")
    assert by_repo.count("data-build-id=") == 1
    assert "acme/other" in by_repo
    by_workflow = await text(client, "/builds?workflow=android")
    assert by_workflow.count("data-build-id=") == 1
    assert 'data-filter-workflow="android"' in by_workflow
    assert "must be one of" in await text(client, "/builds?status=nope", 422)


async def test_build_page_shows_steps_artifacts_and_the_log_mount(
    app: QuartTrio, services: Services
) -> None:
    repo = await add_repository(services)
    build = await add_build(services, repo.id, status=BuildStatus.RUNNING)
    await services.store.create_steps(  # type: ignore[attr-defined]
        [
            Step(
                new_id(), build.id, 0, "Get packages", StepStatus.SUCCEEDED, utcnow(), utcnow(), 0
            ),
            Step(new_id(), build.id, 1, "Build ipa", StepStatus.RUNNING, utcnow()),
        ]
    )
    artifact = await add_artifact(services, build.id, "app.ipa", b"ipa bytes")
    page = await text(await signed_in(app, services), f"/builds/{build.id}")
    assert "Get packages" in page
    assert "Build ipa" in page
    assert 'data-step-index="1"' in page
    assert f'href="/api/artifacts/{artifact.id}"' in page
    assert artifact.sha256 in page
    assert "9 B" in page
    assert 'id="log"' in page
    assert f'data-build-id="{build.id}"' in page
    assert 'data-action="cancel"' in page
    assert build.trigger.sha[:12] in page


async def test_repository_event_and_settings_pages(app: QuartTrio, services: Services) -> None:
    repo = await add_repository(services)
    await services.store.update_repository(repo.id, {"badge_public": True})
    client = await signed_in(app, services)
    listing = await text(client, "/repositories")
    assert f'href="/repositories/{repo.id}"' in listing
    detail = await text(client, f"/repositories/{repo.id}")
    assert f"{services.settings.base_url}/api/webhooks/github" in detail
    assert "Settings → Webhooks → Add webhook" in detail
    assert f"/api/badges/{repo.id}.svg" in detail
    settings = await text(client, "/settings")
    assert "API tokens" in settings
    assert "Secret groups" in settings


async def test_a_missing_build_is_an_html_404(app: QuartTrio, services: Services) -> None:
    page = await text(await signed_in(app, services), f"/builds/{new_id()}", 404)
    assert "Not found" in page


async def test_static_files_are_versioned_and_cached_for_good(
    app: QuartTrio, services: Services
) -> None:
    client = await signed_in(app, services)
    page = await text(client, "/")
    css = re.search(r'href="(/static/[0-9a-f]{16}/app.css)"', page)
    assert css is not None
    answer = await client.get(css[1])
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "prefers-color-scheme: dark" in await answer.get_data(as_text=True)
    stale = await client.get("/static/0000000000000000/app.css")
    assert stale.status_code == 200
    assert stale.headers["Cache-Control"] == "no-cache"
    script = re.search(r'src="(/static/[0-9a-f]{16}/js/app.js)"', page)
    assert script is not None
    js = await client.get(script[1])
    assert "javascript" in js.mimetype
    assert (await client.get(css[1].replace("app.css", "../sessions.py"))).status_code == 404
