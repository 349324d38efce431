"""Live build logs through a real `oored run`: WebSocket tails, resume, masking, the size cap.

Builds run real scripts from a real git repository (a file:// clone URL) and are started with
`POST /api/repositories/{id}/builds`. Viewers are real WebSocket clients (trio-websocket) that
check every line by its number and content. Where a test needs a viewer attached before the
build prints, a first step waits for a file the test creates once the viewer has its first lines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

from oore.crypto import generate_key
from oore.logs.wire import decode
from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo
from tests.e2e.signin import session_id
from tests.e2e.webhook_client import Operator

pytestmark = pytest.mark.e2e

FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out", "skipped", "errored"})
BUILD_TIMEOUT = 30.0
POLL = 0.02
BASE_ENV = {"OORE_SHUTDOWN_GRACE": "1", "OORE_LOG_LEVEL": "warning"}
NUMBERED = re.compile(r"^n=(\d+) ", re.M)
NOTICE = "[oore] log size limit"
CAP = 20_000

Message = dict[str, Any]


# --- pipelines ----------------------------------------------------------------------------------

# `gate` holds the build until the test has a viewer attached (it creates the file).
PIPELINE = """\
workflows:
  gated:
    scripts:
      - name: gate
        script: |
          while [ ! -f {gate} ]; do sleep 0.02; done
      - name: print
        script: |
          python3 -u -c '
          import sys, time
          for n in range(1, {lines} + 1):
              sys.stdout.write(f"n={{n}} {{n * 7919 % 10007}}\\n")
              if n % {every} == 0:
                  sys.stdout.flush()
                  time.sleep({pause})
          '
      - name: after
        script: echo after-print
  burst:
    scripts:
      - name: print
        script: |
          python3 -u -c '
          import sys, time
          pad = "x" * 180
          for chunk in range(100):
              sys.stdout.write("".join(
                  f"n={{n}} {{pad}}\\n" for n in range(chunk * 1000 + 1, chunk * 1000 + 1001)))
              sys.stdout.flush()
              time.sleep(0.025)
          '
  secretive:
    environment:
      groups:
        - signing
    scripts:
      - name: print secrets
        script: |
          printf 'abc'; sleep 0.2; printf 'def-secret-7f3a\\n'
          echo "token is ${{TOKEN}}, keep it"
          printf 'pre-%s' "${{TOKEN%secret-7f3a}}" >&2; sleep 0.2
          printf '%s-post\\n' "secret-7f3a" >&2
  flood:
    scripts:
      - name: flood
        script: |
          python3 -c 'import sys; sys.stdout.write(("x" * 99 + "\\n") * 10000)'
          echo "still running after the cap"
          echo done > {marker}
      - name: second
        script: echo second > {marker}.2
  wide:
    scripts:
      - name: wide
        script: python3 -c 'print(("a" * 4096 + "b" * 904 + "\\n") * 1200, end="")'
  failing:
    scripts:
      - name: count
        script: |
          for i in $(seq 1 300); do echo "n=$i row"; done
      - name: fail
        script: |
          echo "about to fail" >&2
          exit 3
