"""Reading builds when many are stored: the build list and one build, with 10,000 builds.

Targets (issue 15): with 10,000 builds stored, `GET /api/builds?limit=50` p99 <= 20 ms and
`GET /api/builds/{id}` p99 <= 10 ms. Method: a real `oored run` starts once on a fresh data dir
(it makes the database and the admin token) and stops; the benchmark then writes 10,000 finished
builds (4 steps each, spread over 10 repositories and 3 workflows) through the project's own
store, and starts the daemon again on that data. One client on one keep-alive connection asks,
one request at a time: the first pages of the list (no filter, by repository, by status, by
branch, and following `next_cursor` down 20 pages), and builds picked at random, for
`--seconds` each after 100 warm-up requests.
Run: .venv/bin/python -m bench.stored_builds [--builds 10000] [--seconds 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from bench.common import daemon, median_figures, summary_ms, targets_met
from oore.ids import new_id
from oore.model import (
    Build,
    BuildStatus,
    Provider,
    Repository,
    Step,
    StepStatus,
    Trigger,
    TriggerKind,
    utcnow,
)
from oore.store.base import RepositorySecrets
from oore.store.sqlite import open_sqlite_store

TARGETS = {"list_p99_ms": 20, "detail_p99_ms": 10}
REPOSITORIES = 10
WORKFLOWS = ("android", "ios", "web")
BRANCHES = ("main", "develop", "feature/login", "release/2.0")
OUTCOMES = (BuildStatus.SUCCEEDED,) * 7 + (BuildStatus.FAILED, BuildStatus.CANCELLED)


async def seed(database: Path, builds: int) -> list[str]:
    """`builds` finished builds with their steps; their ids."""
    rng = random.Random(15)
    ids: list[str] = []
    async with open_sqlite_store(database) as store:
        repositories = []
        for n in range(REPOSITORIES):
            repo = Repository(
                id=new_id(),
                provider=Provider.GITHUB,
                owner="bench",
                name=f"app-{n}",
                clone_url=f"file:///nonexistent/app-{n}.git",
                github_repo_id=9000 + n,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            await store.create_repository(repo, RepositorySecrets(None, None))
            repositories.append(repo)

        async def one(index: int) -> None:
            repo = repositories[index % REPOSITORIES]
            trigger = Trigger(
                provider=Provider.GITHUB,
                kind=TriggerKind.PUSH,
                repo_owner=repo.owner,
                repo_name=repo.name,
                sha=f"{rng.getrandbits(160):040x}",
                branch=rng.choice(BRANCHES),
                author="bench",
                message=f"change {index}",
            )
            build = Build.queued(repo.id, rng.choice(WORKFLOWS), trigger)
            status = rng.choice(OUTCOMES)
            started = utcnow()
            build = dataclasses.replace(
                build, status=status, started_at=started, finished_at=utcnow()
            )
            created = await store.create_build(build)
            steps = [
                Step(
                    id=new_id(),
                    build_id=created.id,
                    index=i,
                    name=name,
                    status=StepStatus.SUCCEEDED,
                    started_at=started,
                    finished_at=started,
                    exit_code=0,
                )
                for i, name in enumerate(("Get packages", "Test", "Build", "Publish"))
            ]
            await store.create_steps(steps)
            ids.append(created.id)

        # Writers in parallel: the engine commits what waits together, as under real load.
        for start in range(0, builds, 200):
            async with trio.open_nursery() as nursery:
                for index in range(start, min(builds, start + 200)):
                    nursery.start_soon(one, index)
    return ids


async def measure(
    url: str, token: str, ids: list[str], repository_ids: list[str], seconds: float
) -> dict[str, Any]:
    rng = random.Random(1)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:

        async def timed(path: str, params: dict[str, str] | None = None) -> tuple[float, Any]:
            started = time.perf_counter()
            response = await client.get(path, params=params)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            return elapsed, response.json()

        def list_query() -> dict[str, str]:
            choice = rng.randrange(4)
            if choice == 0:
                return {"limit": "50"}
            if choice == 1:
                return {"limit": "50", "repository": rng.choice(repository_ids)}
            if choice == 2:
                return {"limit": "50", "status": "failed"}
            return {"limit": "50", "branch": rng.choice(BRANCHES)}

        for _ in range(100):  # warm-up: connection, caches, the daemon's first requests
            await timed("/api/builds", list_query())
            await timed(f"/api/builds/{rng.choice(ids)}")

        lists: list[float] = []
        deep: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            elapsed, page = await timed("/api/builds", list_query())
            assert len(page["items"]) == 50, "the list is short: not every build was stored"
            lists.append(elapsed)
        # Paging down: each next page by cursor, 20 deep, repeated.
        deadline = time.monotonic() + seconds / 2
        while time.monotonic() < deadline:
            cursor = None
            for _ in range(20):
                params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
                elapsed, page = await timed("/api/builds", params)
                deep.append(elapsed)
                cursor = page["next_cursor"]
        details: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            elapsed, build = await timed(f"/api/builds/{rng.choice(ids)}")
            assert len(build["steps"]) == 4
            details.append(elapsed)
    result: dict[str, Any] = {}
    for name, values in (("list", lists), ("paging", deep), ("detail", details)):
        for key, value in summary_ms(values).items():
            result[f"{name}_{key}"] = value
    return result


def one_run(builds: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="oore-bench-") as tmp:
        home = Path(tmp)
        with daemon(home):
            pass  # the data dir, its database and the admin token
        started = time.perf_counter()
        ids = trio.run(seed, home / "data" / "oore.db", builds)
        seeded = time.perf_counter() - started
        with daemon(home) as running:
            repository_ids = repositories_of(running.url, running.admin_token)
            figures = trio.run(
                measure, running.url, running.admin_token, ids, repository_ids, seconds
            )
            figures["rss_mib"] = round(running.rss_mib(), 1)
    return {"builds": len(ids), "seed_s": round(seeded, 1), **figures}


def repositories_of(url: str, token: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.get(f"{url}/api/repositories", headers=headers, timeout=10)
    answer.raise_for_status()
    return [item["id"] for item in answer.json()["items"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--builds", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.builds, args.seconds) for _ in range(args.repeat)]
    medians = median_figures(runs)
    verdict = targets_met(medians, TARGETS)
    print(json.dumps({"runs": runs, "median": medians, "targets_met": verdict}, indent=2))


if __name__ == "__main__":
    main()
