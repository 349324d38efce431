"""A long run of webhooks, builds and log viewers: memory, file descriptors, processes.

Targets (issue 15): over a 10-minute soak, RSS growth <= 10 % after warm-up, no leaked file
descriptors or processes. Method: a real `oored run` (OORE_MAX_CONCURRENT_BUILDS=4) and a local
repository whose build prints 400 lines over ~2 s. For `--minutes`, the benchmark sends signed
GitHub pushes (`--pushes-per-s`, each a build), webhooks the daemon must refuse (a bad
signature, an unknown repository) and pings, follows every build's log over a WebSocket from
start to end (two viewers each), keeps one `/api/events` WebSocket open and reconnects another
every 10 s. Every 10 s it samples the daemon's RSS, open file descriptors and descendant
processes. Warm-up is the first `--warmup` minutes: growth is the last minute's median RSS
against the median of the minute after warm-up. After the load stops and the queue drains, the
daemon's file descriptors must be back to what they were after warm-up (within 5) and no
process it started may be left.
Run: .venv/bin/python -m bench.soak [--minutes 10] [--warmup 2] [--pushes-per-s 1]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from bench.build_latency import GITHUB_ID, NAME, OWNER, SECRET, git, push_body
from bench.common import daemon, rss_mib

PIPELINE = """\
workflows:
  soak:
    triggering:
      events: [push]
    scripts:
      - name: print
        script: |
          for i in $(seq 1 400); do echo "soak line $i: $(date +%s%N)"; done
          sleep 2
"""


def make_repository(path: Path, commits: int) -> list[str]:
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "codemagic.yaml").write_text(PIPELINE)
    git(path, "add", "--all")
    shas = []
    for number in range(commits):
        (path / "counter.txt").write_text(f"{number}\n")
        git(path, "add", "counter.txt")
        git(path, "commit", "--quiet", "-m", f"commit {number}")
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def signed(body: bytes, event: str = "push", secret: str = SECRET) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
    }


def descendants(pid: int) -> list[int]:
    """Every live process whose parent chain reaches `pid`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found = []
    for child in parents:
        ancestor = parents.get(child)
        while ancestor is not None and ancestor > 1:
            if ancestor == pid:
                found.append(child)
                break
            ancestor = parents.get(ancestor)
    return found


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Load:
    def __init__(self, url: str, token: str, shas: list[str]) -> None:
        self.url, self.token, self.shas = url, token, shas
        self.ws_url = url.replace("http://", "ws://")
        self.auth = [("Authorization", f"Bearer {token}")]
        self.counts = {"pushes": 0, "refused": 0, "viewed": 0, "viewer_errors": 0, "events": 0}
        self.watching: set[str] = set()

    async def send(self, api: httpx.AsyncClient, stop: float, rate: float) -> None:
        index = 0
        while time.monotonic() < stop:
            sha = self.shas[index % len(self.shas)]
            before = self.shas[index % len(self.shas) - 1]
            body = push_body(sha, before)
            answer = await api.post("/api/webhooks/github", content=body, headers=signed(body))
            assert answer.status_code == 202, answer.text
            self.counts["pushes"] += 1
            # The daemon must refuse these: a bad signature, then a repository it does not know.
            bad = await api.post(
                "/api/webhooks/github", content=body, headers=signed(body, secret="wrong")
            )
            payload = json.loads(body)
            payload["repository"] |= {"id": 999999, "name": "stranger"}
            payload["repository"]["full_name"] = f"{OWNER}/stranger"
            stranger = json.dumps(payload).encode()
            unknown = await api.post(
                "/api/webhooks/github", content=stranger, headers=signed(stranger)
            )
            self.counts["refused"] += (bad.status_code == 401) + (unknown.status_code >= 400)
            index += 1
            await trio.sleep(1 / rate)

    async def watch_builds(
        self, api: httpx.AsyncClient, stop: float, nursery: trio.Nursery
    ) -> None:
        """Two viewers follow each new build's log from the start to its end."""
        while time.monotonic() < stop + 120:
            page = (await api.get("/api/builds", params={"limit": "20"})).json()["items"]
            for build in page:
                if build["id"] not in self.watching and build["status"] not in ("skipped",):
                    self.watching.add(build["id"])
                    for _ in range(2):
                        nursery.start_soon(self.view, build["id"])
            if time.monotonic() > stop and all(b["finished_at"] for b in page):
                return
            await trio.sleep(0.5)

    async def view(self, build_id: str) -> None:
        try:
            async with open_websocket_url(
                f"{self.ws_url}/api/builds/{build_id}/logs/stream",
                extra_headers=[(k.encode(), v.encode()) for k, v in self.auth],
                max_message_size=16 * 1024 * 1024,
            ) as ws:
                with trio.fail_after(120):
                    while True:
                        await ws.get_message()
        except ConnectionClosed:
            self.counts["viewed"] += 1
        except Exception:
            self.counts["viewer_errors"] += 1

    async def events(self, stop: float, reconnect_every: float | None) -> None:
        while time.monotonic() < stop:
            until = stop if reconnect_every is None else time.monotonic() + reconnect_every
            async with open_websocket_url(
                f"{self.ws_url}/api/events",
                extra_headers=[(k.encode(), v.encode()) for k, v in self.auth],
            ) as ws:
                with trio.move_on_after(until - time.monotonic()):  # trio's clock is not ours
                    while True:
                        await ws.get_message()
                        self.counts["events"] += 1


