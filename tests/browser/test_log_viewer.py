"""The build page's live log viewer in a real browser, on real builds of a real daemon."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from playwright.async_api import Page

from tests.browser.conftest import Dashboard
from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo

pytestmark = pytest.mark.e2e

BUILD_TIMEOUT = 90.0
FINAL = {"succeeded", "failed", "cancelled", "timed_out", "skipped", "errored"}
BIG = 200_000

# {gate}: a file the test creates once it has seen the first line in the browser.
PIPELINE = """\
workflows:
  live:
    scripts:
      - name: talk
        script: |
          echo "live line one"
          seq 1 300 | sed 's/.*/filler &/'
          while [ ! -f {gate} ]; do sleep 0.1; done
          echo "live line two"
  resume:
    scripts:
      - name: talk
        script: |
          echo "before the break"
          while [ ! -f {gate}.resume ]; do sleep 0.1; done
          seq 1 5 | sed 's/.*/after the break &/'
  colours:
    scripts:
      - name: paint
        script: |
          printf '\\033[31mred words\\033[0m plain\\n'
          printf '\\033[1;4mbold under\\033[0m\\n'
          printf '\\033[38;5;208morange256\\033[0m\\n'
          printf '\\033[38;2;10;20;30mtruecolour\\033[0m\\n'
          printf '\\033[7minverted\\033[27m\\n'
          echo '<img src=x onerror="window.pwned=1"><b>not bold</b>'
          printf 'progress 10%%\\rprogress 50%%\\rprogress done\\n'
  numbered:
    scripts:
      - name: count
        script: seq 1 300 | sed 's/.*/numbered line &/'
      - name: find
        script: echo needle-in-the-log
  huge:
    scripts:
      - name: flood
        script: seq 1 {big} | sed 's/.*/row & of the big log/'