"""


def pipeline(tmp_path: Path, *, lines: int = 2000, every: int = 50, pause: float = 0.02) -> str:
    return PIPELINE.format(
        gate=tmp_path / "gate",
        marker=tmp_path / "marker",
        lines=lines,
        every=every,
        pause=pause,
    )


# --- a daemon, its API and its WebSockets -------------------------------------------------------


@dataclass(slots=True)
class Viewer:
    """What one WebSocket client received, in order, and how the socket was closed."""

    messages: list[Message] = field(default_factory=list)
    code: int | None = None
    reason: str | None = None

    def of(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def end(self) -> Message:
        ends = self.of("end")
        assert len(ends) == 1, self.messages[-3:]
        assert self.messages[-1] is ends[0]
        return ends[0]

    def text(self, since: int = 1) -> str:
        """The lines received, after checking they are numbered from `since` with no gap."""
        expected = since
        for message in self.of("lines"):
            assert message["first"] == expected, (message["first"], expected)
            assert message["text"].endswith("\n")
            expected += message["text"].count("\n")
        return "".join(m["text"] for m in self.of("lines"))

    @property
    def next_line(self) -> int:
        last = self.of("lines")[-1]
        return int(last["first"]) + int(last["text"].count("\n"))


class Ci:
    def __init__(self, daemon: Daemon, http: httpx.AsyncClient) -> None:
        self.daemon = daemon
        self.http = http
        self.operator = Operator(http, daemon.headers())
        self.token = daemon.admin_token.strip()

    async def register(self, git: GitRepo) -> str:
        created = await self.operator.register("github", "octo", "app", clone_url=git.url)
        return str(created["id"])

    async def trigger(self, repo_id: str, workflow: str) -> str:
        body = {"workflow": workflow, "branch": "main"}
        response = await self.operator.post(f"/api/repositories/{repo_id}/builds", body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def build(self, build_id: str) -> dict[str, Any]:
        response = await self.operator.get(f"/api/builds/{build_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def finished(self, build_id: str) -> dict[str, Any]:
        with trio.fail_after(BUILD_TIMEOUT):
            while (build := await self.build(build_id))["status"] not in FINISHED:  # noqa: ASYNC110
                await trio.sleep(POLL)
        return build

    async def log(self, build_id: str, accept: str = "text/plain", **params: Any) -> httpx.Response:
        response = await self.http.get(
            f"/api/builds/{build_id}/log",
            params=params,
            headers={**self.daemon.headers(), "Accept": accept},
        )
        assert response.status_code == 200, response.text
        return response

    @asynccontextmanager
    async def socket(
        self, path: str, headers: list[tuple[str, str]] | None = None, *, receive_buffer: int = 0
    ) -> AsyncIterator[WebSocketConnection]:
        """A WebSocket on `path`, with the admin token unless `headers` are given.

        The TCP stream is ours to close: trio-websocket 0.12 leaves it open when the server
        closes first (its `aclose` returns early), which leaks a socket per finished viewer.
        `receive_buffer` fixes the kernel's receive buffer (autotuned up to 32 MiB on loopback
        otherwise, enough to hide a whole stalled build from the server).
        """
        sent = [("Authorization", f"Bearer {self.token}")] if headers is None else headers
        host, port = self.daemon.url.removeprefix("http://").split(":")
        sock = trio.socket.socket()
        try:
            if receive_buffer:
                sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, receive_buffer)
            await sock.connect((host, int(port)))
        except BaseException:
            sock.close()
            raise
        stream = trio.SocketStream(sock)
        async with stream, trio.open_nursery() as nursery:
            ws = await wrap_client_stream(
                nursery,
                stream,
                f"{host}:{port}",
                path,
                extra_headers=sent,  # type: ignore[arg-type]
            )
            try:
                yield ws
            finally:
                await ws.aclose()

    async def watch(
        self,
        build_id: str,
        since: int | None = None,
        *,
        headers: list[tuple[str, str]] | None = None,
        stop: Callable[[Viewer], bool] = lambda _: False,
        on_message: Callable[[Viewer], Any] | None = None,
    ) -> Viewer:
        """Read the build's log stream until the server closes it (or `stop` says so)."""
        query = "" if since is None else f"?since={since}"
        viewer = Viewer()
        with trio.fail_after(BUILD_TIMEOUT):
            async with self.socket(f"/api/builds/{build_id}/logs/stream{query}", headers) as ws:
                await read_until_closed(ws, viewer, stop, on_message)
        return viewer


async def read_until_closed(
    ws: WebSocketConnection,
    viewer: Viewer,
    stop: Callable[[Viewer], bool] = lambda _: False,
    on_message: Callable[[Viewer], Any] | None = None,
) -> None:
    while not stop(viewer):
        try:
            viewer.messages.append(decode(await ws.get_message()))
        except ConnectionClosed as closed:
            reason = closed.reason
            viewer.code = None if reason is None else reason.code
            viewer.reason = None if reason is None else reason.reason
            return
        if on_message is not None:
            await on_message(viewer)


@asynccontextmanager
async def running_ci(factory: type[Daemon], home: Path, **env: str) -> AsyncIterator[Ci]:
    daemon = await factory(home, **{**BASE_ENV, **env}).start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        yield Ci(daemon, http)
    await daemon.stop()


@asynccontextmanager
async def ci_with_repo(
    factory: type[Daemon], tmp_path: Path, **env: str
) -> AsyncIterator[tuple[Ci, str]]:
    git = GitRepo(tmp_path / "git" / "app")
    git.commit("initial", {"codemagic.yaml": pipeline(tmp_path)})
    async with running_ci(factory, tmp_path, **env) as ci:
        yield ci, await ci.register(git)


def numbers(text: str) -> list[int]:
    return [int(n) for n in NUMBERED.findall(text)]


