"""`oore github setup|installations|add` through the real `oore`, a real daemon and a fake GitHub:
setup writes the page that posts the manifest and waits until GitHub has sent the browser back."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import trio

from tests.cli.harness import Oore, Result
from tests.e2e.daemon import Daemon
from tests.e2e.test_github_app import github_and_ci
from tests.fakes.github import FakeGitHub, FakeRepo

FORM = re.compile(r'<form action="([^"]+)" method="post">\s*<input [^>]*value="([^"]*)">')


async def be_the_browser(pages: Path) -> str:
    """Open the page `oore github setup` wrote, as a browser would: post its form to GitHub and
    follow GitHub's redirect back to Oore. The page Oore answers with."""
    with trio.fail_after(30):
        # The page appears while `oore` runs in another process: nothing to wait on but the file.
        while not (found := list(await trio.Path(pages).glob("oore-github-*/*.html"))):  # noqa: ASYNC110
            await trio.sleep(0.05)
    page = found[0]
    assert (await page.stat()).st_mode & 0o777 == 0o600
    action, manifest = FORM.search(await page.read_text()).groups()  # type: ignore[union-attr]
    async with httpx.AsyncClient(timeout=15) as browser:
        created = await browser.post(
            html.unescape(action), data={"manifest": html.unescape(manifest)}
        )
        assert created.status_code == 302, created.text
        back = await browser.get(created.headers["Location"])
    assert back.status_code == 200, back.text
    return back.text


async def test_setup_waits_for_github_then_installations_and_add(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    async with github_and_ci(Daemon, tmp_path / "ci", []) as (github, ci):
        pages = tmp_path / "tmp"
        pages.mkdir()
        oore = Oore(
            tmp_path,
            {
                "OORE_SERVER": ci.daemon.url,
                "OORE_TOKEN": ci.daemon.admin_token.strip(),
                "TMPDIR": str(pages),
            },
        )
        setup: list[Result] = []
        landed: list[str] = []

        async def run_setup() -> None:
            setup.append(await oore("github", "setup", "--name", "Oore cli", "--timeout", "30"))

        async def browse() -> None:
            landed.append(await be_the_browser(pages))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_setup)
            nursery.start_soon(browse)
        (done,) = setup
        assert done.code == 0, done.err
        assert done.out.splitlines()[0].startswith("file://")
        assert f"GitHub App Oore cli ({github.app.id}) is set up" in done.out
        assert f"{github.url}/apps/oore-cli/installations/new" in done.err + landed[0]

        empty = await oore("github", "installations")
        assert empty.code == 0, empty.err
        assert "no installations yet" in empty.err

        await _install(github)
        table = await oore("github", "installations")
        assert table.code == 0, table.err
        assert re.search(r"7\s+acme\s+acme/app\s+42\s+private\s+-", table.out), table.out

        added = await oore("--json", "github", "add", "7", "42")
        assert added.code == 0, added.err
        repository_id = added.json()["id"]
        listed = await oore("--json", "github", "installations")
        assert listed.json()["items"][0]["repositories"][0]["repository_id"] == repository_id
        missing = await oore("github", "add", "7", "43")
        assert missing.code == 5, missing.err
        assert "not in installation 7" in missing.err


async def _install(github: FakeGitHub) -> None:
    github.add_repository(FakeRepo(42, "acme", "app", github.clone_url("acme", "app")))
    await github.install(7, "acme", [42])
    assert github.deliveries[-1].status_code == 202
