"""Webhook received → first script started, for one build at a time on a warm mirror.

Targets (pipelines and build execution issue): median <= 300 ms, p95 <= 600 ms over 100 builds of
a small local repository. Method: a real `oored run` (bench.common.daemon); a small git repository
served as a file:// clone URL with every commit made up front; one warm-up build fills the mirror.
Then, for each commit, a signed GitHub push is sent and the build is awaited to the end before
the next push, so nothing queues. The latency is from just before the HTTP POST to the moment the
first script's shell started (bash's $EPOCHREALTIME, printed to the build log) — one clock, this
machine's time.time(). The stages between come from the build's recorded timestamps
(milliseconds): planner started (created_at), workspace ready (started_at), script started.
Run: /tmp/venv/bin/python -m bench.build_latency [--builds 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.common import GIT_ENV, daemon, median_figures, summary_ms

SECRET = "bench-build-latency-secret"
OWNER, NAME, GITHUB_ID = "bench", "latency", 777
TARGETS = {"p50_ms": 300, "p95_ms": 600}
BUILD_TIMEOUT = 60.0
POLL = 0.02  # polling less often leaves the daemon its CPU (two cores here)
PIPELINE = """\
workflows:
  stamp:
    triggering:
      events: [push]
    scripts:
      - name: stamp
        script: |
          # bash >= 5 has the time without starting a process; otherwise ask python.
          now=${EPOCHREALTIME:-$(python3 -c 'import time; print(time.time())')}
          echo "script_started=$now"
"""
STAMP = re.compile(r"^script_started=(\d+[.,]\d+)$", re.M)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repository(path: Path, commits: int) -> list[str]:
    """A small repository with the pipeline file and `commits` commits; their shas, oldest first."""
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "codemagic.yaml").write_text(PIPELINE)
    for index in range(20):
        (path / f"src/file{index}.txt").parent.mkdir(exist_ok=True)
        (path / f"src/file{index}.txt").write_text(f"file {index}\n" * 50)
    git(path, "add", "--all")
    shas = []
    for number in range(commits):
        (path / "counter.txt").write_text(f"{number}\n")
        git(path, "add", "counter.txt")
        git(path, "commit", "--quiet", "-m", f"commit {number}")
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def push_body(sha: str, before: str) -> bytes:
    payload = {
        "ref": "refs/heads/main",
        "before": before,
        "after": sha,
        "created": False,
        "deleted": False,
        "repository": {
            "id": GITHUB_ID,
            "name": NAME,
            "full_name": f"{OWNER}/{NAME}",
            "owner": {"login": OWNER},
        },
        "pusher": {"name": "bench"},
        "head_commit": {"id": sha, "message": "bench", "author": {"name": "bench"}},
    }
    return json.dumps(payload).encode()


def headers_for(body: bytes) -> dict[str, str]:
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
    }


def poll(what: str, check: Any) -> Any:
    deadline = time.monotonic() + BUILD_TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(POLL)
    raise RuntimeError(f"timed out waiting for {what}")


def epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def one_build(api: httpx.Client, sha: str, before: str) -> dict[str, float]:
    """Push `sha`, wait for its build to finish; its latencies in seconds."""
    body = push_body(sha, before)
    headers = headers_for(body)
    sent = time.time()
    response = api.post("/api/webhooks/github", content=body, headers=headers)
    acknowledged = time.time()
    if response.status_code != 202:
        raise RuntimeError(f"webhook refused: {response.status_code} {response.text}")
    event_id = response.json()["event_id"]

    def build_id() -> str | None:
        event = api.get(f"/api/webhooks/events/{event_id}").raise_for_status().json()
        if event["state"] == "pending":
            return None
        if event["state"] != "processed" or len(event["builds"]) != 1:
            raise RuntimeError(f"event not built: {event['state']} {event['reason']}")
        return str(event["builds"][0]["id"])

    found = poll("the build to be created", build_id)

    def finished() -> dict[str, Any] | None:
        build = api.get(f"/api/builds/{found}").raise_for_status().json()
        return build if build["finished_at"] else None

    build = poll("the build to finish", finished)
    if build["status"] != "succeeded":
        raise RuntimeError(f"build {found} {build['status']}: {build['reason']}")
    log = api.get(f"/api/builds/{found}/log").raise_for_status().text
    stamp = STAMP.search(log)
    if stamp is None:
        raise RuntimeError(f"build {found}: no script_started line in its log")
    started_script = float(stamp[1].replace(",", "."))
    return {
        "latency": started_script - sent,
        "ack": acknowledged - sent,
        # A webhook build's created_at is stamped when the planner takes the trigger up, before
        # the fetch; started_at when the workspace is ready and the build turns running.
        "to_planning": epoch(build["created_at"]) - sent,
        "planning_to_running": epoch(build["started_at"]) - epoch(build["created_at"]),
        "running_to_script": started_script - epoch(build["started_at"]),
    }


def measure(builds: int, build_user: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="oore-bench-repo-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        shas = make_repository(repo, builds + 1)
        with daemon(**({"OORE_BUILD_USER": build_user} if build_user else {})) as running:
            auth = {"Authorization": f"Bearer {running.admin_token}"}
            with httpx.Client(base_url=running.url, headers=auth, timeout=30) as api:
                api.post(
                    "/api/repositories",
                    json={
                        "provider": "github",
                        "owner": OWNER,
                        "name": NAME,
                        "clone_url": repo.as_uri(),
                        "github_repo_id": GITHUB_ID,
                        "webhook_secret": SECRET,
                    },
                ).raise_for_status()
                warmup = one_build(api, shas[0], "0" * 40)  # creates and fills the mirror
                samples = [one_build(api, sha, shas[i]) for i, sha in enumerate(shas[1:])]
    figures: dict[str, Any] = summary_ms([s["latency"] for s in samples])
    figures["warmup_ms"] = round(warmup["latency"] * 1000, 1)
    for stage in ("ack", "to_planning", "planning_to_running", "running_to_script"):
        figures[f"{stage}_p50_ms"] = round(statistics.median(s[stage] for s in samples) * 1000, 1)
    figures["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--builds", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="fresh daemons; medians reported")
    parser.add_argument(
        "--build-user", help="run builds as this user (OORE_BUILD_USER; the daemon must be root)"
    )
    args = parser.parse_args()
    runs = [measure(args.builds, args.build_user) for _ in range(args.repeat)]
    median = median_figures(runs)
    p50, p95 = median["p50_ms"], median["p95_ms"]
    result = {
        "builds": args.builds,
        "repeat": args.repeat,
        "build_user": args.build_user,
        "cpus": os.cpu_count(),
        "targets": TARGETS,
        "targets_met": {
            "p50_ms": p50 is not None and p50 <= TARGETS["p50_ms"],
            "p95_ms": p95 is not None and p95 <= TARGETS["p95_ms"],
        },
        "median": median,
        "runs": runs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
