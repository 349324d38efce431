"""Browser tests: Debian's chromium, driven by Playwright, against one real daemon per module.

The daemon runs real builds of a real git repository (tests/e2e/daemon.py); each test opens
fresh browser contexts (`dashboard.tab(...)`), signed in through the login page. Screenshots go
under the test run's base temp dir (`screenshots/`) and, when set, into $OORE_SCREENSHOTS.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from playwright.async_api import Page

from tests.browser.bridge import Bridge, Tab, find_chromium
from tests.e2e.daemon import START_TIMEOUT, Daemon
from tests.e2e.gitrepo import GitRepo

pytestmark = pytest.mark.e2e

ARTIFACT = b"oore artifact \x00\x01\x02 bytes\n"
PIPELINE = """\
workflows:
  quick:
    scripts:
      - name: compile
        script: |
          mkdir -p out
          printf 'oore artifact \\000\\001\\002 bytes\\n' > out/app.bin
          sleep 1.5
      - name: test
        script: echo tests passed
    artifacts:
      - out/*.bin
  slow:
    scripts:
      - name: wait
        script: |
          echo waiting
          sleep 90
"""


@pytest.fixture(scope="session")
def bridge() -> Iterator[Bridge]:
    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium found (apt-get install chromium; .ci/run installs it)")
    opened = Bridge(executable)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


class Dashboard:
    """The daemon the browser tests talk to, and how to open signed-in tabs on it."""

    def __init__(self, daemon: Daemon, bridge: Bridge, repo_id: str, shots: Path) -> None:
        self.daemon = daemon
        self.bridge = bridge
        self.url = daemon.url
        self.admin = daemon.admin_token.strip()
        self.repo_id = repo_id
        self.shots = shots

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=self.daemon.headers(), timeout=15)

    async def trigger(self, workflow: str) -> str:
        async with self.http() as http:
            made = await http.post(
                f"/api/repositories/{self.repo_id}/builds",
                json={"workflow": workflow, "branch": "main"},
            )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    async def build(self, build_id: str) -> dict[str, Any]:
        async with self.http() as http:
            found = await http.get(f"/api/builds/{build_id}")
        assert found.status_code == 200, found.text
        answer: dict[str, Any] = found.json()
        return answer

    async def token(self, scope: str) -> str:
        async with self.http() as http:
            made = await http.post("/api/tokens", json={"name": f"{scope} viewer", "scope": scope})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])

    @asynccontextmanager
    async def tab(
        self, token: str | None = None, *, color_scheme: str = "light", sign_in: bool = True
    ) -> AsyncIterator[Tab]:
        async def open_context() -> tuple[Any, Page]:
            context = await self.bridge.browser.new_context(
                color_scheme=color_scheme,  # type: ignore[arg-type]
                viewport={"width": 1280, "height": 800},
                accept_downloads=True,
            )
            return context, await context.new_page()

        context, page = await self.bridge.run(open_context)
        tab = Tab(self.bridge, context, page, self.url)
        try:
            if sign_in:
                await self.sign_in(tab, token or self.admin)
            yield tab
        finally:
            await tab.close()

    async def sign_in(self, tab: Tab, token: str, path: str = "/") -> None:
        async def submit(page: Page) -> None:
            await page.goto(f"{self.url}/login?next={path}")
            await page.fill("#token", token)
            async with page.expect_navigation():
                await page.click("button[type=submit]")

        await tab.run(submit)

    async def screenshot(self, tab: Tab, name: str) -> Path:
        path = self.shots / f"{name}.png"
        await tab.screenshot(path)
        extra = os.environ.get("OORE_SCREENSHOTS")
        if extra:
            await trio.to_thread.run_sync(_copy_into, path, Path(extra))
        return path


def _copy_into(path: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, folder / path.name)


@pytest.fixture(scope="module")
def running_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    """One daemon (with one registered repository) for a module's tests: a sync fixture, so
    that it can be shared; it is started and stopped with plain waits."""
    home = tmp_path_factory.mktemp("dashboard")
    git = GitRepo(home / "git" / "app")
    git.commit("initial", {"codemagic.yaml": PIPELINE})
    daemon = Daemon(home, OORE_SHUTDOWN_GRACE="1", OORE_LOG_LEVEL="info")
    process = daemon.spawn()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not daemon.ready_file.exists() or not daemon.ready_file.read_text():
            assert process.poll() is None, daemon.log()
            assert time.monotonic() < deadline, daemon.log()
            time.sleep(0.05)
        daemon.url = json.loads(daemon.ready_file.read_text())["url"]
        made = httpx.post(
            f"{daemon.url}/api/repositories",
            json={"provider": "github", "owner": "octo", "name": "app", "clone_url": git.url},
            headers=daemon.headers(),
            timeout=15,
        )
        assert made.status_code == 201, made.text
        yield daemon, str(made.json()["id"])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def dashboard(running_daemon: tuple[Daemon, str], bridge: Bridge, screenshots: Path) -> Dashboard:
    daemon, repo_id = running_daemon
    return Dashboard(daemon, bridge, repo_id, screenshots)
