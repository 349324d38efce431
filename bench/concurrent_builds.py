"""Many builds at once: the concurrency limit holds and the daemon stays responsive.

Targets (issue 15): 50 builds started together; never more running than
OORE_MAX_CONCURRENT_BUILDS; `/api/health` p99 <= 50 ms while they run. Method: a real
`oored run` with the limit set (`--limit`, 50 by default, so all 50 run at once; a smaller limit
shows the queue at work), a local repository whose one script prints a line every 50 ms for
`--script-seconds` (so builds write logs the whole time), 50 manual builds asked for at once
through the API, and a probe asking `/api/health` every 20 ms on its own connection from the
first request until the last build has finished. Concurrency is read back from the builds'
recorded start and end times.
Run: .venv/bin/python -m bench.concurrent_builds [--builds 50] [--limit 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from bench.build_latency import git
from bench.common import cpu_seconds, daemon, median_figures, peak_rss_mib, summary_ms

TARGETS = {"health_p99_ms": 50}
PIPELINE = """\
workflows:
  busy:
    scripts:
      - name: print
        script: |
          for i in $(seq 1 {lines}); do echo "line $i of a busy build"; sleep 0.05; done
"""


def make_repository(path: Path, script_seconds: float) -> None:
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "codemagic.yaml").write_text(PIPELINE.format(lines=int(script_seconds / 0.05)))
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "busy")


def epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in edges:  # an end sorts before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


async def run_builds(url: str, token: str, repo: Path, builds: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api:
        answer = await api.post(
            "/api/repositories",
            json={
                "provider": "github",
                "owner": "bench",
                "name": "busy",
                "clone_url": repo.as_uri(),
                "github_repo_id": 4242,
                "webhook_secret": "bench-concurrent-builds",
            },
        )
        answer.raise_for_status()
        repository_id = answer.json()["id"]
        health: list[float] = []
        failures = 0
        done = trio.Event()

        async def probe() -> None:
            nonlocal failures
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    response = await client.get("/api/health")
                    health.append(time.perf_counter() - started)
                    failures += response.status_code != 200
                    await trio.sleep(0.02)

        ids: list[str] = []

        async def ask() -> None:
            body = {"workflow": "busy", "branch": "main"}
            response = await api.post(f"/api/repositories/{repository_id}/builds", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])

        started = time.monotonic()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(probe)
            async with trio.open_nursery() as askers:
                for _ in range(builds):
                    askers.start_soon(ask)
            finished: dict[str, dict[str, Any]] = {}
            while len(finished) < builds:
                await trio.sleep(0.5)
                for build_id in ids:
                    if build_id not in finished:
                        build = (await api.get(f"/api/builds/{build_id}")).json()
                        if build["finished_at"]:
                            finished[build_id] = build
            done.set()
        wall = time.monotonic() - started
    outcomes: dict[str, int] = {}
    for build in finished.values():
        outcomes[build["status"]] = outcomes.get(build["status"], 0) + 1
    intervals = [(epoch(b["started_at"]), epoch(b["finished_at"])) for b in finished.values()]
    return {
        "wall_s": round(wall, 1),
        "most_running_at_once": most_at_once(intervals),
        "succeeded": outcomes.get("succeeded", 0),
        "outcomes": outcomes,
        "health_errors": failures,
        **{f"health_{k}": v for k, v in summary_ms(health).items()},
    }


def one_run(builds: int, limit: int, script_seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="oore-bench-repo-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        make_repository(repo, script_seconds)
        settings = {"OORE_MAX_CONCURRENT_BUILDS": str(limit), "OORE_MIN_FREE_DISK": "0"}
        with daemon(**settings) as running:
            cpu_before = cpu_seconds(running.pid)
            figures = trio.run(run_builds, running.url, running.admin_token, repo, builds)
            figures["daemon_cpu_s"] = round(cpu_seconds(running.pid) - cpu_before, 1)
            figures["peak_rss_mib"] = round(peak_rss_mib(running.pid), 1)
    figures["limit"] = limit
    figures["limit_honoured"] = figures["most_running_at_once"] <= limit
    figures["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--builds", type=int, default=50)
    parser.add_argument("--limit", type=int, default=50, help="OORE_MAX_CONCURRENT_BUILDS")
    parser.add_argument("--script-seconds", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.builds, args.limit, args.script_seconds) for _ in range(args.repeat)]
    medians = median_figures(runs)
    p99 = medians.get("health_p99_ms")
    met = {
        "health_p99_ms": p99 is not None and p99 <= TARGETS["health_p99_ms"],
        "limit_honoured": all(run["limit_honoured"] for run in runs),
        "all_succeeded": all(run["succeeded"] == args.builds for run in runs),
    }
    print(json.dumps({"runs": runs, "median": medians, "targets_met": met}, indent=2))


if __name__ == "__main__":
    main()