"""

VIEWPORT = "document.querySelector('.log-viewport')"
# Where a line's row is: "in view" (of the viewer and of the window), or why not.
PLACE = """([n, window_too]) => {
  const row = document.querySelector(`.log-line[data-line="${n}"]`);
  if (!row) return "not rendered";
  const box = row.getBoundingClientRect();
  const view = document.querySelector('.log-viewport').getBoundingClientRect();
  if (box.top < view.top || box.bottom > view.bottom) return "outside the viewer";
  const bar = document.querySelector('.topbar')?.getBoundingClientRect().bottom ?? 0;
  if (window_too && (box.top < bar || box.bottom > window.innerHeight)) return "outside the window";
  return "in view";
}"""

# The line of the current search match: its number and text.
CURRENT_LINE = """() => {
  const row = document.querySelector('mark.log-match-current').closest('.log-line');
  return {n: Number(row.dataset.line), text: row.querySelector('.log-text').textContent};
}"""

# Whether a step's header is in view (of the viewer and of the window).
HEADER_PLACE = """(step) => {
  const row = document.querySelector(`.log-sizer .log-step[data-step="${step}"]`);
  if (!row) return "not rendered";
  const box = row.getBoundingClientRect();
  const view = document.querySelector('.log-viewport').getBoundingClientRect();
  if (box.top < view.top || box.bottom > view.bottom) return "outside the viewer";
  return box.top >= 0 && box.bottom <= window.innerHeight ? "in view" : "outside the window";
}"""

RAW = """async () => {
  const link = document.querySelector('a[href$="/log?download=1"]');
  return (await fetch(link.href, {credentials: 'same-origin'})).text();
}"""


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate") / "go"


@pytest.fixture(scope="module")
def repo_id(
    running_daemon: tuple[Daemon, str], gate: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A repository of this module's own pipeline, on the browser tests' daemon."""
    daemon, _ = running_daemon
    git = GitRepo(tmp_path_factory.mktemp("logs-repo") / "logs")
    git.commit("initial", {"codemagic.yaml": PIPELINE.format(gate=gate, big=BIG)})
    made = httpx.post(
        f"{daemon.url}/api/repositories",
        json={"provider": "github", "owner": "octo", "name": "logs", "clone_url": git.url},
        headers=daemon.headers(),
        timeout=15,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def start(dashboard: Dashboard, repo_id: str, workflow: str) -> str:
    async with dashboard.http() as http:
        made = await http.post(
            f"/api/repositories/{repo_id}/builds", json={"workflow": workflow, "branch": "main"}
        )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def finished(dashboard: Dashboard, build_id: str) -> dict[str, Any]:
    with trio.fail_after(BUILD_TIMEOUT):
        # The API has no "wait for the end": polling it is what a client does.
        while (build := await dashboard.build(build_id))["status"] not in FINAL:  # noqa: ASYNC110
            await trio.sleep(0.1)
    return build


async def open_log(dashboard: Dashboard, tab: Any, build_id: str, suffix: str = "") -> None:
    await tab.goto(f"/builds/{build_id}{suffix}")
    await tab.wait_for("#log[data-state=ended]")


async def test_lines_appear_while_the_script_is_still_running(
    dashboard: Dashboard, repo_id: str, gate: Path
) -> None:
    build_id = await start(dashboard, repo_id, "live")
    async with dashboard.tab() as tab:
        await tab.goto(f"/builds/{build_id}")
        await tab.wait_for(".log-text:text-is('filler 300')")
        # The script waits for the gate: it is still running, and its last line not printed.
        assert (await dashboard.build(build_id))["status"] == "running"
        assert await tab.count(".log-text:text-is('live line two')") == 0
        # Following the tail: the newest line is in view.
        last = int(await tab.evaluate("document.querySelector('#log').dataset.lines"))
        assert await tab.evaluate(PLACE, [last, False]) == "in view"
        await dashboard.screenshot(tab, "log-live-light")

        # The reader scrolls up: following stops, and new lines do not move the view.
        await tab.evaluate(f"{VIEWPORT}.scrollTop = 0")
        await tab.wait_for(".log-follow[aria-pressed=false]")
        await tab.wait_for(".log-step[data-step='0'] .status-running")  # its step's header
        await tab.wait_for(".log-text:text-is('live line one')")
        await trio.to_thread.run_sync(gate.write_text, "go")
        await tab.wait_for("#log[data-state=ended]")
        assert await tab.evaluate(f"{VIEWPORT}.scrollTop") == 0
        assert (
            await tab.count(".log-text:text-is('live line two')") == 0
        )  # not in view: not in the DOM
        # "Follow" resumes: the end is in view, the last line among it.
        await tab.run(lambda page: page.click(".log-follow"))
        await tab.wait_for(".log-text:text-is('live line two')")
        assert await tab.count(".log-follow[aria-pressed=true]") == 1
        assert "succeeded" in await tab.evaluate(
            "document.querySelector('.log-status').textContent"
        )


async def test_a_dropped_connection_resumes_from_the_next_line(
    dashboard: Dashboard, repo_id: str, gate: Path
) -> None:
    build_id = await start(dashboard, repo_id, "resume")
    async with dashboard.tab() as tab:
        await tab.goto(f"/builds/{build_id}")
        await tab.wait_for(".log-text:text-is('before the break')")
        # The connection drops (as when the network does): the viewer connects again.
        await tab.evaluate("document.querySelector('#log').logViewer.socket.close()")
        await trio.to_thread.run_sync(Path(f"{gate}.resume").write_text, "go")
        await tab.wait_for("#log[data-state=ended]")
        shown = await tab.evaluate(
            "[...document.querySelectorAll('.log-line[data-line]')]"
            ".map((row) => row.querySelector('.log-text').textContent)"
        )
        raw = await tab.evaluate(RAW)
        count = int(await tab.evaluate("document.querySelector('#log').dataset.lines"))
    # Every line once, in order: nothing lost or repeated across the reconnection.
    lines = raw.splitlines()
    assert count == len(lines)
    assert shown == lines[-len(shown) :]
    assert [line for line in shown if line.startswith("after the break")] == [
        f"after the break {n}" for n in range(1, 6)
    ]


COLOURS = """() => {
  const span = (text) => [...document.querySelectorAll('#log .log-text span')]
    .find((s) => s.textContent === text);
  const style = (s) => s && {classes: s.className, color: getComputedStyle(s).color,
    background: getComputedStyle(s).backgroundColor, weight: getComputedStyle(s).fontWeight,
    decoration: getComputedStyle(s).textDecorationLine};
  const texts = [...document.querySelectorAll('#log .log-text')].map((t) => t.textContent);
  return {red: style(span('red words')), bold: style(span('bold under')),
    c256: style(span('orange256')), truecolour: style(span('truecolour')),
    inverse: style(span('inverted')),
    plain: getComputedStyle(document.querySelector('.log-viewport')).color,
    texts, elements: document.querySelectorAll('#log img, #log .log-text b').length,
    pwned: window.pwned === 1};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_ansi_colours_and_styles_render_as_styled_spans_never_as_html(
    dashboard: Dashboard, repo_id: str, scheme: str
) -> None:
    build_id = await start(dashboard, repo_id, "colours")
    await finished(dashboard, build_id)
    async with dashboard.tab(color_scheme=scheme) as tab:
        await open_log(dashboard, tab, build_id)
        seen = await tab.evaluate(COLOURS)
        raw = await tab.evaluate(RAW)
        await dashboard.screenshot(tab, f"log-colours-{scheme}")
    assert "ansi-fg1" in seen["red"]["classes"]
    assert seen["red"]["color"] not in {seen["plain"], ""}
    assert "ansi-bold" in seen["bold"]["classes"]
    assert seen["bold"]["weight"] == "700"
    assert seen["bold"]["decoration"] == "underline"
    assert seen["c256"]["color"] == "rgb(255, 135, 0)"
    assert seen["truecolour"]["color"] == "rgb(10, 20, 30)"
    assert seen["inverse"]["background"] == seen["plain"]  # the text colour, as a background
    texts = seen["texts"]
    assert "red words plain" in texts
    # Hostile output stays text: no element made from it, no script run.
    assert '<img src=x onerror="window.pwned=1"><b>not bold</b>' in texts
    assert (seen["elements"], seen["pwned"]) == (0, False)
    # A progress bar's carriage returns: the last state of the line is what shows.
    assert "progress done" in texts
    assert not any("progress 10%" in t for t in texts)
    assert not any("\x1b" in t or "[0m" in t for t in texts)
    # "Download raw" gives the file as stored, escapes and all.
    assert "\x1b[31mred words\x1b[0m plain\n" in raw


async def test_a_line_link_scrolls_to_its_line_after_reload(
    dashboard: Dashboard, repo_id: str
) -> None:
    build_id = await start(dashboard, repo_id, "numbered")
    await finished(dashboard, build_id)
    async with dashboard.tab() as tab:
        await open_log(dashboard, tab, build_id)
        await tab.evaluate(f"{VIEWPORT}.scrollTop = 110 * 20")
        await tab.wait_for(".log-line[data-line='123'] .log-ln")
        await tab.run(lambda page: page.click(".log-line[data-line='123'] .log-ln"))
        assert (await tab.evaluate("location.hash")) == "#L123"
        assert await tab.count(".log-line.is-target[data-line='123']") == 1

        async def reload(page: Page) -> None:
            await page.reload()

        await tab.run(reload)
        await tab.wait_for(".log-line.is-target[data-line='123']")
        assert await tab.evaluate(PLACE, [123, True]) == "in view"
        assert await tab.count(".log-follow[aria-pressed=false]") == 1

        # Opened on another page with the link: the same.
        await tab.goto("/")
        await tab.goto(f"/builds/{build_id}#L250")
        await tab.wait_for(".log-line.is-target[data-line='250']")
        assert await tab.evaluate(PLACE, [250, True]) == "in view"


async def test_search_counts_matches_and_moves_between_them(
    dashboard: Dashboard, repo_id: str
) -> None:
    build_id = await start(dashboard, repo_id, "numbered")
    await finished(dashboard, build_id)
    async with dashboard.tab() as tab:
        await open_log(dashboard, tab, build_id)

        await tab.evaluate(f"{VIEWPORT}.scrollTop = 0")

        async def search(page: Page) -> list[str]:
            await page.keyboard.press("/")  # the shortcut focuses the search field
            await page.keyboard.type("NUMBERED LINE 2")
            await page.wait_for_selector(".log-search-count:text-is('111 matches')")
            counts = []
            for key in ("Enter", "Enter", "Shift+Enter", "Shift+Enter"):
                await page.keyboard.press(key)
                counts.append(await page.locator(".log-search-count").inner_text())
            return counts

        counts = await tab.run(search)
        # 2, 20..29, 200..299: 111 matches (case-insensitive); from the top, then back past it.
        assert counts == ["1 of 111", "2 of 111", "1 of 111", "111 of 111"]
        await tab.wait_for(".log-line[data-line] mark.log-match-current")  # painted next frame
        assert (await tab.evaluate(CURRENT_LINE))["text"] == "numbered line 299"

        async def find_needle(page: Page) -> None:
            await page.fill(".log-search-input", "needle")
            await page.press(".log-search-input", "Enter")

        await tab.run(find_needle)
        await tab.wait_for(".log-search-count:text-is('1 of 1')")
        # The count changes at once, the highlight with the next frame.
        await tab.wait_for(".log-line[data-line] mark.log-match-current:text-is('needle')")
        line = await tab.evaluate(CURRENT_LINE)
        assert line["text"] == "needle-in-the-log"
        assert await tab.evaluate(PLACE, [line["n"], False]) == "in view"
        assert (
            await tab.evaluate("document.querySelector('mark.log-match-current').textContent")
            == "needle"
        )


async def test_steps_collapse_and_show_their_status_and_duration(
    dashboard: Dashboard, repo_id: str
) -> None:
    build_id = await start(dashboard, repo_id, "numbered")
    await finished(dashboard, build_id)
    async with dashboard.tab() as tab:
        await open_log(dashboard, tab, build_id)
        await tab.evaluate(f"{VIEWPORT}.scrollTop = 0")
        header = ".log-sizer .log-step[data-step='0']"
        await tab.wait_for(f"{header}[aria-expanded=true]")
        parts = await tab.evaluate(
            f'[...document.querySelector("{header}").children].map((c) => c.textContent)'
        )
        assert parts[1:3] == ["1. count", "succeeded"]
        assert re.fullmatch(r"\d+(\.\d)?s", parts[3]), parts
        assert parts[4] == "302 lines"  # its own 300, and the step's start and end notes
        assert await tab.count(".log-text:text-is('numbered line 1')") == 1

        async def collapse_by_keyboard(page: Page) -> None:
            await page.focus(header)
            await page.keyboard.press("Enter")

        await tab.run(collapse_by_keyboard)
        await tab.wait_for(f"{header}[aria-expanded=false]")
        assert await tab.count(".log-text:text-is('numbered line 1')") == 0
        # The next step's line moved up into view.
        await tab.wait_for(".log-text:text-is('needle-in-the-log')")
        await tab.run(lambda page: page.click(header))
        await tab.wait_for(".log-text:text-is('numbered line 1')")

        # Amid a step's lines, its header stays pinned at the top; it folds the step too.
        await tab.evaluate(f"{VIEWPORT}.scrollTop = 150 * 20")
        await tab.wait_for(".log-pinned .log-step[data-step='0']")
        await tab.run(lambda page: page.click(".log-pinned .log-step"))
        await tab.wait_for(f"{header}[aria-expanded=false]")
        assert await tab.evaluate(HEADER_PLACE, "0") == "in view"
        assert await tab.count(".log-pinned:not([hidden])") == 0
        await tab.run(lambda page: page.click(header))
        await tab.wait_for(".log-text:text-is('numbered line 1')")

        # The steps table's link to a step leads to its lines in the log.
        await tab.evaluate(f"{VIEWPORT}.scrollTop = 0")
        await tab.wait_for(".log-text:text-is('numbered line 1')")
        await tab.run(lambda page: page.click("[data-step-link='2']"))
        await tab.wait_for(".log-text:text-is('needle-in-the-log')")
        assert await tab.evaluate(HEADER_PLACE, "1") == "in view"


async def test_a_200000_line_log_keeps_the_dom_small_and_scrolls_to_its_end(
    dashboard: Dashboard, repo_id: str
) -> None:
    build_id = await start(dashboard, repo_id, "huge")
    await finished(dashboard, build_id)
    async with dashboard.tab() as tab:
        await tab.goto(f"/builds/{build_id}#L1")
        await tab.wait_for(".log-line.is-target[data-line='1']")
        await tab.wait_for("#log[data-state=ended]", seconds=60)
        assert int(await tab.evaluate("document.querySelector('#log').dataset.lines")) > BIG
        assert await tab.count(".log-line") < 500

        async def to_the_end(page: Page) -> None:
            await page.focus(".log-viewport")
            await page.keyboard.press("End")

        await tab.run(to_the_end)
        await tab.wait_for(f".log-text:text-is('row {BIG} of the big log')")
        assert await tab.count(".log-line") < 500
        assert await tab.count(".log-follow[aria-pressed=true]") == 1
        # Searching the whole log finds a line far from what is rendered.
        await tab.run(lambda page: page.fill(".log-search-input", "row 123456 of"))
        await tab.run(lambda page: page.press(".log-search-input", "Enter"))
        await tab.wait_for(".log-search-count:text-is('1 of 1')")
        await tab.wait_for("mark.log-match-current")
        line = await tab.evaluate(CURRENT_LINE)
        assert line["text"] == "row 123456 of the big log"
        assert await tab.evaluate(PLACE, [line["n"], False]) == "in view"
        assert await tab.count(".log-line") < 500
