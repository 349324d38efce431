"""Idle memory of `oored run` and /api/health latency under 16 concurrent connections.

Targets: idle RSS <= 60 MiB (issue 15; it was 80 in issue 2). Reported: health p50/p99 and
requests/s over 10 s.
Run: .venv/bin/python -m bench.idle_health [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import time

import httpx
import trio

from bench.common import daemon, summary_ms

# The issue says "60 MB (62 today)", its 62 being the 62.3 MiB this benchmark printed then.
TARGET_IDLE_RSS_MIB = 60


async def load(url: str, connections: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await client.get("/api/health")
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        async with trio.open_nursery() as nursery:
            for _ in range(connections):
                nursery.start_soon(worker, client)
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--settle", type=float, default=3, help="idle seconds before measuring")
    args = parser.parse_args()
    with daemon() as running:
        time.sleep(args.settle)
        idle_rss = running.rss_mib()
        latencies, errors = trio.run(load, running.url, args.connections, args.seconds)
        loaded_rss = running.rss_mib()
    result = {
        "idle_rss_mib": round(idle_rss, 1),
        "rss_after_load_mib": round(loaded_rss, 1),
        "connections": args.connections,
        "seconds": args.seconds,
        "requests_per_s": round(len(latencies) / args.seconds, 1),
        "errors": errors,
        **summary_ms(latencies),
    }
    result["targets_met"] = {"idle_rss_mib": idle_rss <= TARGET_IDLE_RSS_MIB}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
