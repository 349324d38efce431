"""Notifier: 200 builds finishing within a second, 3 signed webhook targets each.

Targets (notifier issue): every delivery made within 10 s; the build path never waits on the
notifier (build-finish latency with targets within 10 % of without). Method: the daemon's own
parts in one trio process, as `oored run` has them: the SQLite store (the outbox rows are
written in the build's transaction) and the Notifier actor with the real signed webhook channel;
the three targets are one receiver in another process (hypercorn + Quart-Trio on loopback, as a
remote target would be), which checks every signature and counts distinct Idempotency-Keys. 200
builds are created and started first (their queued and started deliveries drained); then all
200 finish within one second (one `transition_build(..., succeeded)` every 5 ms, each as an
executor does it), and we time each of those calls (the build-finish latency) and when the
receiver has every `succeeded` delivery (600). The same run without targets gives the baseline;
one with the targets but no notifier running ("outbox only") separates what inserting the rows
in the build's transaction costs from what sending beside the builds costs.
Run: .venv/bin/python -m bench.notifier [--builds 200] [--targets 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from bench.common import median_figures, summary_ms

SECRET = "bench-notifier-secret-0123456789"
TARGETS = {"delivered_within_s": 10.0, "finish_p50_ratio": 1.10}
SPREAD = 1.0  # seconds over which the builds finish


# --- the receiver (its own process) ---------------------------------------------------------


def serve_receiver(port_file: Path) -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve
    from quart import Response, request
    from quart_trio import QuartTrio

    keys: dict[str, float] = {}
    bad = [0]
    app = QuartTrio("bench-receiver")

    @app.post("/hook/<name>")
    async def receive(name: str) -> Response:
        body = await request.get_data()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if request.headers.get("X-Oore-Signature-256") != f"sha256={digest}":
            bad[0] += 1
            return Response("bad signature", 401)
        keys.setdefault(request.headers["Idempotency-Key"], time.time())
        return Response("{}", 200, content_type="application/json")

    @app.get("/stats")
    async def stats() -> Response:
        return Response(json.dumps({"keys": keys, "bad": bad[0]}), 200)

    async def main() -> None:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = None
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(serve, app, config)
            await trio.Path(port_file).write_text(bound[0].rsplit(":", 1)[1])

    trio.run(main)


# --- the daemon's side --------------------------------------------------------------------


async def measure(builds: int, targets: int, receiver: str, *, send: bool) -> dict[str, Any]:
    from oore.actors.notifier import Notifier, RetryPolicy
    from oore.crypto import Sealer, generate_key, parse_key
    from oore.ids import new_id
    from oore.model import (
        Build,
        BuildStatus,
        Provider,
        Repository,
        Trigger,
        TriggerKind,
        WebhookTarget,
        utcnow,
    )
    from oore.notify.webhook import WebhookChannel, secret_aad
    from oore.store.base import RepositorySecrets
    from oore.store.sqlite import open_sqlite_store

    sealer = Sealer(parse_key(generate_key()))
    with tempfile.TemporaryDirectory(prefix="oore-bench-notifier-") as tmp:
        async with open_sqlite_store(Path(tmp) / "oore.db") as store, trio.open_nursery() as n:
            now = utcnow()
            repo = Repository(
                new_id(), Provider.GITHUB, "bench", "app", "file:///x", created_at=now
            )
            await store.create_repository(repo, RepositorySecrets(None, None))
            for index in range(targets):
                target = WebhookTarget(new_id(), repo.id, f"{receiver}/hook/{index}", (), now)
                sealed = sealer.seal(SECRET.encode(), secret_aad(target.id))
                await store.add_webhook_target(target, sealed)
            channel = WebhookChannel(store, sealer, allow_private=True)
            notifier = Notifier(store, {"webhook": channel}, RetryPolicy(0.5, 2.0, 3600.0))
            if send:
                await n.start(notifier.run)
            trigger = Trigger(Provider.GITHUB, TriggerKind.PUSH, "bench", "app", "a" * 40)
            ids = []
            for _ in range(builds):
                build = await store.create_build(Build.queued(repo.id, "w", trigger))
                await store.transition_build(build.id, BuildStatus.PREPARING)
                await store.transition_build(build.id, BuildStatus.RUNNING)
                ids.append(build.id)
            if send:  # queued and started delivered, and the notifier done recording them
                await _received(receiver, 2 * builds * targets, 60.0)
                await _settled(store)
            latencies: list[float] = []
            start = time.time()
            async with trio.open_nursery() as finishing:
                for index, build_id in enumerate(ids):
                    finishing.start_soon(
                        _finish, store, build_id, index * SPREAD / builds, latencies
                    )
            finished = time.time()
            keys = await _received(receiver, 3 * builds * targets, 60.0) if send else {}
            n.cancel_scope.cancel()
    figures: dict[str, Any] = {
        f"finish_{k}": v for k, v in summary_ms(latencies).items() if k != "count"
    }
    figures["finish_spread_s"] = round(finished - start, 3)
    if keys:
        done = [at for key, at in keys.items() if key.endswith(":succeeded")]
        figures["succeeded_deliveries"] = len(done)
        figures["all_delivered_after_s"] = round(max(done) - start, 3)
        figures["delivered_after_last_finish_s"] = round(max(done) - finished, 3)
    return figures


async def _finish(store: Any, build_id: str, delay: float, latencies: list[float]) -> None:
    from oore.model import BuildStatus

    await trio.sleep(delay)
    began = time.perf_counter()
    await store.transition_build(build_id, BuildStatus.SUCCEEDED)
    latencies.append(time.perf_counter() - began)


async def _settled(store: Any) -> None:
    with trio.fail_after(60):
        while set((await store.delivery_counts()).keys()) - {("webhook", "delivered")}:  # noqa: ASYNC110
            await trio.sleep(0.05)


async def _received(receiver: str, count: int, within: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=receiver) as http:
        with trio.fail_after(within):
            while True:
                stats = (await http.get("/stats")).json()
                if stats["bad"]:
                    raise RuntimeError(f"{stats['bad']} deliveries were badly signed")
                if len(stats["keys"]) >= count:
                    return dict(stats["keys"])
                await trio.sleep(0.05)


def run_once(builds: int, targets: int, *, send: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.notifier", "--serve", str(port_file)]
        )
        try:
            deadline = time.monotonic() + 20
            while not (port_file.exists() and port_file.read_text()):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the receiver did not start")
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port_file.read_text()}"
            return trio.run(functools.partial(measure, builds, targets, url, send=send))
        finally:
            server.terminate()
            server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--builds", type=int, default=200)
    parser.add_argument("--targets", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="fresh stores; medians reported")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve_receiver(args.serve)
    runs = []
    for _ in range(args.repeat):  # alternated, so that a busier moment hurts both alike
        runs.append(
            {
                "with": run_once(args.builds, args.targets),
                "outbox_only": run_once(args.builds, args.targets, send=False),
                "without": run_once(args.builds, 0),
            }
        )
    with_targets = median_figures([r["with"] for r in runs])
    without = median_figures([r["without"] for r in runs])
    outbox_only = median_figures([r["outbox_only"] for r in runs])
    ratio = (with_targets["finish_p50_ms"] or 0) / (without["finish_p50_ms"] or 1)
    delivered = with_targets["all_delivered_after_s"]
    result = {
        "builds": args.builds,
        "targets_per_build": args.targets,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "targets": TARGETS,
        "finish_p50_ratio": round(ratio, 3),
        # The insert of the rows in the build's transaction alone (no sending): what the build
        # path pays for durability; the rest of the ratio is the sending beside it.
        "outbox_only_p50_ratio": round(
            (outbox_only["finish_p50_ms"] or 0) / (without["finish_p50_ms"] or 1), 3
        ),
        "targets_met": {
            "delivered_within_s": delivered is not None
            and delivered <= TARGETS["delivered_within_s"],
            "finish_p50_ratio": ratio <= TARGETS["finish_p50_ratio"],
        },
        "median_with_targets": with_targets,
        "median_outbox_only": outbox_only,
        "median_without": without,
        "runs": runs,
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
