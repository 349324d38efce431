"""Shared fixtures: a real SQLite store, settings in a temporary data dir, a sealer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from oore.config import Settings, ensure_secrets, load_settings
from oore.crypto import Sealer, generate_key, parse_key
from oore.store.sqlite import SqliteStore, open_sqlite_store


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings as `oored run` would build them, in a data dir under tmp_path."""

    def make(**env: str) -> Settings:
        environ = {"HOME": str(tmp_path), "OORE_DATA_DIR": str(tmp_path / "data"), **env}
        return ensure_secrets(
            load_settings(environ, is_root=False, system_env_file=tmp_path / "absent.env")
        )

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(OORE_BIND="127.0.0.1:0")


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(parse_key(generate_key()))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with open_sqlite_store(tmp_path / "store" / "oore.db") as opened:
        yield opened
