"""The dashboard's log viewer on a 200,000-line log, measured in a real browser.

Targets (issue 14): first lines painted <= 1 s after navigation; scrolling to the end <= 1 s.
Method: a real `oored run` builds a local repository whose one step prints `--lines` lines
(every tenth with an ANSI colour); once the build has finished, Debian's chromium (headless,
driven by Playwright) signs in through /login and, per run, opens a new page on the build:
- first lines: navigation to the build page with `#L1` (so the viewer stays at the top); the
  viewer's `performance.mark("oore-log-first-lines")`, made at the start of the frame after the
  one that rendered its first lines, read against the navigation's start (performance.now()'s
  origin). Also when all lines had arrived (the stream's end message).
- to the end: once all lines are in, `scrollTop = scrollHeight` on the viewer (what End does),
  then requestAnimationFrame until the last line's row is in the DOM, and one frame more (it is
  painted): performance.now() before and after.
- smoothness: 20 jumps to random places (each until its rows are there, plus a frame) and 120
  frames of fast scrolling (3,000 px per frame), their frame intervals; and the number of line
  rows in the DOM (bounded, whatever the log's length).
Run: .venv/bin/python -m bench.log_viewer [--lines 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, async_playwright

from bench.common import GIT_ENV, daemon, median_figures, percentile, targets_met

TARGETS = {"first_lines_ms": 1000, "scroll_to_end_ms": 1000}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every tenth line coloured, as test runners print "ok"; the rest plain, 60-odd bytes each.
AWK = (
    'BEGIN {{ for (i = 1; i <= {lines}; i++) printf "%s row %d of a long build log: '
    'compiling module %d\\n", (i % 10 == 0 ? "\\033[32mok\\033[0m" : "  "), i, i % 977 }}'
)
PIPELINE = """\
workflows:
  big:
    scripts:
      - name: flood
        script: |
          awk '{awk}'
"""

FIRST_LINES = """async () => {
  for (;;) {
    const [mark] = performance.getEntriesByName("oore-log-first-lines");
    const ended = document.querySelector("#log").dataset.state === "ended";
    if (mark && ended) {
      return {first: mark.startTime, ended: performance.now(),
        lines: Number(document.querySelector("#log").dataset.lines)};
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}"""

SCROLLING = """async () => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const viewport = document.querySelector(".log-viewport");
  const last = Number(document.querySelector("#log").dataset.lines);
  const rows = () => [...document.querySelectorAll(".log-line")];
  const rowOf = (n) => rows().some((r) => r.dataset.line == n);
  await frame();
  let start = performance.now();
  viewport.scrollTop = viewport.scrollHeight;
  while (!rowOf(last)) await frame();
  await frame();
  const toEnd = performance.now() - start;
  const domRows = document.querySelectorAll(".log-line").length;

  const jumps = [];
  let seed = 14;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 20; i += 1) {
    const target = Math.floor(random() * (viewport.scrollHeight - viewport.clientHeight));
    start = performance.now();
    viewport.scrollTop = target;
    const row = Math.floor(target / 20) + 5;
    while (!rows().some((r) => Math.abs(r.offsetTop / 20 - row) < 1)) await frame();
    await frame();
    jumps.push(performance.now() - start);
  }

  viewport.scrollTop = 0;
  await frame();
  const intervals = [];
  let before = performance.now();
  for (let i = 0; i < 120; i += 1) {
    viewport.scrollTop += 3000;
    await frame();
    const now = performance.now();
    intervals.push(now - before);
    before = now;
  }
  return {toEnd, domRows, jumps, intervals,
    mostRows: Math.max(domRows, document.querySelectorAll(".log-line").length)};
}"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], env=GIT_ENV, check=True, capture_output=True)


def finished_build(url: str, token: str, home: Path, lines: int) -> str:
    repo = home / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "codemagic.yaml").write_text(PIPELINE.format(awk=AWK.format(lines=lines)))
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "big log")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        made = http.post(
            "/api/repositories",
            json={
                "provider": "github",
                "owner": "bench",
                "name": "logs",
                "clone_url": repo.as_uri(),
            },
        )
        made.raise_for_status()
        build = http.post(
            f"/api/repositories/{made.json()['id']}/builds",
            json={"workflow": "big", "branch": "main"},
        )
        build.raise_for_status()
        build_id = str(build.json()["id"])
        deadline = time.monotonic() + 300
        while (status := http.get(f"/api/builds/{build_id}").json()["status"]) != "succeeded":
            if status in {"failed", "errored", "cancelled", "timed_out"}:
                raise RuntimeError(f"the benchmark's build {status}")
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark's build did not finish in 300 s")
            time.sleep(0.2)
    return build_id


async def measure(browser: Browser, url: str, token: str, build_id: str) -> dict[str, Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(f"{url}/login?next=/")
        await page.fill("#token", token)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        await page.goto(f"{url}/builds/{build_id}#L1")
        loaded = await page.evaluate(FIRST_LINES)
        scrolled = await page.evaluate(SCROLLING)
    finally:
        await context.close()
    jumps = scrolled["jumps"]
    intervals = scrolled["intervals"]
    return {
        "lines": loaded["lines"],
        "first_lines_ms": round(loaded["first"], 1),
        "all_lines_ms": round(loaded["ended"], 1),
        "scroll_to_end_ms": round(scrolled["toEnd"], 1),
        "jump_p50_ms": round(percentile(jumps, 50), 1),
        "jump_max_ms": round(max(jumps), 1),
        "scroll_frame_p50_ms": round(percentile(intervals, 50), 1),
        "scroll_frame_p99_ms": round(percentile(intervals, 99), 1),
        "dom_line_rows": scrolled["mostRows"],
    }


async def browse(url: str, token: str, build_id: str, repeat: int) -> list[dict[str, Any]]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            return [await measure(browser, url, token, build_id) for _ in range(repeat)]
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oore-bench-") as tmp:
        with daemon(Path(tmp)) as running:
            build_id = finished_build(running.url, running.admin_token, Path(tmp), args.lines)
            runs = asyncio.run(browse(running.url, running.admin_token, build_id, args.repeat))
    medians = median_figures(runs)
    verdict = targets_met(medians, TARGETS)
    print(json.dumps({"runs": runs, "median": medians, "targets_met": verdict}, indent=2))


if __name__ == "__main__":
    main()
