"""`oored doctor` through the real executable, against real data dirs, databases and ports."""

from __future__ import annotations

import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from oore.config import load_settings
from oore.crypto import Sealer, parse_key
from oore.daemon import KEY_CHECK, KEY_FINGERPRINT, verify_key
from oore.store.sqlite import migrate, open_sqlite_store
from tests.service.oored import (
    OORED,
    Result,
    environment,
    oored,
    oored_calls,
    start_daemon,
    stop_daemon,
)

KEY_A = "a1" * 32
KEY_B = "b2" * 32


def test_fresh_data_dir_passes(tmp_path: Path) -> None:
    result = _doctor(tmp_path, OORE_BIND=f"127.0.0.1:{_free_port()}")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _by_name(result)
    for name in ("configuration", "git", "data dir", "encryption key"):
        assert lines[name].startswith("✓"), lines[name]
    assert lines["git"].startswith("✓ git: git version ")
    assert lines["disk space"][0] in "✓!"
    assert any(name.startswith("port ") and line.startswith("✓") for name, line in lines.items())


async def test_the_key_must_open_the_sealed_data(tmp_path: Path) -> None:
    await _seal_key_check(tmp_path, KEY_A)
    wrong, right, missing = oored_calls(
        [
            ([str(OORED), "doctor"], _doctor_env(tmp_path, OORE_ENCRYPTION_KEY=KEY_B)),
            ([str(OORED), "doctor"], _doctor_env(tmp_path, OORE_ENCRYPTION_KEY=KEY_A)),
            ([str(OORED), "doctor"], _doctor_env(tmp_path)),
        ]
    )
    assert wrong.returncode == 1
    assert _by_name(wrong)["encryption key"].startswith(
        "✗ encryption key: OORE_ENCRYPTION_KEY: this key cannot open the data sealed in "
    )
    assert right.returncode == 0, right.stdout
    assert _by_name(right)["encryption key"].startswith("✓ encryption key: opens the data sealed")
    assert missing.returncode == 1
    assert "no encryption key is configured, but" in _by_name(missing)["encryption key"]


def test_doctor_does_not_write_to_the_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "oore.db"
    migrate(database)
    result = _doctor(tmp_path, OORE_ENCRYPTION_KEY=KEY_A)
    assert result.returncode == 0, result.stdout
    assert "no key check stored yet" in _by_name(result)["encryption key"]
    # verify_key stores the key's fingerprint on first use; doctor must not have.
    with sqlite3.connect(database) as db:
        stored = "SELECT count(*) FROM meta WHERE key IN (?, ?)"
        assert db.execute(stored, [KEY_CHECK, KEY_FINGERPRINT]).fetchone() == (0,)


def test_port_taken_by_another_program_fails(tmp_path: Path) -> None:
    # Another web server: it answers, but not as oored's health endpoint does.
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        result = _doctor(tmp_path, OORE_BIND=f"127.0.0.1:{port}")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert _by_name(result)[f"port {port}"] == (
        f"✗ port {port}: 127.0.0.1:{port} is in use by another program; stop it or set OORE_BIND"
    )


def test_port_served_by_a_running_oored_passes(tmp_path: Path) -> None:
    env = environment(tmp_path, OORE_DATA_DIR=str(tmp_path / "data"))
    process, url = start_daemon(tmp_path, env=env)
    try:
        port = int(url.rsplit(":", 1)[1])
        result = _doctor(tmp_path, OORE_BIND=f"127.0.0.1:{port}")
    finally:
        assert stop_daemon(process) == 0
    assert result.returncode == 0, result.stdout
    lines = _by_name(result)
    assert lines[f"port {port}"].endswith("is served by a running oored (health ok)")
    # The running daemon's key (generated into the data dir) opens its own canary.
    assert lines["encryption key"].startswith("✓ encryption key: opens the data sealed")


def test_broken_configuration_is_reported(tmp_path: Path) -> None:
    result = _doctor(tmp_path, OORE_MAX_CONCURRENT_BUILDS="lots")
    assert result.returncode == 1
    assert result.stdout.startswith("✗ configuration: OORE_MAX_CONCURRENT_BUILDS: expected")


async def _seal_key_check(home: Path, key: str) -> None:
    """A database with the key fingerprint the daemon stores at first start, for `key`."""
    environ = {"OORE_DATA_DIR": str(home / "data"), "OORE_ENCRYPTION_KEY": key}
    settings = load_settings(environ, is_root=False, system_env_file=home / "absent.env")
    async with open_sqlite_store(settings.database_path) as store:
        await verify_key(store, Sealer(parse_key(key)), settings)


def _doctor(home: Path, **env: str) -> Result:
    return oored("doctor", env=_doctor_env(home, **env))


def _doctor_env(home: Path, **env: str) -> dict[str, str]:
    environ = environment(home, OORE_DATA_DIR=str(home / "data"), **env)
    environ.setdefault("OORE_BIND", f"127.0.0.1:{_free_port()}")
    return environ


def _by_name(result: Result) -> dict[str, str]:
    return {line[2:].split(":", 1)[0]: line for line in result.stdout.splitlines()}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_system_env_file() -> None:
    if Path("/etc/oore/oore.env").exists():
        pytest.skip("/etc/oore/oore.env exists here and would be read by oored doctor")


def test_says_builds_can_read_its_files_without_a_build_user(tmp_path: Path) -> None:
    lines = _by_name(_doctor(tmp_path, OORE_BIND=f"127.0.0.1:{_free_port()}"))
    assert lines["build user"].startswith("! build user: builds run as ")
    assert "can read its admin token, encryption key and database" in lines["build user"]


def test_names_the_build_user(tmp_path: Path, build_user_name: str) -> None:
    result = _doctor(
        tmp_path, OORE_BIND=f"127.0.0.1:{_free_port()}", OORE_BUILD_USER=build_user_name
    )
    assert _by_name(result)["build user"].startswith(
        f"✓ build user: builds run as {build_user_name}"
    )


def test_an_unknown_build_user_fails(tmp_path: Path) -> None:
    result = _doctor(tmp_path, OORE_BIND=f"127.0.0.1:{_free_port()}", OORE_BUILD_USER="nobody-x")
    assert result.returncode == 1
    assert _by_name(result)["build user"].startswith("✗ build user: OORE_BUILD_USER: no user")
