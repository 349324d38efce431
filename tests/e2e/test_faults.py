"""Faults a build machine meets unattended, on a real daemon: `kill -9` in the middle of running
builds and of a workspace's clone, SIGTERM while builds run (and a fetch hangs), remotes that
cannot be reached or lost a branch, a disk short of space, and an actor crashing while builds
run; `kill -9` during a burst of webhooks is in test_load.py. Loopback only; waits are bounded.

Covered elsewhere and not repeated here: one build interrupted by `kill -9`, or while publishing
(test_builds.py); `kill -9` after a burst was answered (test_webhooks.py); cancelling a build
behind a hung fetch (test_repository_lifecycle.py); new builds held by the disk guard, with
/api/health degraded (test_disk_guard.py, which the disk test here continues).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo
from tests.e2e.test_builds import (
    BASE_ENV,
    FINISHED,
    INTERRUPTED,
    SECRET,
    Build,
    Ci,
    Repo,
    make_repo,
    push_payload,
)
from tests.e2e.test_repository_lifecycle import SilentGitServer
from tests.e2e.webhook_client import accepted_id
from tests.fakes.processes import leftovers

SETTLE = 60.0  # bound on a drain of everything a test sent (shared, busy cores)
POLL = 0.05


# --- helpers ------------------------------------------------------------------------------------


@asynccontextmanager
async def connected(daemon: Daemon) -> AsyncIterator[Ci]:
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        yield Ci(daemon, http)


@pytest.fixture
def token() -> Iterator[str]:
    """A word only this test's build processes have in their command line (`sleep 600.<n>`);
    whatever still holds it at the end is killed, so a failing test leaves nothing running."""
    word = f"600.{secrets.randbelow(10**9):09d}"
    yield word
    for line in leftovers(word):
        pid = int(line.split()[1])
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def no_leftovers(token: str, groups: frozenset[int], within: float) -> None:
    found: list[str] = []
    with trio.move_on_after(within):
        # Nothing announces a process's end to a stranger: /proc is polled.
        while found := await trio.to_thread.run_sync(leftovers, token, groups):  # noqa: ASYNC110
            await trio.sleep(POLL)
        return
    raise AssertionError(f"processes left behind after {within}s: {found}")


async def groups_of(ci: Ci, builds: list[Build]) -> frozenset[int]:
    """The process group of each build's running script, as its shell printed it."""
    return frozenset(
        [int((await ci.log_match(b["id"], r"pgid=(\d+)$"))[1]) for b in builds],
    )


async def sleeping(token: str, count: int) -> None:
    with trio.fail_after(30):
        while len(await trio.to_thread.run_sync(sleepers, token)) < count:  # noqa: ASYNC110
            await trio.sleep(POLL)


def sleepers(token: str) -> list[str]:
    return [line for line in leftovers(token) if f"sleep {token}" in line]


def steps_of(build: Build) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in build["steps"]]


async def unfinished(ci: Ci, repository_id: str) -> list[Build]:
    return [b for b in await ci.builds(repository=repository_id) if b["status"] not in FINISHED]


# --- kill -9 and SIGTERM during 5 running builds ------------------------------------------------

FIVE = 5
FIVE_PIPELINE = """\
definitions:
  long: &long
    triggering:
      events: [push]
    scripts:
      - name: long
        script: |
          if [ -f {resume} ]; then echo resumed; exit 0; fi
          echo "pgid=$(ps -o pgid= -p $$ | tr -d " ")"
          sleep {token}
  short: &short
    triggering:
      events: [push]
    scripts:
      - name: short
        script: |
          echo "pgid=$(ps -o pgid= -p $$ | tr -d " ")"
          sleep {token} &
          while [ ! -f {finish} ]; do sleep 0.05; done
          kill %1
          echo finished
workflows:
  w1: *long
  w2: *long
  w3: *long
  w4: *long
  w5: *{fifth}
"""


