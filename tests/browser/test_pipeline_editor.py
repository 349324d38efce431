"""The repository page's stored-pipeline editor in a real browser against a real daemon:
validation errors shown at their line, saving, and a read-only session's view."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser.conftest import Dashboard

pytestmark = pytest.mark.e2e

# Line 6 is wrong: a duration must be a number of minutes.
BROKEN = """\
workflows:
  editor:
    scripts:
      - name: build
        script: echo built
    max_build_duration: banana
"""
FIXED = BROKEN.replace("banana", "30")
CARET = """() => {
  const text = document.querySelector("#pipeline-text");
  const before = text.value.slice(0, text.selectionStart);
  return [document.activeElement === text, before.split("\\n").length];
}"""
MARKS = "els => els.map((e) => Number(e.dataset.problemLine ?? e.dataset.markLine))"


async def stored(dashboard: Dashboard) -> str | None:
    async with dashboard.http() as http:
        found = await http.get(f"/api/repositories/{dashboard.repo_id}/pipeline")
    assert found.status_code in {200, 404}, found.text
    return found.text if found.status_code == 200 else None


async def test_errors_show_at_their_line_and_a_fixed_pipeline_is_saved(
    dashboard: Dashboard,
) -> None:
    before = await stored(dashboard)
    async with dashboard.tab() as tab:
        await tab.goto(f"/repositories/{dashboard.repo_id}")

        async def validate_broken(page: Page) -> dict[str, Any]:
            await page.fill("#pipeline-text", BROKEN)
            await page.click("[data-pipeline-validate]")
            problem = page.locator(".problem-error [data-line]")
            await problem.wait_for()
            said = await problem.inner_text()
            await problem.click()
            return {
                "said": said,
                "caret": await page.evaluate(CARET),
                "gutter": await page.locator("[data-problem-line]").evaluate_all(MARKS),
                "marks": await page.locator("[data-mark-line]").evaluate_all(MARKS),
                "status": await page.locator("[data-pipeline-status]").inner_text(),
            }

        seen = await tab.run(validate_broken)
        assert seen["said"].startswith("line 6: must be a whole number of minutes"), seen
        assert seen["caret"] == [True, 6]
        assert seen["gutter"] == [6]
        assert seen["marks"] == [6]
        assert "1 error" in seen["status"]
        await dashboard.screenshot(tab, "pipeline-editor-error")

        async def save(page: Page, text: str, outcome: str) -> str:
            await page.fill("#pipeline-text", text)
            await page.click("[data-pipeline-save]")
            status = page.locator(f"[data-pipeline-status][data-kind={outcome}]")
            await status.wait_for()
            return await status.inner_text()

        refused = await tab.run(lambda page: save(page, BROKEN, "error"))
        assert refused.startswith("Not saved: fix the errors")
        assert await stored(dashboard) == before  # a broken file is never stored
        saved = await tab.run(lambda page: save(page, FIXED, "ok"))
        assert saved == "Saved. Workflows: editor."
        assert await stored(dashboard) == FIXED

        async def reload(page: Page) -> list[Any]:
            await page.reload()
            text = page.locator("#pipeline-text")
            return [await text.input_value(), await page.locator("[data-problem-line]").count()]

        assert await tab.run(reload) == [FIXED, 0]


async def test_a_read_only_session_sees_the_pipeline_but_no_buttons(dashboard: Dashboard) -> None:
    async with dashboard.http() as http:
        put = await http.put(
            f"/api/repositories/{dashboard.repo_id}/pipeline",
            json={"content": FIXED, "file": "codemagic.yaml"},
        )
    assert put.status_code == 200, put.text
    async with dashboard.tab(await dashboard.token("read")) as tab:
        await tab.goto(f"/repositories/{dashboard.repo_id}")

        async def look(page: Page) -> list[Any]:
            text = page.locator("#pipeline-text")
            return [
                await text.input_value(),
                await text.get_attribute("readonly"),
                await page.locator("[data-pipeline-save]").count(),
                await page.locator("[data-pipeline-validate]").count(),
                await page.locator("button:text('Save')").count(),
            ]

        assert await tab.run(look) == [FIXED, "", 0, 0, 0]


async def test_settings_show_notifications_without_secrets(dashboard: Dashboard) -> None:
    secret = "https://hooks.slack.com/services/T0/B0/browserSecret0123"
    async with dashboard.http() as http:
        put = await http.put("/api/settings/slack", json={"mode": "webhook", "webhook_url": secret})
    assert put.status_code == 200, put.text
    async with dashboard.tab() as tab:
        await tab.goto("/settings")

        async def look(page: Page) -> list[str]:
            slack = page.locator("[data-integration=slack]")
            return [await slack.inner_text(), await page.content()]

        slack, whole = await tab.run(look)
        await dashboard.screenshot(tab, "settings-integrations")
    assert "incoming webhook" in slack
    assert "oore settings slack set" in slack
    assert "browserSecret0123" not in whole
