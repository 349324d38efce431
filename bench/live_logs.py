"""Live logs: line latency to WebSocket viewers, end-to-end throughput, and stalled viewers.

Targets (live logs issue):
1. latency from a line printed by a build script to its arrival at a WebSocket client, at 100
   lines/s with 10 viewers: p99 <= 50 ms;
2. a script printing 1,000,000 lines (~100 MB) with 10 viewers: >= 50 MB/s end to end, every
   viewer receives every line, daemon RSS growth <= 50 MB;
3. the same script's wall time with one stalled viewer <= 1.1 x its time with none.

Method: a real `oored run` (bench.common.daemon) and a git repository served as a file:// clone
URL; builds are started with `POST /api/repositories/{id}/builds`. Viewers are trio-websocket
clients in this process (the daemon is another process). (1) the script prints `time.time()` on
each line at 100 lines/s; each viewer takes arrival time minus printed time (one clock). A first
step holds the build until every viewer is attached. (2) end to end = log bytes / (print step
started -> last viewer has the `end` message); the daemon's VmRSS is sampled every 100 ms
(growth = max - value before the build). (3) build started_at -> finished_at with no viewer, and
with one viewer that reads nothing until the build is over (with a 32 KiB socket receive buffer,
so the stall reaches the daemon instead of being absorbed by loopback autotuning), then drains.
Run: /tmp/venv/bin/python -m bench.live_logs [--part 1 2 3] [--repeat 3] [--lines 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

from bench.common import (
    GIT_ENV,
    RunningDaemon,
    cpu_seconds,
    daemon,
    machine_busy_seconds,
    median_figures,
    rss_mib,
    summary_ms,
)
from oore.logs.wire import decode

VIEWERS = 10
BUILD_TIMEOUT = 600.0
TARGETS = {"latency_p99_ms": 50, "throughput_mb_s": 50, "rss_growth_mib": 50, "stall_ratio": 1.1}
PIPELINE = """\
workflows:
  ticks:
    scripts:
      - name: gate
        script: while [ ! -f {gate} ]; do sleep 0.01; done
      - name: ticks
        script: |
          python3 -u -c '
          import sys, time
          start = time.time()
          for n in range({ticks}):
              time.sleep(max(0.0, start + n / 100 - time.time()))
              sys.stdout.write(f"tick {{n}} {{time.time():.6f}}\\n")
              sys.stdout.flush()
          '
  flood-gated:
    scripts:
      - name: gate
        script: while [ ! -f {gate} ]; do sleep 0.01; done
      - name: flood
        script: {flood}
  flood:
    scripts:
      - name: flood
        script: {flood}