@dataclass(frozen=True, slots=True)
class Five:
    """A repository whose one push starts five builds that sleep (the fifth, with `short`, only
    until the file `finish` exists; the others until killed, or at once when `resume` exists)."""

    git: GitRepo
    resume: Path
    finish: Path

    @classmethod
    def make(cls, tmp_path: Path, token: str, *, short: bool = False) -> Five:
        resume, finish = tmp_path / "resume", tmp_path / "finish"
        pipeline = FIVE_PIPELINE.format(
            resume=resume, finish=finish, token=token, fifth="short" if short else "long"
        )
        return cls(make_repo(tmp_path, "five", pipeline), resume, finish)


async def start_five(ci: Ci, five: Five, token: str) -> tuple[Repo, list[Build], frozenset[int]]:
    """Push once; return when the five builds run, with their process groups."""
    repo = await ci.register(five.git, "five")
    made = await ci.push(repo, "main", five.git.head())
    builds = [made[f"w{n}"] for n in range(1, FIVE + 1)]
    groups = await groups_of(ci, builds)
    await sleeping(token, FIVE)
    for build in builds:
        assert (await ci.build(build["id"]))["status"] == "running"
    return repo, builds, groups


async def test_kill_9_during_five_builds_runs_each_again_once_and_leaves_no_process(
    daemon_factory: type[Daemon], tmp_path: Path, token: str
) -> None:
    five = Five.make(tmp_path, token)
    env = {**BASE_ENV, "OORE_MAX_CONCURRENT_BUILDS": str(FIVE)}
    daemon = await daemon_factory(tmp_path, **env).start()
    async with connected(daemon) as ci:
        repo, builds, groups = await start_five(ci, five, token)
    daemon.kill()
    # Each script's reaper outlives the daemon only briefly: it kills what it runs on its own.
    await no_leftovers(token, groups, within=10)
    five.resume.touch()

    await daemon.start()
    async with connected(daemon) as ci:
        with trio.fail_after(SETTLE):
            done = [await ci.finished(b["id"]) for b in builds]
        for build in done:
            assert build["status"] == "succeeded", build
            assert (build["attempt"], build["retry_of"]) == (1, None)
            assert steps_of(build) == [("long", "succeeded")]  # the run after the restart only
            log = await ci.log(build["id"])
            assert log.index("pgid=") < log.index(INTERRUPTED) < log.index("resumed"), log
        assert sorted(b["id"] for b in await ci.builds(repository=repo.id)) == sorted(
            b["id"] for b in builds
        )
    assert await daemon.stop() == 0
    await no_leftovers(token, groups, within=1)


STUCK_GIT = """\
#!/bin/sh
# git, except that while {stuck} exists a clone does not return once done (as on a stuck disk).
for arg in "$@"; do
  if [ "$arg" = clone ] && [ -f {stuck} ]; then "{git}" "$@"; exec sleep {token}; fi
done
exec "{git}" "$@"
"""


async def test_a_build_killed_while_its_workspace_was_cloned_runs_again(
    daemon_factory: type[Daemon], tmp_path: Path, token: str
) -> None:
    git = make_repo(tmp_path, "app", REMOTE_PIPELINE)
    stuck, bin_dir = tmp_path / "stuck", tmp_path / "bin"
    bin_dir.mkdir()
    real_git = shutil.which("git")
    assert real_git is not None
    (bin_dir / "git").write_text(STUCK_GIT.format(stuck=stuck, git=real_git, token=token))
    (bin_dir / "git").chmod(0o755)
    stuck.touch()
    path = f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    daemon = await daemon_factory(tmp_path, **BASE_ENV, PATH=path).start()
    async with connected(daemon) as ci:
        repo = await ci.register(git, "app")
        build = (await ci.push(repo, "main", git.head()))["work"]
        await sleeping(token, 1)
        assert (await ci.build(build["id"]))["status"] == "preparing"
    daemon.kill()
    # The clone outlives a daemon killed alone (a service manager would kill the whole group).
    workspace = daemon.data_dir / "workspaces" / build["id"]
    for line in leftovers(token) + leftovers(str(workspace)):
        os.kill(int(line.split()[1]), signal.SIGKILL)
    assert (workspace / ".git").is_dir()  # made, but never recorded as the build's workspace
    stuck.unlink()

    await daemon.start()
    async with connected(daemon) as ci:
        again = await ci.succeeded(build["id"])
        assert (again["attempt"], steps_of(again)) == (1, [("echo hello", "succeeded")])
        assert INTERRUPTED in await ci.log(build["id"])
    assert await daemon.stop() == 0