def expected_print(n: int) -> str:
    return f"n={n} {n * 7919 % 10007}\n"


def watched_lines(log: httpx.Response) -> int:
    return int(log.headers["X-Next-Line"]) - 1


def open_gate(tmp_path: Path) -> Callable[[Viewer], Any]:
    async def after_first_lines(viewer: Viewer) -> None:
        if viewer.of("lines"):
            await trio.Path(tmp_path / "gate").touch()

    return after_first_lines


def step_events(viewer: Viewer) -> list[tuple[str, str]]:
    return [(m["step"]["name"], m["step"]["status"]) for m in viewer.of("step")]


# --- the tests ----------------------------------------------------------------------------------


@pytest.fixture
async def ci_repo(daemon_factory: type[Daemon], tmp_path: Path) -> AsyncIterator[tuple[Ci, str]]:
    async with ci_with_repo(daemon_factory, tmp_path) as pair:
        yield pair


async def test_live_lines_arrive_in_order_with_steps_and_the_final_status(
    ci_repo: tuple[Ci, str], tmp_path: Path
) -> None:
    ci, repo_id = ci_repo
    build_id = await ci.trigger(repo_id, "gated")
    viewer = await ci.watch(build_id, on_message=open_gate(tmp_path))

    text = viewer.text()
    assert numbers(text) == list(range(1, 2001))
    printed = [line + "\n" for line in text.splitlines() if NUMBERED.match(line)]
    assert printed == [expected_print(n) for n in range(1, 2001)]
    assert "after-print\n" in text
    # Lines came while the script printed (~0.8 s of pauses), not all at the end.
    first_print = next(i for i, m in enumerate(viewer.messages) if "n=1 " in m.get("text", ""))
    print_done = viewer.messages.index(
        next(
            m
            for m in viewer.of("step")
            if m["step"]["name"] == "print" and m["step"]["status"] == "succeeded"
        )
    )
    assert len(viewer.of("lines")) > 10
    assert first_print < print_done
    steps = step_events(viewer)
    for name in ("print", "after"):
        assert steps.index((name, "running")) < steps.index((name, "succeeded"))
    assert ("gate", "succeeded") in steps
    assert viewer.end["status"] == "succeeded"
    assert viewer.end["next"] == viewer.next_line
    assert (viewer.code, viewer.reason) == (1000, "succeeded")
    # What was streamed is exactly what is stored.
    assert (await ci.log(build_id)).text == text


async def test_resume_with_since_after_disconnects(ci_repo: tuple[Ci, str], tmp_path: Path) -> None:
    ci, repo_id = ci_repo
    build_id = await ci.trigger(repo_id, "gated")

    def enough(viewer: Viewer) -> bool:
        seen = numbers("".join(m["text"] for m in viewer.of("lines")))
        return len(seen) >= 250 and 2000 not in seen

    # Hang up after every ~250 printed lines and come back with since=<next line>.
    segments = [await ci.watch(build_id, on_message=open_gate(tmp_path), stop=enough)]
    statuses = []
    while segments[-1].code is None:
        statuses.append((await ci.build(build_id))["status"])
        since = segments[-1].next_line
        segments.append(await ci.watch(build_id, since=since, stop=enough))
        assert segments[-1].of("lines")[0]["first"] == since

    assert statuses.count("running") >= 3  # hung up mid-build, not only replays
    text = "".join(v.text(since=v.of("lines")[0]["first"]) for v in segments)
    assert numbers(text) == list(range(1, 2001))
    assert text == (await ci.log(build_id)).text
    assert (segments[-1].end["status"], segments[-1].code) == ("succeeded", 1000)


async def stall(ci: Ci, build_id: str, viewer: Viewer, until: Callable[[], Any]) -> dict[str, Any]:
    """Read the first printed line, then nothing until `until()` returns, then the rest.

    The small receive buffer makes the server feel the stall within ~100 KB instead of the
    32 MiB loopback autotuning allows. Returns the build as it was when reading resumed.
    """
    stream = f"/api/builds/{build_id}/logs/stream"
    async with ci.socket(stream, receive_buffer=32 * 1024) as ws:
        await read_until_closed(ws, viewer, stop=lambda v: bool(numbers(v.text())))
        stalled = trio.current_time()
        await until()
        assert trio.current_time() - stalled >= 1.5
        build = await ci.build(build_id)
        build["behind"] = watched_lines(await ci.log(build_id)) - viewer.next_line
        await read_until_closed(ws, viewer)
    return build


