"""An in-process daemon minus its sockets, for handler-level tests (e2e tests use a real one).

The app is wired exactly as `oored run` wires it (`oore.wiring.wire`, on a real store) and its
actors run beside it: a manual trigger reaches the real build queue, a webhook goes through the
same ASGI receivers hypercorn serves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
from quart_trio import QuartTrio

from oore.config import Settings
from oore.crypto import Sealer
from oore.execution.identity import build_user
from oore.http.app import create_app
from oore.http.services import Services
from oore.paths import DataPaths
from oore.store.sqlite import SqliteStore
from oore.wiring import Wiring, wire


@pytest.fixture
def wiring(settings: Settings, store: SqliteStore, sealer: Sealer) -> Wiring:
    user = build_user(settings.build_user, DataPaths(settings.data_dir).build_home)
    return wire(settings, store, sealer, user)


@pytest.fixture
def services(wiring: Wiring) -> Services:
    return wiring.services


@pytest.fixture
async def actors(wiring: Wiring) -> AsyncIterator[None]:
    """The daemon's actors, running until the test ends."""
    async with trio.open_nursery() as nursery:
        await nursery.start(wiring.supervisor.run)
        yield
        nursery.cancel_scope.cancel()


@pytest.fixture
async def app(services: Services, actors: None) -> AsyncIterator[QuartTrio]:
    application = create_app(services)
    async with application.test_app():
        yield application