async def test_sigterm_during_five_builds_exits_zero_within_the_grace(
    daemon_factory: type[Daemon], tmp_path: Path, token: str
) -> None:
    grace = 2.0
    five = Five.make(tmp_path, token, short=True)
    env = {**BASE_ENV, "OORE_MAX_CONCURRENT_BUILDS": str(FIVE), "OORE_SHUTDOWN_GRACE": str(grace)}
    daemon = await daemon_factory(tmp_path, **env).start()
    server = SilentGitServer()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        async with connected(daemon) as ci:
            repo, builds, groups = await start_five(ci, five, token)
            queued = await ci.trigger(repo, workflow="w1", branch="main")
            await ci.wait(queued["id"], lambda b: "slots busy" in (b["queue_reason"] or ""))
            # And a fetch that hangs: the grace bounds it too.
            hung = await ci.register(make_repo(tmp_path, "hung", REMOTE_PIPELINE), "hung")
            await point(ci, hung, server.url)
            body = json.dumps(push_payload(hung, "refs/heads/main", hung.git.head())).encode()
            held = accepted_id(await ci.provider.github("push", body, SECRET))
            await holding(server)
        assert daemon.process is not None
        daemon.process.send_signal(signal.SIGTERM)
        started = trio.current_time()
        five.finish.touch()  # the fifth build ends within the grace; the others would run on
        assert await daemon.wait_exit(grace + 5 + 5) == 0
        assert trio.current_time() - started < grace + 5
        nursery.cancel_scope.cancel()  # the remote is gone now: refused, not hung
    await no_leftovers(token, groups, within=1)
    five.resume.touch()

    await daemon.start()
    async with connected(daemon) as ci:
        with trio.fail_after(SETTLE):
            done = {b["workflow"]: await ci.finished(b["id"]) for b in builds}
        # Finished within the grace: recorded as it ended, not run again.
        short = done.pop("w5")
        assert (short["status"], steps_of(short)) == ("succeeded", [("short", "succeeded")])
        assert INTERRUPTED not in await ci.log(short["id"])
        # Still running when the grace ran out: queued again by the next start, run to the end.
        for build in done.values():
            assert (build["status"], steps_of(build)) == ("succeeded", [("long", "succeeded")])
            assert INTERRUPTED in await ci.log(build["id"])
        # Queued when the daemon stopped: run once it is back.
        again = await ci.succeeded(queued["id"])
        assert (again["attempt"], steps_of(again)) == (1, [("long", "succeeded")])
        assert await unfinished(ci, repo.id) == []
        # The event whose fetch hung is planned again: its remote refuses now, and says so.
        event = await ci.operator.settled(held)
        (fetch,) = event["builds"]
        assert fetch["status"] == "errored", fetch
        assert "Connection refused" in fetch["reason"], fetch
    assert await daemon.stop() == 0


# --- remotes that cannot be reached ------------------------------------------------------------

REMOTE_PIPELINE = """\
workflows:
  work:
    triggering:
      events: [push]
    scripts:
      - echo hello
"""


async def holding(server: SilentGitServer) -> None:
    """Until git has connected to the silent remote (it then waits for an answer for good)."""
    with trio.fail_after(20):
        while not server.held:  # noqa: ASYNC110 - the server sees git connect; nothing to await
            await trio.sleep(POLL)


async def point(ci: Ci, repo: Repo, url: str) -> None:
    """Change the repository's clone URL, as an operator would."""
    patched = await ci.http.patch(
        f"/api/repositories/{repo.id}", json={"clone_url": url}, headers=ci.daemon.headers()
    )
    assert patched.status_code == 200, patched.text


