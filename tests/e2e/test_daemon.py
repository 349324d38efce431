"""The whole daemon as a user runs it: `oored run` in a subprocess on 127.0.0.1."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import trio

from oore.crypto import generate_key
from tests.e2e.daemon import Daemon


async def test_health_and_version(client: httpx.AsyncClient) -> None:
    health = await client.get("/api/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert (await client.get("/api/version")).json()["version"]


async def test_sigterm_exits_zero_within_grace(daemon: Daemon) -> None:
    assert daemon.process is not None
    started = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    assert await daemon.wait_exit(timeout=10) == 0
    assert time.monotonic() - started < 5  # OORE_SHUTDOWN_GRACE
    assert "received SIGTERM" in daemon.log()


async def test_sigterm_lets_an_inflight_request_finish(daemon: Daemon) -> None:
    assert daemon.process is not None
    # A slow upload is in flight when SIGTERM arrives: it is answered, then the daemon exits 0.
    async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as http:

        async def slow_body():  # type: ignore[no-untyped-def]
            yield b"x" * 10
            await trio.sleep(0.5)
            yield b"y" * 10

        async def post() -> int:
            response = await http.post("/api/health", content=slow_body())
            return response.status_code

        results: list[int] = []
        async with trio.open_nursery() as nursery:

            async def run_post() -> None:
                results.append(await post())

            nursery.start_soon(run_post)
            await trio.sleep(0.2)
            daemon.process.send_signal(signal.SIGTERM)
    assert results == [405]  # answered (health takes GET), not dropped
    assert await daemon.wait_exit(timeout=10) == 0


async def test_admin_token_generated_once(daemon_factory: type[Daemon], tmp_path: Path) -> None:
    first = await daemon_factory(tmp_path).start()
    token = first.admin_token
    token_file = first.data_dir / "admin-token"
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert f"admin token is in {token_file}" in first.log()
    assert await first.stop() == 0
    second = await daemon_factory(tmp_path).start()
    assert second.admin_token == token
    assert await second.stop() == 0


async def test_changed_encryption_key_refuses_to_start(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    first = await daemon_factory(tmp_path, OORE_ENCRYPTION_KEY=generate_key()).start()
    assert await first.stop() == 0
    second = daemon_factory(tmp_path, OORE_ENCRYPTION_KEY=generate_key())
    second.spawn()
    assert await second.wait_exit(timeout=20) == 78
    assert "the key changed" in second.log()


async def test_non_loopback_bind_without_token_refused(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    refused = daemon_factory(tmp_path, OORE_BIND="0.0.0.0:0")
    refused.spawn()
    assert await refused.wait_exit(timeout=20) == 78
    assert "OORE_ADMIN_TOKEN: required when OORE_BIND is not a loopback address" in refused.log()


async def test_invalid_setting_names_key(daemon_factory: type[Daemon], tmp_path: Path) -> None:
    bad = daemon_factory(tmp_path, OORE_MAX_CONCURRENT_BUILDS="many", OORE_LOG_FORMAT="xml")
    bad.spawn()
    assert await bad.wait_exit(timeout=20) == 78
    log = bad.log()
    assert "OORE_MAX_CONCURRENT_BUILDS" in log
    assert "OORE_LOG_FORMAT" in log
    assert "Traceback" not in log


async def test_declared_oversized_body_is_413(daemon_factory: type[Daemon], tmp_path: Path) -> None:
    small = await daemon_factory(tmp_path, OORE_MAX_BODY_BYTES="1000").start()
    async with httpx.AsyncClient(base_url=small.url, timeout=10) as http:
        declared = await http.post("/api/health", content=b"x" * 2000)
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "payload_too_large"
    assert await small.stop() == 0


async def test_json_log_format(daemon_factory: type[Daemon], tmp_path: Path) -> None:
    import json

    running = await daemon_factory(tmp_path).start("--log-format", "json")
    assert await running.stop() == 0
    lines = [json.loads(line) for line in running.log().splitlines() if line.startswith("{")]
    messages = [entry["message"] for entry in lines]
    assert any("listening on" in m for m in messages)
    assert running.admin_token.strip() not in running.log()
