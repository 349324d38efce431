"""Shared pieces of the benchmarks: start a real `oored run`, measure its memory, summarise."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunningDaemon:
    url: str
    pid: int
    data_dir: Path
    admin_token: str

    def rss_mib(self) -> float:
        return rss_mib(self.pid)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@contextmanager
def daemon(**env: str) -> Iterator[RunningDaemon]:
    """A real daemon on 127.0.0.1 port 0 in a temporary data dir, stopped with SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="oore-bench-") as tmp:
        home = Path(tmp)
        ready = home / "ready.json"
        environ = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": tmp,
            "OORE_DATA_DIR": str(home / "data"),
            "OORE_BIND": "127.0.0.1:0",
            "OORE_LOG_LEVEL": "warning",
            **env,
        }
        command = [sys.executable, "-m", "oore.cli.daemon", "run", "--ready-file", str(ready)]
        process = subprocess.Popen(command, env=environ, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (ready.exists() and ready.read_text()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("oored did not start")
                time.sleep(0.05)
            url = json.loads(ready.read_text())["url"]
            token = (home / "data" / "admin-token").read_text().strip()
            yield RunningDaemon(url, process.pid, home / "data", token)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(latencies: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in latencies]
    return {
        "count": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }
