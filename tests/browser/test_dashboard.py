"""The dashboard in a real browser against a real daemon running real builds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import trio
from playwright.async_api import Page

from tests.browser.conftest import ARTIFACT, Dashboard

pytestmark = pytest.mark.e2e

BUILD_TIMEOUT = 60.0
FINAL = {"succeeded", "failed", "cancelled", "timed_out", "skipped", "errored"}

# A fetch from the page itself, as a script on the page (or injected into it) would make one.
FETCH = """async ([url, headers]) => {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
    ...headers}, body: "{}", credentials: "same-origin"});
  const body = await r.json().catch(() => ({}));
  return [r.status, body.error ? body.error.message : ""];
}"""
CSRF = "document.querySelector('meta[name=csrf-token]').content"


async def finished(dashboard: Dashboard, build_id: str) -> dict[str, str]:
    with trio.fail_after(BUILD_TIMEOUT):
        # The API has no "wait for the end": polling it is what a client does.
        while (build := await dashboard.build(build_id))["status"] not in FINAL:  # noqa: ASYNC110
            await trio.sleep(0.1)
    return build


async def test_sign_in_is_required_and_works(dashboard: Dashboard) -> None:
    async with dashboard.tab(sign_in=False) as tab:
        landed = await tab.goto("/builds?status=failed")
        assert landed == f"{dashboard.url}/login?next=/builds%3Fstatus%3Dfailed"

        async def wrong_then_right(page: Page) -> tuple[str, str]:
            await page.fill("#token", "oore_not-a-token")
            async with page.expect_navigation():
                await page.click("button[type=submit]")
            error = await page.locator(".alert-error").inner_text()
            await page.fill("#token", dashboard.admin)
            async with page.expect_navigation():
                await page.click("button[type=submit]")
            return error, page.url

        error, url = await tab.run(wrong_then_right)
        assert "not valid" in error
        assert url == f"{dashboard.url}/builds?status=failed"
        assert await tab.count(".who-name:text('admin')") == 1
        cookies = await tab.bridge.run(tab.context.cookies)
        session = next(c for c in cookies if c["name"] == "oore_session")
        assert session["httpOnly"]
        assert session["sameSite"] == "Strict"
        assert session["value"] != dashboard.admin
        # Signing out ends it: the pages want a sign-in again.
        await tab.run(lambda page: page.click("text=Sign out"))
        await tab.wait_for("#token")
        assert (await tab.goto("/")).startswith(f"{dashboard.url}/login")


async def test_a_read_only_session_shows_no_write_controls_and_cannot_write(
    dashboard: Dashboard,
) -> None:
    build_id = await dashboard.trigger("quick")
    await finished(dashboard, build_id)
    async with dashboard.tab(await dashboard.token("read")) as tab:
        await tab.goto(f"/builds/{build_id}")
        assert await tab.count("text=read-only") == 1
        assert await tab.count("[data-action]") == 0
        csrf = await tab.evaluate(CSRF)
        status, message = await tab.evaluate(
            FETCH, [f"/api/builds/{build_id}/retry", {"X-CSRF-Token": csrf}]
        )
        assert (status, "read scope" in message) == (403, True)
    async with dashboard.tab() as tab:
        await tab.goto(f"/builds/{build_id}")
        assert await tab.count("[data-action=retry]") == 1


async def test_a_write_without_the_csrf_token_is_refused(dashboard: Dashboard) -> None:
    async with dashboard.tab() as tab:
        await tab.goto("/")
        status, message = await tab.evaluate(FETCH, ["/api/repositories", {}])
        assert status == 403
        assert "CSRF" in message
        csrf = await tab.evaluate(CSRF)
        status, message = await tab.evaluate(FETCH, ["/api/repositories", {"X-CSRF-Token": csrf}])
        assert status == 422, message  # past the CSRF check: the empty body is what is wrong


async def test_a_new_build_appears_and_flips_to_succeeded_without_reload(
    dashboard: Dashboard,
) -> None:
    async with dashboard.tab() as tab:
        await tab.goto("/builds")
        await tab.wait_for("[data-live-indicator]")
        await tab.evaluate("window.__not_reloaded = true")
        build_id = await dashboard.trigger("quick")
        await tab.wait_for(f"tr[data-build-id='{build_id}']")
        await tab.wait_for(f"[data-status-for='{build_id}'][data-status='running']")
        await tab.wait_for(f"[data-status-for='{build_id}'][data-status='succeeded']", 60)
        assert await tab.evaluate("window.__not_reloaded === true")
        assert (await dashboard.build(build_id))["status"] == "succeeded"


async def test_cancel_works_from_the_build_page(dashboard: Dashboard) -> None:
    build_id = await dashboard.trigger("slow")
    async with dashboard.tab() as tab:
        await tab.goto(f"/builds/{build_id}")
        await tab.wait_for(f".page-head [data-status-for='{build_id}'][data-status='running']")
        await tab.run(lambda page: page.click("[data-action=cancel]"))
        await tab.wait_for(f".page-head [data-status-for='{build_id}'][data-status='cancelled']")
        await tab.wait_for("[data-action=retry]")
    assert (await finished(dashboard, build_id))["status"] == "cancelled"


async def test_an_artifact_downloads_with_the_right_bytes(
    dashboard: Dashboard, tmp_path: Path
) -> None:
    build_id = await dashboard.trigger("quick")
    async with dashboard.tab() as tab:
        await tab.goto(f"/builds/{build_id}")
        # Listed live when the build ends, without a reload.
        await tab.wait_for("a[data-artifact='app.bin']", 60)

        async def download(page: Page) -> str:
            async with page.expect_download() as waiting:
                await page.click("a[data-artifact='app.bin']")
            got = await waiting.value
            target = tmp_path / got.suggested_filename
            await got.save_as(target)
            return str(target)

        saved = Path(await tab.run(download))
        assert saved.name == "app.bin"
        assert await trio.Path(saved).read_bytes() == ARTIFACT
        await tab.goto(f"/builds/{build_id}")
        assert await tab.count(f"text={hashlib.sha256(ARTIFACT).hexdigest()}") == 1


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_screenshots_of_the_main_pages(dashboard: Dashboard, scheme: str) -> None:
    build_id = await dashboard.trigger("quick")
    await finished(dashboard, build_id)
    async with dashboard.tab(color_scheme=scheme) as tab:
        for name, path in (
            ("overview", "/"),
            ("builds", "/builds"),
            ("build", f"/builds/{build_id}"),
        ):
            await tab.goto(path)
            await tab.wait_for("main h1")
            shot = await dashboard.screenshot(tab, f"{name}-{scheme}")
            assert shot.stat().st_size > 10_000
        background = await tab.evaluate("getComputedStyle(document.body).backgroundColor")
        dark = background == "rgb(15, 18, 22)"
        assert dark is (scheme == "dark"), background
