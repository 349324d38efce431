"""The dashboard's builds list page with 10,000 builds stored.

Target (issue 14): with 10,000 builds stored, `GET /builds` (the HTML page, 50 builds) p99
<= 50 ms. Method: as bench/stored_builds.py, a real `oored run` makes a fresh data dir and
stops; its `seed` writes 10,000 finished builds through the project's own store; the daemon
starts again on that data. The client signs in through `POST /login` (the session cookie), then
asks on one keep-alive connection, one request at a time: the first page with no filter, by
repository, by status and by branch (chosen at random), and following the "Older" link 10 pages
deep, for `--seconds` each after 50 warm-up requests. Times are taken at the client on
loopback: the server's time plus one local round trip.
Run: .venv/bin/python -m bench.dashboard [--builds 10000] [--seconds 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from bench import stored_builds as stored
from bench.common import daemon, median_figures, summary_ms, targets_met
from bench.stored_builds import BRANCHES, seed

TARGETS = {"list_p99_ms": 50}
ROW = 'data-build-id="'
OLDER = re.compile(r'rel="next" href="([^"]+)"')


async def measure(
    url: str, token: str, repository_ids: list[str], seconds: float
) -> dict[str, Any]:
    rng = random.Random(14)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        signed_in = await client.post("/login", data={"token": token})
        assert signed_in.status_code == 303, signed_in.text
        assert client.cookies.get("oore_session"), "no session cookie"

        async def timed(path: str, params: dict[str, str] | None = None) -> tuple[float, str]:
            started = time.perf_counter()
            response = await client.get(path, params=params)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (path, response.status_code)
            return elapsed, response.text

        def filters() -> dict[str, str]:
            choice = rng.randrange(4)
            if choice == 1:
                return {"repository": rng.choice(repository_ids)}
            if choice == 2:
                return {"status": "failed"}
            if choice == 3:
                return {"branch": rng.choice(BRANCHES)}
            return {}

        for _ in range(50):  # warm-up: connection, template compilation, caches
            await timed("/builds", filters())

        lists: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            elapsed, page = await timed("/builds", filters())
            assert page.count(ROW) == 50, "the page is short: not every build was stored"
            lists.append(elapsed)
        deep: list[float] = []
        deadline = time.monotonic() + seconds / 2
        while time.monotonic() < deadline:
            path = "/builds"
            for _ in range(10):
                elapsed, page = await timed(path)
                deep.append(elapsed)
                older = OLDER.search(page)
                assert older is not None
                path = older[1].replace("&amp;", "&")
    result: dict[str, Any] = {"page_kib": round(len(page.encode()) / 1024, 1)}
    for name, values in (("list", lists), ("paging", deep)):
        for key, value in summary_ms(values).items():
            result[f"{name}_{key}"] = value
    return result


def one_run(builds: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="oore-bench-") as tmp:
        home = Path(tmp)
        with daemon(home):
            pass  # the data dir, its database and the admin token
        ids = trio.run(seed, home / "data" / "oore.db", builds)
        with daemon(home) as running:
            repository_ids = stored.repositories_of(running.url, running.admin_token)
            figures = trio.run(measure, running.url, running.admin_token, repository_ids, seconds)
            figures["rss_mib"] = round(running.rss_mib(), 1)
    return {"builds": len(ids), **figures}


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