def dead_port_url() -> str:
    """An http:// clone URL on a loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/octo/dead.git"


async def test_unreachable_remotes_error_their_builds_and_other_repositories_keep_building(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    ok_git = make_repo(tmp_path, "ok", REMOTE_PIPELINE)
    gone_git = make_repo(tmp_path, "gone", REMOTE_PIPELINE)
    hung_git = make_repo(tmp_path, "hung", REMOTE_PIPELINE)
    server = SilentGitServer()
    async with (
        trio.open_nursery() as nursery,
        connected(await daemon_factory(tmp_path, **BASE_ENV).start()) as ci,
    ):
        await nursery.start(server.serve)
        ok = await ci.register(ok_git, "ok")
        gone = await ci.register(gone_git, "gone")
        hung = await ci.register(hung_git, "hung")
        dead = await ci.register(make_repo(tmp_path, "dead", REMOTE_PIPELINE), "dead")
        for repo, url in ((hung, server.url), (dead, dead_port_url())):
            await point(ci, repo, url)
        # The hung remote holds its repository's fetch for good: nothing else may wait on it.
        body = json.dumps(push_payload(hung, "refs/heads/main", hung_git.head())).encode()
        held = accepted_id(await ci.provider.github("push", body, SECRET))
        await holding(server)

        gone_sha = gone_git.head()
        gone_payload = push_payload(gone, "refs/heads/main", gone_sha)
        shutil.rmtree(gone_git.path)  # the registered path removed
        errored = {
            "dead": (dead.git.head(), await ci.push(dead, "main", dead.git.head())),
            "gone": (gone_sha, await ci.deliver("push", gone_payload)),
        }
        said = {"dead": "Couldn't connect to server", "gone": "does not appear to be a git repo"}
        for name, (sha, made) in errored.items():
            (build,) = made.values()
            build = await ci.finished(build["id"])
            assert build["status"] == "errored", build
            # What failed, where, what to check, and git's own words.
            assert build["reason"].startswith(f"fetching {sha[:12]} failed: fetch of "), build
            assert "Check that the repository URL is right" in build["reason"]
            assert said[name] in build["reason"], build

        built = await ci.push(ok, "main", ok_git.head())
        assert (await ci.succeeded(built["work"]["id"]))["status"] == "succeeded"
        assert (await ci.operator.event(held))["state"] == "pending"  # still fetching, alone
        nursery.cancel_scope.cancel()
    assert await ci.daemon.stop() == 0
    assert "Traceback" not in ci.daemon.log(), ci.daemon.log()


DISK_PIPELINE = """\
workflows:
  build:
    scripts:
      - echo "ran once the disk had room"
"""


async def test_a_push_whose_branch_was_deleted_before_it_was_processed_still_builds(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    """A branch merged and deleted upstream while its push waited (for a daemon restart, say):
    the build runs the pushed commit, which main still has."""
    git = make_repo(tmp_path, "app", REMOTE_PIPELINE)
    git.branch("feature")
    sha = git.commit("feature work", {"feature.txt": "done\n"})
    git.checkout("main")
    git.git("merge", "--quiet", "--ff-only", "feature")
    async with connected(await daemon_factory(tmp_path, **BASE_ENV).start()) as ci:
        repo = await ci.register(git, "app")
        payload = push_payload(repo, "refs/heads/feature", sha)
        git.git("branch", "--quiet", "-D", "feature")
        made = await ci.deliver("push", payload)
        assert list(made) == ["work"], made  # not a "(fetch)" error
        built = await ci.succeeded(made["work"]["id"])
        assert (built["sha"], built["branch"]) == (sha, "feature")
    assert await ci.daemon.stop() == 0


# --- the disk guard ------------------------------------------------------------------------------


async def test_a_build_held_by_the_disk_guard_survives_a_restart_and_runs_once_it_is_lowered(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", DISK_PIPELINE)
    # More than any disk here has free (test_disk_guard.py checks the wait and the health).
    short = await daemon_factory(tmp_path, **BASE_ENV, OORE_MIN_FREE_DISK=str(2**62)).start()
    async with connected(short) as ci:
        repo = await ci.register(git, "app")
        build = await ci.trigger(repo, workflow="build", branch="main")
        await ci.wait(build["id"], lambda b: "free disk space" in (b.get("queue_reason") or ""))
    assert await short.stop() == 0

    lowered = await daemon_factory(tmp_path, **BASE_ENV, OORE_MIN_FREE_DISK="0").start()
    async with connected(lowered) as ci:
        health = (await ci.http.get("/api/health")).json()
        assert health["status"] == "ok", health
        done = await ci.succeeded(build["id"])
        assert done["queue_reason"] is None
        assert [b["id"] for b in await ci.builds(repository=repo.id)] == [build["id"]]
        assert "ran once the disk had room" in await ci.log(build["id"])
    assert await lowered.stop() == 0


# --- an actor crashing while builds run ---------------------------------------------------------

CRASH_PIPELINE = """\
workflows:
  talker:
    environment:
      groups: [signing]
    scripts:
      - name: talk
        script: |
          i=0
          while [ ! -f {stop} ]; do i=$((i+1)); echo "line $i key=$API_KEY"; sleep 0.05; done
          echo "last line key=$API_KEY"
  gate:
    scripts:
      - name: gate
        script: while [ ! -f {gate} ]; do sleep 0.05; done
  victim:
    scripts:
      - name: victim
        script: for i in $(seq 1 20); do echo "victim $i"; sleep 0.02; done
