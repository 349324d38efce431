"""Notifier in a real daemon: builds' whole finish path with and without 3 webhook targets.

The companion of bench/notifier.py (which times the store write alone, with 200 builds). Here a
real `oored run` (OORE_MAX_CONCURRENT_BUILDS=50) runs `--builds` builds at once of a pipeline
whose one script prints `script_ended=<time>` as its last act; the finish latency of a build is
from that moment to its recorded `finished_at` (the executor reaping the script, closing the
log, collecting artifacts and the store write with its outbox rows). Runs alternate between a
daemon with 3 global signed-webhook targets (one receiver in another process, bench.notifier's,
checking every signature and counting distinct Idempotency-Keys) and one without targets. With
targets, it also checks that every delivery (queued, started, succeeded: 3 per build per
target) arrived, and how long after the last build finished.
Target (issue 13): the build path never waits on the notifier: finish latency with targets
within 10 % of without (p50).
Run: .venv/bin/python -m bench.notify_daemon [--builds 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from bench.build_latency import git
from bench.common import daemon, median_figures, summary_ms
from bench.notifier import SECRET

TARGET_RATIO = 1.10
PIPELINE = """\
workflows:
  quick:
    scripts:
      - name: end
        script: |
          for i in $(seq 1 50); do echo "line $i"; done
          echo "script_ended=${EPOCHREALTIME}"
"""
STAMP = re.compile(r"^script_ended=(\d+[.,]\d+)$", re.M)


def epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def run_builds(
    url: str, token: str, repo: Path, builds: int, receiver: str | None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as api:
        answer = await api.post(
            "/api/repositories",
            json={
                "provider": "github",
                "owner": "bench",
                "name": "notify",
                "clone_url": repo.as_uri(),
                "github_repo_id": 4343,
                "webhook_secret": "bench-notify-daemon-secret",
            },
        )
        answer.raise_for_status()
        repository_id = answer.json()["id"]
        if receiver is not None:
            for index in range(3):
                target = {"url": f"{receiver}/hook/{index}", "secret": SECRET}
                (await api.post("/api/notifications/webhooks", json=target)).raise_for_status()
        # A warm-up build: the mirror is made and filled once, not by the measured ones.
        await _run(api, repository_id, 1)
        ids = await _run(api, repository_id, builds)
        latencies: list[float] = []
        last_finish = 0.0
        for build_id in ids:
            build = (await api.get(f"/api/builds/{build_id}")).json()
            assert build["status"] == "succeeded", build
            log = (await api.get(f"/api/builds/{build_id}/log")).text
            found = STAMP.search(log)
            assert found is not None, f"no script_ended line in {build_id}'s log"
            finished = epoch(build["finished_at"])
            latencies.append(finished - float(found[1].replace(",", ".")))
            last_finish = max(last_finish, finished)
    figures: dict[str, Any] = {f"finish_{k}": v for k, v in summary_ms(latencies).items()}
    if receiver is not None:
        expected = 3 * 3 * (builds + 1)
        keys = await _received(receiver, expected, 60.0)
        figures["deliveries"] = len(keys)
        figures["all_delivered_after_last_finish_s"] = round(max(keys.values()) - last_finish, 2)
    return figures


async def _run(api: httpx.AsyncClient, repository_id: str, count: int) -> list[str]:
    ids: list[str] = []

    async def ask() -> None:
        body = {"workflow": "quick", "branch": "main"}
        response = await api.post(f"/api/repositories/{repository_id}/builds", json=body)
        response.raise_for_status()
        ids.append(response.json()["id"])

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(ask)
    with trio.fail_after(300):
        for build_id in ids:
            while not (await api.get(f"/api/builds/{build_id}")).json()["finished_at"]:  # noqa: ASYNC110 - polling another process
                await trio.sleep(0.2)
    return ids


async def _received(receiver: str, count: int, within: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=receiver) as http:
        with trio.fail_after(within):
            while True:
                stats = (await http.get("/stats")).json()
                if stats["bad"]:
                    raise RuntimeError(f"{stats['bad']} deliveries were badly signed")
                if len(stats["keys"]) >= count:
                    return dict(stats["keys"])
                await trio.sleep(0.1)


def one_run(builds: int, with_targets: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="oore-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        git(repo, "init", "--quiet", "--initial-branch=main")
        (repo / "codemagic.yaml").write_text(PIPELINE)
        git(repo, "add", "--all")
        git(repo, "commit", "--quiet", "-m", "notify")
        port_file = Path(tmp) / "port"
        server = None
        receiver = None
        if with_targets:
            server = subprocess.Popen(
                [sys.executable, "-m", "bench.notifier", "--serve", str(port_file)]
            )
            deadline = time.monotonic() + 20
            while not (port_file.exists() and port_file.read_text()):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the receiver did not start")
                time.sleep(0.05)
            receiver = f"http://127.0.0.1:{port_file.read_text()}"
        try:
            settings = {
                "OORE_MAX_CONCURRENT_BUILDS": "50",
                "OORE_MIN_FREE_DISK": "0",
                "OORE_ALLOW_PRIVATE_PROVIDERS": "1",  # the receiver is on loopback
            }
            with daemon(**settings) as running:
                return trio.run(
                    run_builds, running.url, running.admin_token, repo, builds, receiver
                )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--builds", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for index in range(args.repeat):  # alternating order, so a busier moment hurts both alike
        order = (True, False) if index % 2 == 0 else (False, True)
        pair = {("with" if w else "without"): one_run(args.builds, w) for w in order}
        runs.append(pair)
    with_targets = median_figures([r["with"] for r in runs])
    without = median_figures([r["without"] for r in runs])
    ratios = [r["with"]["finish_p50_ms"] / r["without"]["finish_p50_ms"] for r in runs]
    ratio = round(statistics.median(ratios), 3)
    result = {
        "builds": args.builds,
        "finish_p50_ratio": ratio,
        "finish_p50_ratios": [round(r, 3) for r in ratios],
        "targets_met": {
            "finish_p50_ratio": ratio <= TARGET_RATIO,
            "all_delivered": all(
                r["with"]["deliveries"] == 3 * 3 * (args.builds + 1) for r in runs
            ),
        },
        "median_with_targets": with_targets,
        "median_without": without,
        "runs": runs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