"""
# 100-byte lines (7-digit number, space, 91 bytes, newline), written 1,000 lines at a time.
FLOOD = (
    'python3 -c \'import sys; w = sys.stdout.buffer.write; pad = b"x" * 91; '
    '[w(b"".join(b"%07d %s\\n" % (n, pad) for n in range(c * 1000 + 1, c * 1000 + 1001))) '
    "for c in range({chunks})]'"
)


# --- the repository and the API -----------------------------------------------------------------


def make_repository(path: Path, gate: Path, ticks: int, lines: int) -> None:
    path.mkdir(parents=True)
    flood = FLOOD.format(chunks=lines // 1000)
    (path / "codemagic.yaml").write_text(PIPELINE.format(gate=gate, ticks=ticks, flood=flood))
    for args in (
        ("init", "--quiet", "--initial-branch=main"),
        ("add", "--all"),
        ("commit", "--quiet", "-m", "bench"),
    ):
        subprocess.run(["git", "-C", str(path), *args], env=GIT_ENV, check=True)


@dataclass
class Api:
    oored: RunningDaemon
    http: httpx.AsyncClient
    repo_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.oored.admin_token}"}

    async def register(self, clone_url: str) -> None:
        body = {"provider": "github", "owner": "bench", "name": "logs", "clone_url": clone_url}
        created = await self.http.post("/api/repositories", json=body, headers=self.headers)
        self.repo_id = created.raise_for_status().json()["id"]

    async def trigger(self, workflow: str) -> str:
        body = {"workflow": workflow, "branch": "main"}
        path = f"/api/repositories/{self.repo_id}/builds"
        response = await self.http.post(path, json=body, headers=self.headers)
        return str(response.raise_for_status().json()["id"])

    async def build(self, build_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/builds/{build_id}", headers=self.headers)
        found: dict[str, Any] = response.raise_for_status().json()
        return found

    async def finished(self, build_id: str) -> dict[str, Any]:
        with trio.fail_after(BUILD_TIMEOUT):
            # Polling the API is the point: it is what a client sees.
            while (build := await self.build(build_id))["finished_at"] is None:  # noqa: ASYNC110
                await trio.sleep(0.05)
        if build["status"] != "succeeded":
            raise RuntimeError(f"build {build_id} {build['status']}: {build.get('reason')}")
        return build

    def log_bytes(self, build_id: str) -> int:
        return (self.oored.data_dir / "logs" / f"{build_id}.log").stat().st_size


def epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --- viewers ------------------------------------------------------------------------------------


@dataclass
class Viewer:
    """One WebSocket client's tally: lines checked by number, end message, latencies."""

    latency: bool = False
    last: bytes = b"1000000 "  # how the script's last line starts
    expected: int = 1
    messages: int = 0
    saw: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    end: dict[str, Any] | None = None
    ended_at: float = 0.0
    code: int | None = None

    def take(self, raw: str | bytes, now: float) -> None:
        self.messages += 1
        if isinstance(raw, bytes) and not self.latency:
            # 100 MB per viewer: lines are counted, and the last one looked for, in place.
            start = raw.index(b"\n") + 1  # after the header line (oore/logs/wire.py)
            self._check(json.loads(raw[:start])["first"], raw.count(b"\n", start))
            if raw.startswith(self.last, start) or raw.find(b"\n" + self.last, start) >= 0:
                self.saw.add("last")
            return
        message = decode(raw)
        if message["type"] == "lines":
            self._check(message["first"], message["text"].count("\n"))
            for line in message["text"].splitlines():
                if line.startswith("tick "):
                    self.latencies.append(now - float(line.split()[2]))
        elif message["type"] == "end":
            self.end, self.ended_at = message, now

    def _check(self, first: int, count: int) -> None:
        if first != self.expected:
            raise RuntimeError(f"expected line {self.expected}, got {first}")
        self.expected += count

    @property
    def complete(self) -> bool:
        return self.end is not None and self.code == 1000 and self.end["next"] == self.expected


async def open_socket(
    api: Api, build_id: str, nursery: trio.Nursery, receive_buffer: int = 0
) -> tuple[WebSocketConnection, trio.SocketStream]:
    host, port = api.oored.url.removeprefix("http://").split(":")
    sock = trio.socket.socket()
    try:
        if receive_buffer:
            sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, receive_buffer)
        await sock.connect((host, int(port)))
    except BaseException:
        sock.close()
        raise
    stream = trio.SocketStream(sock)
    ws = await wrap_client_stream(
        nursery,
        stream,
        f"{host}:{port}",
        f"/api/builds/{build_id}/logs/stream",
        extra_headers=[(b"Authorization", f"Bearer {api.oored.admin_token}".encode())],
        max_message_size=64 * 1024 * 1024,
        receive_buffer_size=256 * 1024,  # trio-websocket's default, 4 KiB, is a syscall per 4 KiB
    )
    return ws, stream