"""
API_KEY = "tok-" + secrets.token_hex(12)


def restarts(metrics: str) -> dict[str, float]:
    return {
        sample.labels["actor"]: sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "oore_actor_restarts_total"
    }


async def test_the_log_streamer_crashing_mid_build_is_restarted_and_the_build_runs_on_masked(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    """The fault comes from outside, as a disk or an operator's clean-up would make it: the log
    file of a queued build cannot be opened (a directory stands at its path). The log streamer,
    the one writer of every build's log, crashes on it and is restarted by the supervisor while
    another build runs and prints a secret; that build runs on, its log complete from the restart
    on and the secret still masked, and the build whose log failed cannot crash it again."""
    stop, gate = tmp_path / "stop", tmp_path / "gate"
    git = make_repo(tmp_path, "app", CRASH_PIPELINE.format(stop=stop, gate=gate))
    daemon = await daemon_factory(tmp_path, **BASE_ENV, OORE_MAX_CONCURRENT_BUILDS="2").start()
    async with connected(daemon) as ci:
        group = await ci.http.put(
            "/api/secret-groups/signing",
            json={"variables": {"API_KEY": API_KEY}},
            headers=daemon.headers(),
        )
        assert group.status_code == 200, group.text
        repo = await ci.register(git, "app")
        talker = await ci.trigger(repo, workflow="talker", branch="main")
        await ci.log_match(talker["id"], r"^line 1 key=\*+$")
        holder = await ci.trigger(repo, workflow="gate", branch="main")
        await ci.wait(holder["id"], lambda b: b["status"] == "running")
        victim = await ci.trigger(repo, workflow="victim", branch="main")
        await ci.wait(victim["id"], lambda b: "slots busy" in (b.get("queue_reason") or ""))
        (daemon.data_dir / "logs" / f"{victim['id']}.log").mkdir()
        gate.touch()  # the victim starts, and its log cannot be opened

        assert (await ci.finished(victim["id"]))["status"] in FINISHED
        with trio.fail_after(10):
            while not restarts((await ci.operator.get("/metrics")).text)["log-streamer"]:  # noqa: ASYNC110
                await trio.sleep(POLL)
        seen = max(map(int, re.findall(r"^line (\d+) ", await ci.log(talker["id"]), re.M)))
        await ci.log_match(talker["id"], rf"^line {seen + 5} key=\*+$")  # written after it
        stop.touch()
        done = await ci.succeeded(talker["id"])
        assert steps_of(done) == [("talk", "succeeded")]
        log = await ci.log(talker["id"])
        assert "last line key=********" in log
        assert "interrupted" not in log  # it ran on: not requeued, not run again
        assert API_KEY not in log
        assert (await ci.succeeded(holder["id"]))["status"] == "succeeded"
        # Once: the victim's further output was dropped instead of crashing it again.
        assert restarts((await ci.operator.get("/metrics")).text)["log-streamer"] == 1
        assert (await ci.http.get("/api/health")).json()["status"] == "ok"
    assert await daemon.stop() == 0
    assert f"build {victim['id']}: its log cannot be written" in daemon.log()
    assert API_KEY not in daemon.log()
