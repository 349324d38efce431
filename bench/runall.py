"""Run every benchmark and rewrite the summary at the top of bench/RESULTS.md.

Each benchmark runs as its own process, one after another (they share two cores with nothing
else of ours), with the arguments below; its JSON goes to bench/results/<name>.json and its
headline figures and targets into the table between the markers in RESULTS.md. The notes below
the markers (methods, history, analysis) are written by hand and left as they are.
Run: bench/run [--only NAME ...] [--quick]   (--quick: shorter runs, to check the harness)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "RESULTS.md"
RAW = HERE / "results"
BEGIN = "<!-- bench/run: begin (generated; edit bench/runall.py, not this table) -->"
END = "<!-- bench/run: end -->"


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    # (label, path into the JSON): the figures the summary shows.
    headlines: tuple[tuple[str, str], ...]


BENCHES = (
    Bench(
        "idle_health",
        (),
        ("--seconds", "3"),
        (("idle RSS MiB", "idle_rss_mib"), ("health p99 ms", "p99_ms")),
    ),
    Bench(
        "webhooks",
        ("--repeat", "3", "--drain-timeout", "120"),
        ("--requests", "1000", "--drain-timeout", "60"),
        (("accepted/s", "median.accepted_per_s"), ("p99 ms", "median.p99_ms")),
    ),
    Bench(
        "build_latency",
        ("--builds", "100"),
        ("--builds", "10"),
        (("p50 ms", "median.p50_ms"), ("p95 ms", "median.p95_ms")),
    ),
    Bench(
        "live_logs",
        ("--repeat", "3"),
        ("--repeat", "1", "--lines", "100000", "--ticks", "200"),
        (
            ("latency p99 ms", "latency.median.p99_ms"),
            ("MB/s", "throughput.median.throughput_mb_s"),
            ("stall ratio", "stall.stall_ratio"),
        ),
    ),
    Bench(
        "hostile",
        (),
        ("--seconds", "5"),
        (("peak RSS MiB", "medians.rss_peak_mib"), ("health p99 ms", "medians.health_p99_ms")),
    ),
    Bench(
        "stored_builds",
        ("--repeat", "3"),
        ("--builds", "2000", "--seconds", "2", "--repeat", "1"),
        (("list p99 ms", "median.list_p99_ms"), ("build p99 ms", "median.detail_p99_ms")),
    ),
    Bench(
        "dashboard",
        ("--repeat", "3"),
        ("--builds", "2000", "--seconds", "2", "--repeat", "1"),
        (("builds page p99 ms", "median.list_p99_ms"), ("paging p99 ms", "median.paging_p99_ms")),
    ),
    Bench(
        "log_viewer",
        ("--repeat", "3"),
        ("--lines", "20000", "--repeat", "1"),
        (
            ("first lines ms", "median.first_lines_ms"),
            ("to the end ms", "median.scroll_to_end_ms"),
            ("DOM rows", "median.dom_line_rows"),
        ),
    ),
    Bench(
        "concurrent_builds",
        ("--repeat", "3"),
        ("--builds", "10", "--limit", "4", "--script-seconds", "2", "--repeat", "1"),
        (
            ("most at once", "median.most_running_at_once"),
            ("health p99 ms", "median.health_p99_ms"),
        ),
    ),
    Bench(
        "notifier",
        ("--repeat", "3"),
        ("--repeat", "1", "--builds", "20"),
        (
            ("all delivered after s", "median_with_targets.all_delivered_after_s"),
            ("store-write finish p50 ratio", "finish_p50_ratio"),
        ),
    ),
    Bench(
        "notify_daemon",
        ("--repeat", "3"),
        ("--repeat", "1", "--builds", "10"),
        (
            ("finish p50 ratio", "finish_p50_ratio"),
            ("delivered after s", "median_with_targets.all_delivered_after_last_finish_s"),
        ),
    ),
    Bench(
        "soak",
        ("--minutes", "10"),
        ("--minutes", "1", "--warmup", "0.3"),
        (("RSS growth %", "rss_growth_pct"), ("fds end/warm", "fds_after_drain")),
    ),
)


def last_json(text: str) -> dict[str, Any]:
    """The last JSON object a benchmark printed (some print one per run before the summary)."""
    lines = text.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                found = json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    raise ValueError("no JSON object in the output")


def figure(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def run_one(bench: Bench, quick: bool) -> dict[str, Any]:
    args = bench.quick if quick else bench.args
    command = [sys.executable, "-m", f"bench.{bench.name}", *args]
    shown = " ".join(["python", "-m", f"bench.{bench.name}", *args])
    print(f"== {shown}", flush=True)
    load = os.getloadavg()[0]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=HERE.parent, capture_output=True, text=True, check=False, timeout=3600
    )
    seconds = time.monotonic() - started
    entry: dict[str, Any] = {
        "name": bench.name,
        "command": shown,
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": _commit(),
        "quick": quick,
        "seconds": round(seconds),
        "load_before": round(load, 2),
    }
    try:
        data = last_json(done.stdout)
    except ValueError:
        entry["error"] = f"exit {done.returncode}: {done.stderr.strip()[-500:]}"
        return entry
    RAW.mkdir(exist_ok=True)
    (RAW / f"{bench.name}.json").write_text(json.dumps(data, indent=2) + "\n")
    entry["figures"] = {label: figure(data, path) for label, path in bench.headlines}
    entry["targets_met"] = data.get("targets_met", {})
    return entry


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def table(entries: list[dict[str, Any]]) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        BEGIN,
        "## Latest figures (bench/run)",
        "",
        f"The last run of each benchmark by `bench/run` on this machine ({machine}); raw JSON in "
        '`bench/results/`. Time is UTC; "load" is the 1-minute load average before the run.',
        "",
        "| benchmark | command | figures | targets | run at (commit) | load | time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in entries:
        if "error" in entry:
            figures = f"**failed**: {entry['error'].splitlines()[-1] if entry['error'] else ''}"
            targets = "-"
        else:
            figures = ", ".join(f"{k} {v}" for k, v in entry["figures"].items())
            met = entry["targets_met"]
            targets = ", ".join(f"{k} {'met' if ok else '**not met**'}" for k, ok in met.items())
        quick = " (**--quick**: shortened, not the targets' conditions)" if entry["quick"] else ""
        lines.append(
            f"| {entry['name']} | `{entry['command']}`{quick} | {figures} | {targets or '-'} | "
            f"{entry['at']} ({entry['commit']}) | {entry['load_before']} | {entry['seconds']} s |"
        )
    lines += ["", END]
    return "\n".join(lines)


def merged(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This run's entries over the last ones kept, in the order of BENCHES."""
    kept = RAW / "summary.json"
    by_name = {e["name"]: e for e in json.loads(kept.read_text())} if kept.exists() else {}
    by_name |= {e["name"]: e for e in entries}
    ordered = [by_name[b.name] for b in BENCHES if b.name in by_name]
    RAW.mkdir(exist_ok=True)
    kept.write_text(json.dumps(ordered, indent=2) + "\n")
    return ordered


def rewrite(summary: str) -> None:
    text = RESULTS.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + summary + tail
    else:  # first run: after the title and its paragraph
        title, _, body = text.partition("\n\n")
        text = f"{title}\n\n{summary}\n\n{body}"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES])
    parser.add_argument("--quick", action="store_true", help="shorter runs, to check the harness")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    entries = [run_one(bench, args.quick) for bench in chosen]
    rewrite(table(merged(entries)))
    failed = [e["name"] for e in entries if "error" in e]
    unmet = [e["name"] for e in entries if not all(e.get("targets_met", {}).values())]
    print(json.dumps({"failed": failed, "targets_not_met": unmet}, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
