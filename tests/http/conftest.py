"""An in-process app on a real store, for handler-level tests (e2e tests use a real daemon)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart_trio import QuartTrio

from oore.config import Settings
from oore.crypto import Sealer
from oore.http.app import create_app
from oore.http.services import Services
from oore.store.sqlite import SqliteStore


@pytest.fixture
def services(settings: Settings, store: SqliteStore, sealer: Sealer) -> Services:
    return Services(settings=settings, store=store, sealer=sealer)


@pytest.fixture
async def app(services: Services) -> AsyncIterator[QuartTrio]:
    application = create_app(services)
    async with application.test_app():
        yield application
