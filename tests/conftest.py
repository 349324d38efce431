"""Shared fixtures: a real SQLite store, settings in a temporary data dir, a sealer."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from oore.config import Settings, load_settings
from oore.crypto import Sealer, generate_key, parse_key
from oore.secretfiles import ensure_secrets
from oore.store.sqlite import SqliteStore, open_sqlite_store


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings as `oored run` would build them, in a data dir under tmp_path."""

    def make(**env: str) -> Settings:
        environ = {
            "HOME": str(tmp_path),
            "OORE_DATA_DIR": str(tmp_path / "data"),
            "OORE_MIN_FREE_DISK": "0",  # a test machine short of disk must not hold builds
            **env,
        }
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


TEST_BUILD_USER = "oore-test-build"


@pytest.fixture(scope="session")
def build_user_name() -> str:
    """A real unprivileged user for builds (created once); skips where we are not root."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("running builds as another user needs root and useradd")
    exists = subprocess.run(["id", "-u", TEST_BUILD_USER], capture_output=True).returncode == 0
    if not exists:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                TEST_BUILD_USER,
            ],
            check=True,
        )
    return TEST_BUILD_USER


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary dir other users can traverse (pytest's tmp_path sits under a 0700 dir)."""
    path = Path(tempfile.mkdtemp(prefix="oore-test-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)