async def soak(running: Any, shas: list[str], args: argparse.Namespace) -> dict[str, Any]:
    pid = running.pid
    headers = {"Authorization": f"Bearer {running.admin_token}"}
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    stop = started + args.minutes * 60
    async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=30) as api:
        answer = await api.post(
            "/api/repositories",
            json={
                "provider": "github",
                "owner": OWNER,
                "name": NAME,
                "clone_url": args.repo.as_uri(),
                "github_repo_id": GITHUB_ID,
                "webhook_secret": SECRET,
            },
        )
        answer.raise_for_status()
        load = Load(running.url, running.admin_token, shas)

        async def sample() -> None:
            while True:
                samples.append(
                    {
                        "t": round(time.monotonic() - started, 1),
                        "rss_mib": round(rss_mib(pid), 1),
                        "fds": open_fds(pid),
                        "processes": len(descendants(pid)),
                    }
                )
                await trio.sleep(10)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample)
            async with trio.open_nursery() as work:
                work.start_soon(load.send, api, stop, args.pushes_per_s)
                work.start_soon(load.events, stop, None)
                work.start_soon(load.events, stop, 10.0)
                work.start_soon(load.watch_builds, api, stop, work)
            nursery.cancel_scope.cancel()
        await trio.sleep(3)  # let finished builds' processes be reaped
        builds = await _all_builds(api)
    warm = [s for s in samples if args.warmup * 60 <= s["t"] < (args.warmup + 1) * 60]
    last = [s for s in samples if s["t"] >= args.minutes * 60 - 60 and s["t"] < args.minutes * 60]
    after_warmup = statistics.median(s["rss_mib"] for s in warm) if warm else None
    at_end = statistics.median(s["rss_mib"] for s in last) if last else None
    growth = None
    if after_warmup and at_end:
        growth = round((at_end - after_warmup) / after_warmup * 100, 1)
    fds_warm = statistics.median(s["fds"] for s in warm) if warm else None
    fds_end = open_fds(pid)
    left = descendants(pid)
    statuses: dict[str, int] = {}
    for build in builds:
        statuses[build["status"]] = statuses.get(build["status"], 0) + 1
    return {
        "minutes": args.minutes,
        **load.counts,
        "builds": len(builds),
        "build_statuses": statuses,
        "rss_after_warmup_mib": after_warmup,
        "rss_last_minute_mib": at_end,
        "rss_peak_mib": max(s["rss_mib"] for s in samples),
        "rss_growth_pct": growth,
        "fds_after_warmup": fds_warm,
        "fds_after_drain": fds_end,
        "processes_left": len(left),
        "samples": samples,
    }


async def _all_builds(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/builds", params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--pushes-per-s", type=float, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oore-bench-repo-") as tmp:
        args.repo = Path(tmp) / "repo"
        args.repo.mkdir()
        shas = make_repository(args.repo, 50)
        settings = {"OORE_MAX_CONCURRENT_BUILDS": "4", "OORE_MIN_FREE_DISK": "0"}
        with daemon(**settings) as running:
            result = trio.run(soak, running, shas, args)
    growth = result["rss_growth_pct"]
    result["targets_met"] = {
        "rss_growth_le_10pct": growth is not None and growth <= 10,
        "no_leaked_fds": result["fds_after_warmup"] is not None
        and result["fds_after_drain"] <= result["fds_after_warmup"] + 5,
        "no_leaked_processes": result["processes_left"] == 0,
        "no_stuck_builds": set(result["build_statuses"]) <= {"succeeded", "cancelled"},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
