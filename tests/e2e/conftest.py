from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.daemon import Daemon


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[type[Daemon]]:
    started: list[Daemon] = []

    class Tracked(Daemon):
        def spawn(self, *args: str):  # type: ignore[no-untyped-def]
            started.append(self)
            return super().spawn(*args)

    yield Tracked
    for daemon in started:
        daemon.kill()


@pytest.fixture
async def daemon(daemon_factory: type[Daemon], tmp_path: Path) -> AsyncIterator[Daemon]:
    running = await daemon_factory(tmp_path).start()
    yield running
    await running.stop()


@pytest.fixture
async def client(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:
        yield http
