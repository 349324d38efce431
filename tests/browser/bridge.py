"""Playwright from trio tests: one asyncio loop in its own thread drives the browser.

Playwright's async API needs asyncio and its sync API a thread of its own, and trio tests run
neither; so the browser lives on an asyncio loop in a dedicated thread and tests hand it
coroutines (`Bridge.run`), waiting for them in a trio worker thread. One browser serves the
whole session; each test gets fresh contexts (cookies, colour scheme) from it.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import trio
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

T = TypeVar("T")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CALL_TIMEOUT = 60.0


def find_chromium() -> str | None:
    """Debian's chromium (the only browser on the machine: nothing is downloaded)."""
    found = shutil.which("chromium")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


class Bridge:
    def __init__(self, executable: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="playwright", daemon=True)
        self.thread.start()
        self._playwright: Playwright | None = None
        self.browser: Browser = self.call(self._launch(executable))

    async def _launch(self, executable: str) -> Browser:
        self._playwright = await async_playwright().start()
        return await self._playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )

    def call(self, coroutine: Awaitable[T]) -> T:
        """Run on the browser's loop and wait, blocking (for sync fixtures)."""
        future = asyncio.run_coroutine_threadsafe(_wrap(coroutine), self.loop)
        return future.result(CALL_TIMEOUT)

    async def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `function(*args)` on the browser's loop; wait without blocking trio."""
        future = asyncio.run_coroutine_threadsafe(_wrap(function(*args)), self.loop)
        return await trio.to_thread.run_sync(future.result, CALL_TIMEOUT, abandon_on_cancel=True)

    def close(self) -> None:
        async def stop() -> None:
            await self.browser.close()
            if self._playwright is not None:
                await self._playwright.stop()

        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable


class Tab:
    """One browser context and its page, used from trio through the bridge."""

    def __init__(self, bridge: Bridge, context: BrowserContext, page: Page, base: str) -> None:
        self.bridge = bridge
        self.context = context
        self.page = page
        self.base = base

    async def run(self, function: Callable[[Page], Awaitable[T]]) -> T:
        return await self.bridge.run(function, self.page)

    async def goto(self, path: str) -> str:
        async def go(page: Page) -> str:
            await page.goto(self.base + path)
            return page.url

        return await self.run(go)

    async def evaluate(self, script: str, argument: Any = None) -> Any:
        async def evaluate(page: Page) -> Any:
            return await page.evaluate(script, argument)

        return await self.run(evaluate)

    async def wait_for(self, selector: str, seconds: float = 30.0) -> None:
        """Until `selector` matches a visible element (Playwright bounds the wait)."""

        async def wait(page: Page) -> None:
            await page.wait_for_selector(selector, timeout=seconds * 1000)

        await self.run(wait)

    async def count(self, selector: str) -> int:
        async def count(page: Page) -> int:
            return await page.locator(selector).count()

        return await self.run(count)

    async def screenshot(self, path: Path) -> None:
        async def shoot(page: Page) -> None:
            await page.screenshot(path=str(path), full_page=True)

        await self.run(shoot)

    async def close(self) -> None:
        await self.bridge.run(self.context.close)
