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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# git for the benchmarks' local repositories: no user or system config, a fixed identity.
GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


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
def daemon(home: Path | None = None, **env: str) -> Iterator[RunningDaemon]:
    """A real daemon on 127.0.0.1 port 0, stopped with SIGTERM; its data dir is `home`/data,
    in a temporary directory unless `home` is given (to start again on the same data)."""
    if home is None:
        with tempfile.TemporaryDirectory(prefix="oore-bench-") as tmp:
            with daemon(Path(tmp), **env) as running:
                yield running
        return
    if env.get("OORE_BUILD_USER"):
        home.chmod(0o711)  # the build user must pass through to its workspaces
    ready = home / "ready.json"
    ready.unlink(missing_ok=True)
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
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


def peak_rss_mib(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process (all its threads) has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_figures(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    """The median of every numeric figure over repeated runs; a figure a run lacks counts as 0.

    A figure that is not a number in some run (None: it timed out) has no median.
    """
    keys = dict.fromkeys(key for run in runs for key, value in run.items() if _numeric(value))
    medians: dict[str, float | None] = {}
    for key in keys:
        values = [run.get(key, 0) for run in runs]
        ok = all(_numeric(v) for v in values)
        medians[key] = round(statistics.median(values), 2) if ok else None
    return medians


def targets_met(
    medians: Mapping[str, float | None], targets: Mapping[str, float]
) -> dict[str, bool]:
    """Per target (an upper limit on the median figure of that name): met or not."""
    return {
        name: (value := medians.get(name)) is not None and value <= limit
        for name, limit in targets.items()
    }


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def machine_busy_seconds() -> float:
    """CPU time all cores have spent busy since boot (from /proc/stat), in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