async def view(
    api: Api,
    build_id: str,
    viewer: Viewer,
    attached: Callable[[], None] = lambda: None,
    before_reading: Callable[[], Awaitable[Any]] | None = None,
    receive_buffer: int = 0,
) -> None:
    """Follow the build's log until the server closes the socket (it must, with 1000)."""
    async with trio.open_nursery() as nursery:
        ws, stream = await open_socket(api, build_id, nursery, receive_buffer)
        async with stream:
            if before_reading is not None:
                await before_reading()
            first = True
            while True:
                try:
                    raw = await ws.get_message()
                except ConnectionClosed as closed:
                    viewer.code = None if closed.reason is None else closed.reason.code
                    break
                viewer.take(raw, time.time())
                if first and viewer.expected > 1:  # following the log (not only step news)
                    first = False
                    attached()
            await ws.aclose()


class Gate:
    """Opens the build's gate step once `count` viewers have their first lines.

    A viewer that connects before the build's log is open polls for it every 0.5 s
    (oore/http/logs.py, `_send_lines`); waiting for lines keeps that out of the figures.
    """

    def __init__(self, path: Path, count: int) -> None:
        self.path, self.waiting = path, count
        path.unlink(missing_ok=True)

    def attached(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.path.touch()


# --- daemon memory ------------------------------------------------------------------------------


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = rss_mib(pid)
        self.peak = self.baseline

    async def run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib(self.pid))
            await trio.sleep(0.1)

    @property
    def growth(self) -> float:
        return round(self.peak - self.baseline, 1)


# --- the three parts ----------------------------------------------------------------------------


async def latency(api: Api, gate: Path) -> dict[str, Any]:
    build_id = await api.trigger("ticks")
    viewers = [Viewer(latency=True) for _ in range(VIEWERS)]
    opener = Gate(gate, VIEWERS)
    with trio.fail_after(BUILD_TIMEOUT):
        async with trio.open_nursery() as nursery:
            for viewer in viewers:
                nursery.start_soon(view, api, build_id, viewer, opener.attached)
    await api.finished(build_id)
    figures: dict[str, Any] = summary_ms([s for v in viewers for s in v.latencies])
    figures["complete_viewers"] = sum(v.complete for v in viewers)
    return figures


async def throughput(api: Api, gate: Path, lines: int) -> dict[str, Any]:
    sampler = RssSampler(api.oored.pid)
    cpu = (cpu_seconds(api.oored.pid), time.process_time(), machine_busy_seconds())
    build_id = await api.trigger("flood-gated")
    viewers = [Viewer(last=b"%07d " % lines) for _ in range(VIEWERS)]
    opener = Gate(gate, VIEWERS)
    with trio.fail_after(BUILD_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sampler.run)
            async with trio.open_nursery() as watching:
                for viewer in viewers:
                    watching.start_soon(view, api, build_id, viewer, opener.attached)
            nursery.cancel_scope.cancel()
    build = await api.finished(build_id)
    printing = epoch(next(s for s in build["steps"] if s["name"] == "flood")["started_at"])
    size = api.log_bytes(build_id)
    last = max(v.ended_at for v in viewers)
    daemon_cpu, bench_cpu, busy = cpu
    return {
        "log_mb": round(size / 1e6, 1),
        "throughput_mb_s": round(size / 1e6 / (last - printing), 1),
        "daemon_write_mb_s": round(size / 1e6 / (epoch(build["finished_at"]) - printing), 1),
        "last_viewer_after_build_s": round(last - epoch(build["finished_at"]), 2),
        "complete_viewers": sum(v.complete and "last" in v.saw for v in viewers),
        "rss_baseline_mib": round(sampler.baseline, 1),
        "rss_growth_mib": sampler.growth,
        "daemon_cpu_s": round(cpu_seconds(api.oored.pid) - daemon_cpu, 2),
        "viewers_cpu_s": round(time.process_time() - bench_cpu, 2),
        "machine_busy_cpu_s": round(machine_busy_seconds() - busy, 2),
        "seconds": round(last - printing, 2),
        "messages_per_viewer": statistics.median(v.messages for v in viewers),
    }


async def wall_time(api: Api, lines: int, stalled: bool) -> dict[str, Any]:
    sampler = RssSampler(api.oored.pid)
    build_id = await api.trigger("flood")
    viewer = Viewer(last=b"%07d " % lines)
    with trio.fail_after(BUILD_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sampler.run)
            if stalled:

                async def until_finished() -> None:
                    await api.finished(build_id)

                await view(
                    api, build_id, viewer, before_reading=until_finished, receive_buffer=32 * 1024
                )
                if not (viewer.complete and "last" in viewer.saw):
                    raise RuntimeError(f"the stalled viewer missed lines: {viewer}")
            build = await api.finished(build_id)
            nursery.cancel_scope.cancel()
    return {
        "wall_s": round(epoch(build["finished_at"]) - epoch(build["started_at"]), 3),
        "rss_growth_mib": sampler.growth,
    }


# --- running ------------------------------------------------------------------------------------


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"targets": TARGETS, "load_before": load()}
    with tempfile.TemporaryDirectory(prefix="oore-bench-logs-") as tmp, daemon() as oored:
        gate = Path(tmp) / "gate"
        make_repository(Path(tmp) / "repo", gate, args.ticks, args.lines)
        async with httpx.AsyncClient(base_url=oored.url, timeout=60) as http:
            api = Api(oored, http)
            await api.register((Path(tmp) / "repo").as_uri())
            if 1 in args.part:
                runs = [await latency(api, gate) for _ in range(args.repeat)]
                report["latency"] = {"runs": runs, "median": median_figures(runs)}
                report["load_after_latency"] = load()
            if 2 in args.part:
                runs = [await throughput(api, gate, args.lines) for _ in range(args.repeat)]
                report["throughput"] = {"runs": runs, "median": median_figures(runs)}
                report["load_after_throughput"] = load()
            if 3 in args.part:
                alone: list[float] = []
                stalled: list[float] = []
                memory: list[float] = []
                # Interleaved, in alternating order, so drifting load hits both alike.
                for index in range(args.repeat):
                    for with_viewer in (False, True) if index % 2 == 0 else (True, False):
                        run = await wall_time(api, args.lines, stalled=with_viewer)
                        (stalled if with_viewer else alone).append(run["wall_s"])
                        if with_viewer:
                            memory.append(run["rss_growth_mib"])
                report["stall"] = {
                    "alone_s": alone,
                    "stalled_s": stalled,
                    "stalled_rss_growth_mib": memory,
                    "median_alone_s": statistics.median(alone),
                    "median_stalled_s": statistics.median(stalled),
                    "stall_ratio": round(statistics.median(stalled) / statistics.median(alone), 3),
                }
                report["load_after_stall"] = load()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lines", type=int, default=1_000_000, help="multiple of 1000")
    parser.add_argument("--ticks", type=int, default=1000, help="lines at 100/s for part 1")
    args = parser.parse_args()
    report = trio.run(run, args)
    report["targets_met"] = verdict(report)
    json.dump(report, sys.stdout, indent=2)
    print()


def verdict(report: dict[str, Any]) -> dict[str, bool]:
    """Each target of the parts that ran: met or not (the median over the repeats)."""
    met: dict[str, bool] = {}
    if "latency" in report:
        p99 = report["latency"]["median"].get("p99_ms")
        met["latency_p99_ms"] = p99 is not None and p99 <= TARGETS["latency_p99_ms"]
    if "throughput" in report:
        median = report["throughput"]["median"]
        rate, growth = median.get("throughput_mb_s"), median.get("rss_growth_mib")
        met["throughput_mb_s"] = rate is not None and rate >= TARGETS["throughput_mb_s"]
        met["rss_growth_mib"] = growth is not None and growth <= TARGETS["rss_growth_mib"]
    if "stall" in report:
        met["stall_ratio"] = report["stall"]["stall_ratio"] <= TARGETS["stall_ratio"]
    return met


if __name__ == "__main__":
    main()