async def test_stalled_viewers_get_every_line_once_and_do_not_slow_the_build(
    ci_repo: tuple[Ci, str],
) -> None:
    ci, repo_id = ci_repo
    alone = await ci.finished(await ci.trigger(repo_id, "burst"))
    assert alone["status"] == "succeeded"

    build_id = await ci.trigger(repo_id, "burst")
    # One viewer reads nothing until the build is over (if the streamer waited for it, the
    # build would never finish); another pauses 1.5 s mid-build, so it overflows, catches up
    # from disk and rejoins the live lines while the build is still printing.
    until_end, paused = Viewer(), Viewer()
    resumed: dict[str, dict[str, Any]] = {}

    async def watch(name: str, viewer: Viewer, until: Callable[[], Any]) -> None:
        resumed[name] = await stall(ci, build_id, viewer, until)

    async def pause() -> None:
        await trio.sleep(1.5)

    with trio.fail_after(BUILD_TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch, "until_end", until_end, lambda: ci.finished(build_id))
            nursery.start_soon(watch, "paused", paused, pause)

    assert resumed["until_end"]["status"] == "succeeded"
    assert resumed["until_end"]["behind"] > 50_000  # it really fell far behind the build
    assert resumed["paused"]["status"] == "running"  # it came back while lines were live
    assert resumed["paused"]["behind"] > 10_000
    stored = (await ci.log(build_id)).text
    for viewer in (until_end, paused):
        assert numbers(viewer.text()) == list(range(1, 100_001))
        assert viewer.text() == stored
        assert (viewer.end["status"], viewer.code) == ("succeeded", 1000)
    watched = resumed["until_end"]
    ratio = watched["duration_seconds"] / alone["duration_seconds"]
    print(
        f"build duration alone {alone['duration_seconds']:.2f}s, "
        f"with stalled viewers {watched['duration_seconds']:.2f}s, ratio {ratio:.2f}"
    )
    assert ratio < 1.5


