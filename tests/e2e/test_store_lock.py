"""Another process locking the database stalls a real daemon; it loses nothing and does not die.

A separate Python process opens `oore.db` and holds `BEGIN EXCLUSIVE` (as `sqlite3 oore.db` with a
long transaction does) while a build is running and webhooks arrive. Afterwards every delivery is
stored and processed, every build finished with its real status, and the daemon, still running,
exits 0 on SIGTERM. It used to exit 70 within seconds, marking a succeeded build errored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import BASE_ENV, SECRET, Ci, make_repo, push_payload
from tests.e2e.webhook_client import accepted_id

PIPELINE = """\
workflows:
  build:
    triggering:
      events: [push]
      branch_patterns:
        - pattern: '*'
    scripts:
      - name: first
        script: |
          echo started
          sleep 1
      - name: second
        script: echo second step ran
"""
DELIVERIES = 4
HOLDER = """\
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


@asynccontextmanager
async def ci_for(factory: type[Daemon], home: Path) -> AsyncIterator[Ci]:
    daemon = await factory(home, **BASE_ENV).start()
    # Deliveries sent during the lock are answered once it ends: wait longer than the lock.
    async with httpx.AsyncClient(base_url=daemon.url, timeout=60) as http:
        yield Ci(daemon, http)
    await daemon.stop()


async def hold_lock(
    database: Path, seconds: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Lock `database` from another process for `seconds`; ready once it holds the lock, and
    returns once it has committed (cancelling kills it, which ends its lock too)."""
    command = [sys.executable, "-c", HOLDER, str(database), str(seconds)]
    holder = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert holder.stdout is not None
    try:
        output = b""
        while not output.endswith(b"\n"):
            chunk = await holder.stdout.receive_some()
            assert chunk, output
            output += chunk
        assert output == b"locked\n"
        task_status.started()
        while chunk := await holder.stdout.receive_some():
            output += chunk
        # It committed: it held the database the whole time, and nobody broke its lock.
        assert output == b"locked\nreleased\n"
        assert await holder.wait() == 0
    finally:
        with trio.CancelScope(shield=True):
            holder.kill()
            await holder.wait()
            await holder.stdout.aclose()


@pytest.mark.parametrize("seconds", [5, 15])
async def test_an_external_lock_during_a_build_and_webhooks_loses_nothing(
    daemon_factory: type[Daemon], tmp_path: Path, seconds: float
) -> None:
    git = make_repo(tmp_path, "app", PIPELINE)
    sha = git.head()
    async with ci_for(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        running = await ci.trigger(repo, workflow="build", branch="main")
        await ci.log_match(running["id"], r"^started$")

        statuses: list[int] = []
        event_ids: list[str] = []

        async def deliver(n: int) -> None:
            payload = push_payload(repo, f"refs/heads/feature-{n}", sha)
            response = await ci.provider.github("push", json.dumps(payload).encode(), SECRET)
            statuses.append(response.status_code)
            event_ids.append(accepted_id(response))

        began = trio.current_time()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold_lock, ci.daemon.data_dir / "oore.db", seconds)
            for n in range(DELIVERIES):
                nursery.start_soon(deliver, n)
        assert trio.current_time() - began >= seconds  # the lock was held all along

        assert statuses == [202] * DELIVERIES
        # The build that was running through the lock finished as it would have without it.
        build = await ci.succeeded(running["id"])
        assert [step["status"] for step in build["steps"]] == ["succeeded", "succeeded"]
        assert "second step ran" in await ci.log(running["id"])
        # Every delivery that arrived during the lock was stored, processed and built.
        branches = set()
        for event_id in event_ids:
            event = await ci.operator.settled(event_id)
            assert event["state"] == "processed", event
            [made] = event["builds"]
            await ci.succeeded(made["id"])
            branches.add(made["branch"])
        assert branches == {f"feature-{n}" for n in range(DELIVERIES)}

        assert ci.daemon.process is not None
        assert ci.daemon.process.poll() is None
        log = ci.daemon.log()
        assert "is locked by another process" in log
        assert "Traceback" not in log
        assert "crashed" not in log
        assert await ci.daemon.stop() == 0


async def test_sigterm_while_the_database_is_locked_stops_the_daemon_within_its_grace(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    daemon = await daemon_factory(tmp_path, **BASE_ENV).start()  # a grace of 1 s
    async with httpx.AsyncClient(base_url=daemon.url, timeout=60) as http:
        async with trio.open_nursery() as nursery:
            await nursery.start(hold_lock, daemon.data_dir / "oore.db", 120)
            # A write that waits for the lock when the signal comes.
            nursery.start_soon(post_ignoring_errors, http, daemon)
            with trio.fail_after(10):
                while "is locked by another process" not in daemon.log():  # noqa: ASYNC110
                    await trio.sleep(0.05)
            began = trio.current_time()
            assert await daemon.stop(timeout=20) == 0
            assert trio.current_time() - began < 5  # not the store's 120 s patience
            nursery.cancel_scope.cancel()  # and the lock holder with it
    assert "stopped waiting for the locked database" in daemon.log()


async def post_ignoring_errors(http: httpx.AsyncClient, daemon: Daemon) -> None:
    body = {"name": "during the lock", "scope": "read"}
    try:
        await http.post("/api/tokens", json=body, headers=daemon.headers())
    except httpx.HTTPError:
        pass  # the daemon stopped before it could answer: the point of the test
