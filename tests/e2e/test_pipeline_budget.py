"""Hostile pipeline files against a real `oored run` (issue 10): reading one never stalls the
daemon, and a file with 10,000 workflows is one errored build, not 10,000 skipped ones."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import Ci, make_repo, running_ci
from tests.pipeline.hostile import anchors, many_workflows

HEALTH_LIMIT = 0.5  # seconds; reading the file on the event loop stalled health for 2.5 s


async def _health_latencies(ci: Ci, done: trio.Event, into: list[float]) -> None:
    while not done.is_set():
        started = time.monotonic()
        response = await ci.http.get("/api/health")
        into.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
        await trio.sleep(0.02)


async def test_validating_a_slow_file_does_not_stall_the_daemon(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    text = anchors()
    async with running_ci(daemon_factory, tmp_path) as ci:
        latencies: list[float] = []
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_health_latencies, ci, done, latencies)
            await trio.sleep(0.1)
            started = time.monotonic()
            response = await ci.http.post(
                "/api/pipelines/validate",
                content=text.encode(),
                headers=ci.daemon.headers() | {"Content-Type": "application/yaml"},
            )
            took = time.monotonic() - started
            done.set()
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["ok"] or "took longer than" in report["errors"][0]["message"], report
        assert took > 0.5, took  # slow enough that a stalled loop would show in health
        assert len(latencies) >= 5, latencies
        # On the event loop health waits for the whole reading; on a busy machine the daemon's
        # loop can lag a little, so the bound is also a share of the reading time.
        assert max(latencies) < max(HEALTH_LIMIT, took / 3), (max(latencies), took)


async def test_a_pushed_file_with_10000_workflows_is_one_errored_build(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", many_workflows(10_000))
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        made = await ci.push(repo, "main", git.head())
        assert list(made) == ["(pipeline)"], len(made)
        build = made["(pipeline)"]
        assert build["status"] == "errored"
        assert "10000 workflows: a file may define at most 100" in build["reason"]
        assert len(await ci.builds()) == 1