async def test_secrets_are_masked_also_when_split_across_reads(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    secret = "abcdef-secret-7f3a"
    async with ci_with_repo(daemon_factory, tmp_path, OORE_ENCRYPTION_KEY=generate_key()) as (
        ci,
        repo_id,
    ):
        group = await ci.http.put(
            "/api/secret-groups/signing",
            json={"variables": {"TOKEN": secret}},
            headers=ci.daemon.headers(),
        )
        assert group.status_code == 200, group.text
        build_id = await ci.trigger(repo_id, "secretive")
        viewer = await ci.watch(build_id)
        assert viewer.end["status"] == "succeeded"
        streamed = viewer.text()
        for line in ("********", "token is ********, keep it", "pre-********-post"):
            assert re.search(rf"^{re.escape(line)}$", streamed, re.M), (line, streamed)
        stored = (await ci.log(build_id)).text
        ndjson = (await ci.log(build_id, accept="application/x-ndjson")).text
        download = (await ci.log(build_id, download=1)).text
        assert stored == streamed == download
        assert '"text": "********"' in ndjson
        for where in (streamed, stored, ndjson, download):
            assert secret not in where
            assert "def-secret" not in where  # no half of it either
            assert "secret-7f3a" not in where


async def flood(ci: Ci, repo_id: str, tmp_path: Path) -> str:
    """Run the `flood` build (1 MB of output, then more work); its log, checked complete."""
    build_id = await ci.trigger(repo_id, "flood")
    viewer = await ci.watch(build_id)
    assert viewer.end["status"] == "succeeded"
    assert (tmp_path / "marker").read_text() == "done\n"  # the script ran past its output
    assert (tmp_path / "marker.2").read_text() == "second\n"  # and the next step too
    build = await ci.build(build_id)
    assert [s["status"] for s in build["steps"]] == ["succeeded", "succeeded"]
    log = (await ci.log(build_id)).text
    assert viewer.text() == log
    on_disk = ci.daemon.data_dir / "logs" / f"{build_id}.log"
    assert on_disk.stat().st_size == len(log.encode())
    return log


async def test_the_size_cap_keeps_the_build_running(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with ci_with_repo(daemon_factory, tmp_path, OORE_MAX_LOG_BYTES=str(CAP)) as (ci, repo):
        log = await flood(ci, repo, tmp_path)
    lines = log.splitlines(keepends=True)
    assert lines[-1].startswith(NOTICE), log[-300:]
    assert log.count(NOTICE) == 1
    assert "still running after the cap" not in log
    assert len(log.encode()) <= CAP + len(lines[-1].encode())
    assert all(line.startswith("[oore] ") or line == "x" * 99 + "\n" for line in lines)


async def test_the_size_cap_keeps_the_output_that_fits(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with ci_with_repo(daemon_factory, tmp_path, OORE_MAX_LOG_BYTES=str(CAP)) as (ci, repo):
        log = await flood(ci, repo, tmp_path)
    notice = log.splitlines(keepends=True)[-1]
    assert len(log.encode()) > CAP - 100 - len(notice)  # 100: one printed line


async def test_websocket_auth_close_codes_and_the_session_cookie(ci_repo: tuple[Ci, str]) -> None:
    ci, repo_id = ci_repo
    build_id = await ci.trigger(repo_id, "failing")
    await ci.finished(build_id)

    for headers in ([], [("Authorization", "Bearer not-a-token")], [("Authorization", "Basic x")]):
        refused = await ci.watch(build_id, headers=headers)
        assert (refused.messages, refused.code) == ([], 4401), headers
        assert refused.reason
        async with ci.socket("/api/events", headers) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason is not None
            assert closed.value.reason.code == 4401

    unknown = await ci.watch("01J0000000000000000000000Z")
    assert (unknown.messages, unknown.code) == ([], 4404)
    assert unknown.reason is not None
    assert "not found" in unknown.reason

    # A session cookie counts only from the dashboard's own origin (OORE_BASE_URL).
    origin = ("Origin", ci.daemon.url)
    session = await session_id(ci.daemon, ci.token)
    cookie = [("Cookie", f"oore_session={session}"), origin]
    by_cookie = await ci.watch(build_id, headers=cookie)
    assert (by_cookie.end["status"], by_cookie.code) == ("failed", 1000)
    bad_cookie = await ci.watch(build_id, headers=[("Cookie", "oore_session=nope"), origin])
    assert bad_cookie.code == 4401
    assert (await ci.watch(build_id, headers=cookie[:1])).code == 4403
    # The cookie holds a session id: the token itself is no session.
    as_token = [("Cookie", f"oore_session={ci.token}"), origin]
    assert (await ci.watch(build_id, headers=as_token)).code == 4401

    # An API token with read scope may watch; once revoked it may not.
    made = await ci.operator.post("/api/tokens", {"name": "viewer", "scope": "read"})
    assert made.status_code == 201, made.text
    reader = [("Authorization", f"Bearer {made.json()['token']}")]
    assert (await ci.watch(build_id, headers=reader)).code == 1000
    revoked = await ci.http.delete(f"/api/tokens/{made.json()['id']}", headers=ci.daemon.headers())
    assert revoked.status_code in (200, 204), revoked.text
    assert (await ci.watch(build_id, headers=reader)).code == 4401


async def test_a_finished_build_is_replayed_and_closed_with_its_status(
    ci_repo: tuple[Ci, str],
) -> None:
    ci, repo_id = ci_repo
    build_id = await ci.trigger(repo_id, "failing")
    assert (await ci.finished(build_id))["status"] == "failed"
    stored = (await ci.log(build_id)).text
    total = stored.count("\n")

    whole = await ci.watch(build_id, since=1)
    assert whole.text() == stored
    assert numbers(stored) == list(range(1, 301))
    assert (whole.end["status"], whole.end["next"], whole.code, whole.reason) == (
        "failed",
        total + 1,
        1000,
        "failed",
    )
    middle = total // 2
    tail = await ci.watch(build_id, since=middle)
    assert tail.text(since=middle) == "".join(stored.splitlines(keepends=True)[middle - 1 :])
    assert (tail.end["status"], tail.code) == ("failed", 1000)
    past = await ci.watch(build_id, since=total + 50)
    assert past.of("lines") == []
    assert (past.end["status"], past.end["next"], past.code) == ("failed", total + 1, 1000)


async def test_a_replay_of_long_lines_comes_in_messages_a_client_accepts(
    ci_repo: tuple[Ci, str],
) -> None:
    ci, repo_id = ci_repo
    build_id = await ci.trigger(repo_id, "wide")
    assert (await ci.finished(build_id))["status"] == "succeeded"
    # trio-websocket refuses messages over 1 MiB (closing with 1009), as many clients do.
    replay = await ci.watch(build_id, since=1)
    assert (replay.end["status"], replay.code) == ("succeeded", 1000)
    text = replay.text()
    assert max(len(m["text"]) for m in replay.of("lines")) <= 512 * 1024
    long_lines = [line for line in text.splitlines() if line[:1] in ("a", "b")]
    # A 5,000-byte line is cut at 4 KiB and continued on the next line.
    assert long_lines == ["a" * 4096, "b" * 904] * 1200


async def test_get_log_since_step_ndjson_and_download(ci_repo: tuple[Ci, str]) -> None:
    ci, repo_id = ci_repo
    build_id = await ci.trigger(repo_id, "failing")
    build = await ci.finished(build_id)
    whole = await ci.log(build_id)
    lines = whole.text.splitlines(keepends=True)
    assert whole.headers["content-type"].startswith("text/plain")
    assert whole.headers["X-Next-Line"] == str(len(lines) + 1)

    tail = await ci.log(build_id, since=len(lines) - 4)
    assert tail.text == "".join(lines[-5:])
    assert tail.headers["X-Next-Line"] == str(len(lines) + 1)
    beyond = await ci.log(build_id, since=len(lines) + 10)
    assert (beyond.text, beyond.headers["X-Next-Line"]) == ("", str(len(lines) + 10))

    rows = [
        json.loads(r) for r in (await ci.log(build_id, "application/x-ndjson")).text.splitlines()
    ]
    assert [r["n"] for r in rows] == list(range(1, len(lines) + 1))
    assert [r["text"] + "\n" for r in rows] == lines
    assert {r["stream"] for r in rows} == {"stdout", "stderr", "oore"}
    failing = [r for r in rows if r["text"] == "about to fail"]
    assert [(r["step"], r["stream"]) for r in failing] == [(1, "stderr")]
    assert rows[failing[0]["n"] - 1] == failing[0]
    count_step = build["steps"][0]["index"]
    only = await ci.log(build_id, "application/x-ndjson", step=count_step, since=3)
    picked = [json.loads(r) for r in only.text.splitlines()]
    assert picked
    assert {r["step"] for r in picked} == {count_step}
    assert all(r["n"] >= 3 for r in picked)
    assert [r["text"] for r in picked if r["stream"] == "stdout"] == [
        f"n={i} row" for i in range(1, 301)
    ]
    assert only.headers["content-type"].startswith("application/x-ndjson")

    download = await ci.log(build_id, download=1)
    assert download.text == whole.text
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert f"{build_id}.log" in disposition
    bad = await ci.http.get(
        f"/api/builds/{build_id}/log", params={"since": "x"}, headers=ci.daemon.headers()
    )
    assert bad.status_code == 422


async def test_events_stream_build_and_step_changes_in_order(ci_repo: tuple[Ci, str]) -> None:
    ci, repo_id = ci_repo
    seen: list[Message] = []
    with trio.fail_after(BUILD_TIMEOUT):
        async with ci.socket("/api/events") as ws:
            await trio.sleep(0.2)  # the server subscribes right after accepting
            # A repository change is announced for in-process caches, not on this stream.
            patched = await ci.http.patch(
                f"/api/repositories/{repo_id}",
                json={"badge_public": True},
                headers=ci.daemon.headers(),
            )
            assert patched.status_code == 200, patched.text
            build_id = await ci.trigger(repo_id, "failing")
            started = time.monotonic()
            while not any(
                m["type"] == "build_changed" and m["build"]["status"] == "failed" for m in seen
            ):
                seen.append(decode(await ws.get_message()))
            assert time.monotonic() - started < BUILD_TIMEOUT

    mine = [
        m for m in seen if m.get("build", {}).get("id") == build_id or m.get("build_id") == build_id
    ]
    kinds = [m["type"] for m in mine]
    assert {m["type"] for m in seen} <= {
        "build_created",
        "build_changed",
        "step_changed",
        "queue_changed",
        "heartbeat",
        "resync",
    }
    assert kinds[0] == "build_created"
    assert [m["build"]["status"] for m in mine if m["type"] == "build_changed"] == [
        "preparing",
        "running",
        "failed",
    ]
    steps = [(m["step"]["name"], m["step"]["status"]) for m in mine if m["type"] == "step_changed"]
    assert steps == [
        ("count", "running"),
        ("count", "succeeded"),
        ("fail", "running"),
        ("fail", "failed"),
    ]
    assert kinds.index("step_changed") > kinds.index("build_changed")
