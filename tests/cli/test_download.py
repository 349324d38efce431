"""`oore build download`: resumes a partial file with Range, checks sha256 (against the
server's X-Checksum-SHA256 and the build's artifact list), and keeps a bad file as .partial."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import trio

from oore.cli.client.errors import ExitCode
from tests.cli.conftest import ARTIFACT, Registered
from tests.cli.harness import Oore, one_line_error
from tests.e2e.daemon import Daemon


def package(runner: Oore, repo: Registered) -> dict[str, Any]:
    """A finished `package` build's app.bin artifact, as the build lists it."""
    done = runner.run_sync("--json", "build", "trigger", repo.full_name, "-w", "package", "--wait")
    assert done.code == 0, done.err
    build_id = done.json()["id"]
    listed = runner.run_sync("--json", "build", "artifacts", build_id)
    app = next(a for a in listed.json()["items"] if a["name"] == "app.bin")
    assert app["sha256"] == hashlib.sha256(ARTIFACT).hexdigest()
    return {"build": build_id, **app}


@pytest.fixture(scope="module")
def packaged(
    server: Daemon, app_repo: Registered, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    runner = Oore(
        tmp_path_factory.mktemp("package"),
        {"OORE_SERVER": server.url, "OORE_TOKEN": server.admin_token.strip()},
    )
    return package(runner, app_repo)


async def test_download_checks_the_servers_checksum(
    oore: Oore, packaged: dict[str, Any], tmp_path: Path
) -> None:
    result = await oore("build", "download", packaged["id"], "-o", str(tmp_path))
    assert result.code == 0, result.err
    assert (tmp_path / "app.bin").read_bytes() == ARTIFACT  # named as the server says
    assert not (tmp_path / "app.bin.partial").exists()
    assert result.out.startswith(f"saved {tmp_path / 'app.bin'} (300.0 KiB, sha256 ")


async def test_a_partial_download_is_resumed(
    oore: Oore, packaged: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "app.bin"
    half = len(ARTIFACT) // 2
    target.with_name("app.bin.partial").write_bytes(ARTIFACT[:half])
    result = await oore(
        *("--json", "build", "download", packaged["id"], "-o", str(target)),
        *("--build", packaged["build"]),
    )
    assert result.code == 0, result.err
    assert result.json() == {
        "artifact_id": packaged["id"],
        "path": str(target),
        "size": len(ARTIFACT),
        "sha256": packaged["sha256"],
        "resumed_from": half,
    }
    assert target.read_bytes() == ARTIFACT
    assert not target.with_name("app.bin.partial").exists()


async def test_a_corrupt_partial_fails_the_checksum_and_is_kept(
    oore: Oore, packaged: dict[str, Any], tmp_path: Path
) -> None:
    # Only a client that resumes (sends Range) ends up with these wrong first bytes; one that
    # downloaded everything again would succeed, and this test would fail.
    target = tmp_path / "app.bin"
    partial = target.with_name("app.bin.partial")
    half = len(ARTIFACT) // 2
    partial.write_bytes(bytes(b ^ 0xFF for b in ARTIFACT[:half]))
    result = await oore("build", "download", packaged["id"], "-o", str(target))
    assert result.code == ExitCode.CHECKSUM
    message = one_line_error(result)
    assert message.startswith("oore: app.bin does not match its checksum (expected sha256 ")
    assert f"kept as {partial}" in message
    assert not target.exists()
    assert partial.stat().st_size == len(ARTIFACT)


async def test_a_changed_artifact_on_the_server_is_caught(
    oore: Oore, server: Daemon, app_repo: Registered, tmp_path: Path
) -> None:
    own = await trio.to_thread.run_sync(package, oore, app_repo)  # this test spoils its file
    # The file on disk no longer matches what the server recorded (and sends as its checksum).
    stored = [p for p in (server.data_dir / "artifacts").rglob("app.bin") if own["build"] in str(p)]
    assert len(stored) == 1
    stored[0].write_bytes(ARTIFACT[:-1] + b"\x00")
    result = await oore("build", "download", own["id"], "-o", str(tmp_path / "x.bin"))
    assert result.code == ExitCode.CHECKSUM
    assert "does not match its checksum" in one_line_error(result)
    assert (tmp_path / "x.bin.partial").exists()
    assert not (tmp_path / "x.bin").exists()
