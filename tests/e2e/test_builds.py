"""Pipelines and build execution through a real `oored run`.

Each test makes real git repositories in `tmp_path` (served to the daemon as file:// clone URLs),
sends signed GitHub deliveries or starts builds through the API, and checks what the build did:
its status, steps, log, artifacts, and the processes it left (none). Waits are bounded polls of
the API; nothing sleeps a fixed time hoping the daemon is done.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from oore.crypto import generate_key
from tests.e2e.daemon import Daemon
from tests.e2e.gitrepo import GitRepo
from tests.e2e.webhook_client import Operator, Provider, accepted_id, error_of

SECRET = "e2e-builds-webhook-secret"
OWNER = "octo"
ZERO_SHA = "0" * 40
FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out", "skipped", "errored"})
ACTIVE = ("queued", "preparing", "running")
BUILD_TIMEOUT = 30.0
POLL = 0.02
BASE_ENV = {"OORE_SHUTDOWN_GRACE": "1", "OORE_LOG_LEVEL": "info"}
INTERRUPTED = "interrupted by a daemon restart"
UNMATCHED = "unmatched"  # not a build status: a workflow the event did not run (no build made)

Build = dict[str, Any]


# --- webhook payloads, shaped like GitHub's ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Repo:
    git: GitRepo
    id: str
    name: str
    github_id: int

    def identity(self) -> dict[str, Any]:
        return {
            "id": self.github_id,
            "name": self.name,
            "full_name": f"{OWNER}/{self.name}",
            "owner": {"login": OWNER},
            "clone_url": f"https://github.com/{OWNER}/{self.name}.git",
        }


def push_payload(repo: Repo, ref: str, after: str, *, before: str = ZERO_SHA) -> dict[str, Any]:
    commit = repo.git.git("rev-parse", f"{after}^{{commit}}")
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZERO_SHA,
        "deleted": False,
        "repository": repo.identity(),
        "pusher": {"name": "tester"},
        "head_commit": {
            "id": commit,
            "message": repo.git.git("log", "-1", "--format=%s", commit),
            "author": {"name": "Oore Tester", "username": "tester"},
        },
    }


def pull_request_payload(
    repo: Repo, number: int, head_sha: str, head_ref: str, base_ref: str
) -> dict[str, Any]:
    return {
        "action": "opened",
        "number": number,
        "repository": repo.identity(),
        "pull_request": {
            "number": number,
            "title": f"PR {number}",
            "user": {"login": "tester"},
            "head": {"sha": head_sha, "ref": head_ref},
            "base": {"ref": base_ref},
        },
    }


# --- a daemon and the API as the tests use it ---------------------------------------------------


class Ci:
    """One running daemon: a provider sending deliveries and an operator using the API."""

    def __init__(self, daemon: Daemon, http: httpx.AsyncClient) -> None:
        self.daemon = daemon
        self.http = http
        self.provider = Provider(http)
        self.operator = Operator(http, daemon.headers())
        self._github_ids = itertools.count(4242)

    async def register(self, git: GitRepo, name: str) -> Repo:
        github_id = next(self._github_ids)
        created = await self.operator.register(
            "github",
            OWNER,
            name,
            clone_url=git.url,
            github_repo_id=github_id,
            webhook_secret=SECRET,
        )
        return Repo(git, created["id"], name, github_id)

    async def deliver(self, event: str, payload: dict[str, Any]) -> dict[str, Build]:
        """Send a signed delivery; by workflow, the build its event made, or for a workflow it
        did not match (no build: the event keeps why) {"status": "unmatched", "reason": ...}."""
        body = json.dumps(payload).encode()
        event_id = accepted_id(await self.provider.github(event, body, SECRET))
        settled = await self.operator.settled(event_id)
        # An event that made no build is ignored (its reason says why), else processed.
        assert settled["state"] == ("processed" if settled["builds"] else "ignored"), settled
        by_workflow = {b["workflow"]: b for b in settled["builds"]}
        assert len(by_workflow) == len(settled["builds"]), settled["builds"]
        for found in settled["workflows"]:
            assert found["matched"] == (found["workflow"] in by_workflow), settled
            if not found["matched"]:
                by_workflow[found["workflow"]] = {"status": UNMATCHED, "reason": found["reason"]}
        return by_workflow

    async def push(self, repo: Repo, branch: str, sha: str, **kw: str) -> dict[str, Build]:
        return await self.deliver("push", push_payload(repo, f"refs/heads/{branch}", sha, **kw))

    async def push_tag(self, repo: Repo, tag: str) -> dict[str, Build]:
        # `after` is the tag object for an annotated tag; head_commit names the commit.
        after = repo.git.git("rev-parse", f"refs/tags/{tag}")
        return await self.deliver("push", push_payload(repo, f"refs/tags/{tag}", after))

    async def trigger(self, repo: Repo, **body: Any) -> Build:
        response = await self.operator.post(f"/api/repositories/{repo.id}/builds", body)
        assert response.status_code == 201, response.text
        build: Build = response.json()
        return build

    async def build(self, build_id: str) -> Build:
        response = await self.operator.get(f"/api/builds/{build_id}")
        assert response.status_code == 200, response.text
        found: Build = response.json()
        return found

    async def builds(self, **params: Any) -> list[Build]:
        response = await self.operator.get("/api/builds", limit=500, **params)
        assert response.status_code == 200, response.text
        items: list[Build] = response.json()["items"]
        return items

    async def wait(
        self, build_id: str, done: Callable[[Build], bool], within: float = BUILD_TIMEOUT
    ) -> Build:
        build: Build = {}
        with trio.move_on_after(within):
            # Polling the API is the point: it is what a client sees.
            while not done(build := await self.build(build_id)):  # noqa: ASYNC110
                await trio.sleep(POLL)
            return build
        raise AssertionError(f"build {build_id} not as expected after {within}s: {build}")

    async def finished(self, build_id: str, within: float = BUILD_TIMEOUT) -> Build:
        return await self.wait(build_id, lambda b: b["status"] in FINISHED, within)

    async def succeeded(self, build_id: str) -> Build:
        build = await self.finished(build_id)
        why = f"{build['status']}: {build['reason']}; steps {build['steps']}"
        assert build["status"] == "succeeded", f"{why}\n{await self.log(build_id)}"
        return build

    async def log(self, build_id: str) -> str:
        response = await self.operator.get(f"/api/builds/{build_id}/log")
        assert response.status_code == 200, response.text
        return response.text

    async def log_match(self, build_id: str, pattern: str) -> re.Match[str]:
        """The first match of `pattern` in the build's log, once it is there (bounded wait)."""
        with trio.move_on_after(BUILD_TIMEOUT):
            log = ""
            while (found := re.search(pattern, log, re.M)) is None:
                log = await self.log(build_id)
                await trio.sleep(POLL)
            return found
        raise AssertionError(f"{pattern!r} never appeared in the log of {build_id}")

    async def cancel(self, build_id: str) -> httpx.Response:
        return await self.operator.post(f"/api/builds/{build_id}/cancel")


@asynccontextmanager
async def running_ci(factory: type[Daemon], home: Path, **env: str) -> AsyncIterator[Ci]:
    daemon = await factory(home, **{**BASE_ENV, **env}).start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        yield Ci(daemon, http)
    await daemon.stop()


def make_repo(tmp_path: Path, name: str, pipeline: str | None, **files: str) -> GitRepo:
    git = GitRepo(tmp_path / "git" / name)
    content = {"README.md": f"{name}\n", **files}
    if pipeline is not None:
        content["codemagic.yaml"] = pipeline
    git.commit("initial", content)
    return git


def values_in(log: str) -> dict[str, str]:
    """`NAME=value` lines of a log (the last one of each name wins)."""
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", log, re.M))


async def gone(path: Path) -> None:
    with trio.fail_after(10):
        while await trio.Path(path).exists():  # noqa: ASYNC110 - no event for a removal
            await trio.sleep(POLL)


# --- processes ----------------------------------------------------------------------------------


async def group_processes(group: int) -> list[tuple[str, str]]:
    """(stat, command line) of every process in process group `group`, zombies included."""
    done = await trio.run_process(["ps", "-eo", "pgid=,stat=,args="], capture_stdout=True)
    found = []
    for line in done.stdout.decode(errors="replace").splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0] == str(group):
            found.append((parts[1], parts[2] if len(parts) > 2 else ""))
    return found


async def live_processes(group: int) -> list[tuple[str, str]]:
    # This machine's init does not always reap orphans: a zombie (Z) runs nothing and holds no
    # resources, so it does not count as left behind.
    return [p for p in await group_processes(group) if not p[0].startswith("Z")]


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups of builds a test started; any still running at the end are killed, so a
    failing test leaves no `sleep 600` behind."""
    started: list[int] = []
    yield started
    for group in started:
        listing = subprocess.run(
            ["ps", "-eo", "pgid=,stat="], capture_output=True, text=True, check=True
        ).stdout
        if any(
            p.split()[0] == str(group) and not p.split()[1].startswith("Z")
            for p in listing.splitlines()
        ):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


async def build_group(ci: Ci, build_id: str, groups: list[int]) -> int:
    """The process group of the build's running script (the reaper's), as its shell prints it."""
    group = int((await ci.log_match(build_id, r"pgid=(\d+)$"))[1])
    groups.append(group)
    return group


async def wait_for_sleepers(group: int, count: int) -> None:
    with trio.fail_after(BUILD_TIMEOUT):
        # No event tells when a process has started; ps is polled.
        while sum(c == "sleep 600" for _, c in await live_processes(group)) < count:  # noqa: ASYNC110
            await trio.sleep(POLL)


# --- 1: a push runs its workflow with the Codemagic environment ---------------------------------

ENV_PIPELINE = """\
workflows:
  build:
    name: Build
    triggering:
      events: [push]
      branch_patterns:
        - pattern: main
    scripts:
      - name: show environment
        script: |
          echo "hello from oore"
          echo "CI=$CI"
          echo "CM_BUILD_DIR=$CM_BUILD_DIR"
          echo "FCI_BUILD_DIR=$FCI_BUILD_DIR"
          echo "WORKDIR=$(pwd -P)"
          echo "BUILD_NUMBER=$BUILD_NUMBER"
          echo "PROJECT_BUILD_NUMBER=$PROJECT_BUILD_NUMBER"
          echo "CM_BRANCH=$CM_BRANCH"
          echo "CM_COMMIT=$CM_COMMIT"
          echo "CM_REPO_SLUG=$CM_REPO_SLUG"
          echo "README=$(cat README.md)"
      - echo second step ran
"""


async def test_push_runs_the_matching_workflow_with_the_codemagic_environment(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", ENV_PIPELINE, **{"README.md": "version one\n"})
    first = git.head()
    second = git.commit("two", {"README.md": "version two\n"})
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        # The branch has moved on to `second`; the build must use exactly the pushed commit.
        made = await ci.push(repo, "main", first)
        assert list(made) == ["build"]
        assert made["build"]["status"] in (*ACTIVE, "succeeded")
        build = await ci.succeeded(made["build"]["id"])
        log = await ci.log(build["id"])
        assert "hello from oore" in log
        assert "second step ran" in log
        seen = values_in(log)
        workspace = ci.daemon.data_dir / "workspaces" / build["id"]
        assert seen["CI"] == "true"
        assert seen["CM_BUILD_DIR"] == str(workspace)
        assert seen["FCI_BUILD_DIR"] == str(workspace)
        assert seen["WORKDIR"] == str(await trio.Path(workspace).resolve())
        assert seen["BUILD_NUMBER"] == str(build["number"]) == "1"
        assert seen["PROJECT_BUILD_NUMBER"] == str(build["project_build_number"]) == "1"
        assert seen["CM_BRANCH"] == "main"
        assert seen["CM_COMMIT"] == first == build["sha"]
        assert seen["CM_REPO_SLUG"] == "octo/app"
        assert seen["README"] == "version one"
        assert [(s["name"], s["status"], s["exit_code"]) for s in build["steps"]] == [
            ("show environment", "succeeded", 0),
            ("echo second step ran", "succeeded", 0),
        ]
        assert all(s["duration_seconds"] is not None for s in build["steps"])
        await gone(workspace)  # removed after a success (just after it is recorded)

        again = await ci.push(repo, "main", second, before=first)
        build = await ci.succeeded(again["build"]["id"])
        seen = values_in(await ci.log(build["id"]))
        assert seen["BUILD_NUMBER"] == "2"
        assert seen["PROJECT_BUILD_NUMBER"] == "2"
        assert (seen["CM_COMMIT"], seen["README"]) == (second, "version two")


# --- 2: which workflows an event runs, and why the others are skipped ----------------------------

SELECT_PIPELINE = """\
workflows:
  on-push:
    triggering:
      events: [push]
      branch_patterns:
        - pattern: main
    scripts:
      - echo "ran on-push"
  on-tag:
    triggering:
      events: [tag]
      tag_patterns:
        - pattern: 'v*'
    scripts:
      - echo "ran on-tag tag=$CM_TAG commit=$CM_COMMIT"
  on-pr:
    triggering:
      events: [pull_request]
      branch_patterns:
        - pattern: main
          source: false
    scripts:
      - echo "ran on-pr pr=$CM_PULL_REQUEST_NUMBER branch=$CM_BRANCH commit=$CM_COMMIT"
  by-hand:
    scripts:
      - echo "ran by-hand"
"""


def statuses(made: dict[str, Build]) -> dict[str, tuple[str, str | None]]:
    """Each workflow's outcome; a build that was made to run may already be under way."""
    return {w: (_outcome(b["status"]), b["reason"]) for w, b in made.items()}


def _outcome(status: str) -> str:
    return "runs" if status in (*ACTIVE, "succeeded") else status


async def test_tag_and_pull_request_events_pick_their_workflows(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", SELECT_PIPELINE)
    released = git.tag("v1.0", annotated=True)
    git.tag("nightly-5")
    git.branch("feature")
    feature = git.commit("feature work", {"feature.txt": "new\n"})
    git.pull_request(7, feature)
    git.pull_request(8, feature)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")

        made = await ci.push_tag(repo, "v1.0")
        assert statuses(made) == {
            "on-push": (UNMATCHED, "event tag not in triggering.events [push]"),
            "on-tag": ("runs", None),
            "on-pr": (UNMATCHED, "event tag not in triggering.events [pull_request]"),
            "by-hand": (UNMATCHED, "no triggering section: run it manually"),
        }
        # One build per push, not one per workflow: the list holds what ran.
        assert [b["workflow"] for b in await ci.builds(repository=repo.id)] == ["on-tag"]
        tagged = await ci.succeeded(made["on-tag"]["id"])
        assert f"ran on-tag tag=v1.0 commit={released}" in await ci.log(tagged["id"])

        made = await ci.push_tag(repo, "nightly-5")
        assert made["on-tag"]["status"] == UNMATCHED
        assert made["on-tag"]["reason"] == "tag 'nightly-5' not matched by tag_patterns"
        assert not [b for b in made.values() if b["status"] != UNMATCHED]

        made = await ci.deliver(
            "pull_request", pull_request_payload(repo, 7, feature, "feature", "main")
        )
        assert statuses(made)["on-pr"] == ("runs", None)
        assert made["on-push"]["reason"] == "event pull_request not in triggering.events [push]"
        pr = await ci.succeeded(made["on-pr"]["id"])
        assert f"ran on-pr pr=7 branch=feature commit={feature}" in await ci.log(pr["id"])
        assert (pr["kind"], pr["pr_number"]) == ("pull_request", 7)

        made = await ci.deliver(
            "pull_request", pull_request_payload(repo, 8, feature, "feature", "release")
        )
        assert statuses(made)["on-pr"] == (
            UNMATCHED,
            "pull request 'feature' -> 'release' not matched by branch_patterns",
        )

        made = await ci.push(repo, "feature", feature)
        assert statuses(made)["on-push"] == (
            UNMATCHED,
            "branch 'feature' not matched by branch_patterns",
        )
        assert not [b for b in made.values() if b["status"] != UNMATCHED]
        # Two builds in all (v1.0's on-tag, #7's on-pr): six pushes and pull requests.
        assert len(await ci.builds(repository=repo.id)) == 2


async def test_missing_pipeline_file_is_an_ignored_event_and_invalid_one_an_errored_build(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    bare = make_repo(tmp_path, "bare", None)
    broken = make_repo(tmp_path, "broken", SELECT_PIPELINE)
    bad_value = broken.commit(
        "bad value",
        {
            "codemagic.yaml": "workflows:\n  a:\n    scripts:\n      - echo hi\n"
            "    max_build_duration: soon\n"
        },
    )
    bad_yaml = broken.commit(
        "bad yaml", {"codemagic.yaml": "workflows:\n  a:\n    scripts:\n      - *nowhere\n"}
    )
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(bare, "bare")
        body = json.dumps(push_payload(repo, "refs/heads/main", bare.head())).encode()
        event_id = accepted_id(await ci.provider.github("push", body, SECRET))
        ignored = await ci.operator.settled(event_id)
        assert (ignored["state"], ignored["builds"], ignored["workflows"]) == ("ignored", [], [])
        assert ignored["reason"].startswith(f"no pipeline file at {bare.head()[:12]}")
        assert "codemagic.yaml" in ignored["reason"]
        assert await ci.builds(repository=repo.id) == []

        repo = await ci.register(broken, "broken")
        made = await ci.push(repo, "main", bad_value)
        (errored,) = made.values()
        assert errored["status"] == "errored"
        assert errored["reason"].startswith("codemagic.yaml:5 ")
        assert "max_build_duration" in errored["reason"]

        made = await ci.push(repo, "main", bad_yaml, before=bad_value)
        (errored,) = made.values()
        assert errored["status"] == "errored"
        assert errored["reason"].startswith("codemagic.yaml:4: undefined alias")
        for build in await ci.builds(repository=repo.id):
            assert (await ci.build(build["id"]))["steps"] == []


# --- 3, 4: failing, tolerated and timed-out scripts; CM_ENV ------------------------------------

OUTCOME_PIPELINE = """\
workflows:
  fails:
    scripts:
      - name: ok
        script: echo one
      - name: boom
        script: |
          echo about to fail
          exit 3
      - name: after
        script: echo should-not-run
  tolerant:
    scripts:
      - name: flaky
        script: exit 4
        ignore_failure: true
      - name: after
        script: echo still-ran
  slow:
    scripts:
      - name: too slow
        timeout: 1
        script: |
          echo "pgid=$(ps -o pgid= -p $$ | tr -d " ")"
          sleep 600
      - name: after
        script: echo never-ran
  exports:
    scripts:
      - name: export
        script: |
          echo "GREETING=hello world" >> "$CM_ENV"
          { echo "NOTES<<EOF"; echo "line one"; echo "line = two"; echo "EOF"; } >> "$CM_ENV"
      - name: read
        script: |
          echo "greeting=[$GREETING]"
          printf 'notes=[%s]\\n' "$NOTES"
"""


def step_outcomes(build: Build) -> list[tuple[str, str, int | None]]:
    return [(s["name"], s["status"], s["exit_code"]) for s in build["steps"]]


async def test_failed_ignored_and_timed_out_scripts(
    daemon_factory: type[Daemon], tmp_path: Path, groups: list[int]
) -> None:
    git = make_repo(tmp_path, "app", OUTCOME_PIPELINE)
    async with running_ci(daemon_factory, tmp_path, OORE_MAX_CONCURRENT_BUILDS="4") as ci:
        repo = await ci.register(git, "app")
        started = {
            name: await ci.trigger(repo, workflow=name, branch="main")
            for name in ("fails", "tolerant", "slow", "exports")
        }
        fails = await ci.finished(started["fails"]["id"])
        assert fails["status"] == "failed"
        assert step_outcomes(fails) == [
            ("ok", "succeeded", 0),
            ("boom", "failed", 3),
            ("after", "skipped", None),
        ]
        assert fails["steps"][1]["reason"] == "exited with code 3"
        log = await ci.log(fails["id"])
        assert "about to fail" in log
        assert "should-not-run" not in log

        tolerant = await ci.succeeded(started["tolerant"]["id"])
        assert step_outcomes(tolerant) == [("flaky", "failed", 4), ("after", "succeeded", 0)]
        assert "still-ran" in await ci.log(tolerant["id"])

        slow = await ci.finished(started["slow"]["id"])
        assert slow["status"] == "timed_out"
        assert [(s["name"], s["status"]) for s in slow["steps"]] == [
            ("too slow", "timed_out"),
            ("after", "skipped"),
        ]
        assert slow["steps"][0]["duration_seconds"] < 10
        log = await ci.log(slow["id"])
        assert "never-ran" not in log
        group = await build_group(ci, slow["id"], groups)
        assert await live_processes(group) == []

        exports = await ci.succeeded(started["exports"]["id"])
        log = await ci.log(exports["id"])
        assert "greeting=[hello world]" in log
        assert "notes=[line one\nline = two]" in log


# --- 5: cancel ----------------------------------------------------------------------------------

CANCEL_PIPELINE = """\
workflows:
  hang:
    scripts:
      - name: hang
        script: |
          echo "pgid=$(ps -o pgid= -p $$ | tr -d " ")"
          sh -c 'sleep 600 & sleep 600'
      - name: after
        script: echo never-ran
  quick:
    scripts:
      - echo quick
"""


async def test_cancel_stops_the_whole_process_group(
    daemon_factory: type[Daemon], tmp_path: Path, groups: list[int]
) -> None:
    git = make_repo(tmp_path, "app", CANCEL_PIPELINE)
    async with running_ci(daemon_factory, tmp_path, OORE_MAX_CONCURRENT_BUILDS="1") as ci:
        repo = await ci.register(git, "app")
        hang = await ci.trigger(repo, workflow="hang", branch="main")
        group = await build_group(ci, hang["id"], groups)
        await wait_for_sleepers(group, 2)
        assert (await ci.build(hang["id"]))["status"] == "running"
        retry = await ci.operator.post(f"/api/builds/{hang['id']}/retry")
        assert "still running" in error_of(retry, 409, "conflict")
        error_of(await ci.cancel("01J0000000000000000000000Z"), 404, "not_found")

        # With one executor slot, a second build waits in the queue; cancelling it is immediate.
        queued = await ci.trigger(repo, workflow="quick", branch="main")
        response = await ci.cancel(queued["id"])
        assert response.status_code == 202, response.text
        queued = await ci.finished(queued["id"])
        assert (queued["status"], queued["reason"]) == ("cancelled", "cancelled while queued")

        response = await ci.cancel(hang["id"])
        assert response.status_code == 202, response.text
        hang = await ci.finished(hang["id"], within=15)
        assert hang["status"] == "cancelled"
        assert [(s["name"], s["status"]) for s in hang["steps"]] == [
            ("hang", "cancelled"),
            ("after", "skipped"),
        ]
        assert await live_processes(group) == []
        assert "never-ran" not in await ci.log(hang["id"])
        error_of(await ci.cancel(hang["id"]), 409, "conflict")

        quick = await ci.succeeded((await ci.trigger(repo, workflow="quick", branch="main"))["id"])
        error_of(await ci.cancel(quick["id"]), 409, "conflict")
        assert (await ci.build(quick["id"]))["status"] == "succeeded"


# --- 6: cancel_previous_builds ------------------------------------------------------------------

SUPERSEDE_PIPELINE = """\
workflows:
  ci:
    triggering:
      events: [push]
      branch_patterns:
        - pattern: '*'
      cancel_previous_builds: true
    scripts:
      - name: work
        script: |
          echo "mode=$(cat mode) pgid=$(ps -o pgid= -p $$ | tr -d " ")"
          if [ "$(cat mode)" = slow ]; then sleep 600; fi
          echo finished-work
"""


async def test_a_newer_push_cancels_the_running_build_of_its_branch(
    daemon_factory: type[Daemon], tmp_path: Path, groups: list[int]
) -> None:
    git = make_repo(tmp_path, "app", SUPERSEDE_PIPELINE, mode="slow\n")
    slow = git.head()
    fast = git.commit("fast", {"mode": "fast\n"})
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        older = (await ci.push(repo, "main", slow))["ci"]
        other = (await ci.push(repo, "other", slow))["ci"]
        older_group = await build_group(ci, older["id"], groups)
        other_group = await build_group(ci, other["id"], groups)
        await wait_for_sleepers(older_group, 1)

        newer = (await ci.push(repo, "main", fast, before=slow))["ci"]
        older = await ci.finished(older["id"], within=15)
        assert older["status"] == "cancelled"
        assert older["reason"] == f"cancelled by #{newer['number']} (a newer push to main)"
        assert older["cancelled_by"] == {"id": newer["id"], "number": newer["number"]}
        assert await live_processes(older_group) == []
        newer = await ci.succeeded(newer["id"])
        assert "mode=fast" in await ci.log(newer["id"])

        # Another branch is another line of builds: still running, untouched.
        assert (await ci.build(other["id"]))["status"] == "running"
        assert (await ci.cancel(other["id"])).status_code == 202
        assert (await ci.finished(other["id"], within=15))["status"] == "cancelled"
        assert await live_processes(other_group) == []


# --- 7: the executor slot limit -----------------------------------------------------------------

NAP_PIPELINE = """\
workflows:
  nap:
    scripts:
      - sleep 0.3
"""
QUEUE_REASON = re.compile(r"2 of 2 executor slots busy; position (\d+) in the queue")


def most_at_once(builds: list[Build]) -> int:
    edges = [(b["started_at"], 1) for b in builds] + [(b["finished_at"], -1) for b in builds]
    # On a tie, count the end first: the slot was free again when the next build started.
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    current = peak = 0
    for _, change in edges:
        current += change
        peak = max(peak, current)
    return peak


async def test_no_more_builds_run_at_once_than_the_limit(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", NAP_PIPELINE)
    async with running_ci(daemon_factory, tmp_path, OORE_MAX_CONCURRENT_BUILDS="2") as ci:
        repo = await ci.register(git, "app")
        ids = [(await ci.trigger(repo, workflow="nap", branch="main"))["id"] for _ in range(20)]
        busiest = 0
        reasons: list[tuple[str, Any]] = []
        with trio.fail_after(60):
            while True:
                snapshot = await ci.builds(repository=repo.id)
                busiest = max(busiest, sum(b["status"] in ACTIVE[1:] for b in snapshot))
                queued = [b for b in snapshot if b["status"] == "queued" and b["queue_reason"]]
                if queued and len(reasons) < 3:
                    detail = await ci.build(queued[-1]["id"])
                    if detail["status"] == "queued" and detail["queue_reason"]:
                        reasons.append((detail["queue_reason"], detail["queue_position"]))
                if all(b["status"] in FINISHED for b in snapshot):
                    break
                await trio.sleep(POLL)
        assert busiest <= 2
        assert reasons, "no queued build ever showed why it waited"
        for reason, position in reasons:
            assert QUEUE_REASON.fullmatch(reason), reason
            assert isinstance(position, int)
            assert position >= 1
        done = [await ci.build(build_id) for build_id in ids]
        assert [b["status"] for b in done] == ["succeeded"] * 20
        assert most_at_once(done) == 2


# --- 8: artifacts -------------------------------------------------------------------------------

ARTIFACT_BYTES = bytes(range(256)) * 1200
ARTIFACT_PIPELINE = """\
workflows:
  package:
    scripts:
      - name: package
        script: |
          mkdir -p out
          python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 1200)' > out/app.bin
          echo "release notes" > out/notes.txt
          ln -s {outside} out/escape.txt
          echo exported > "$CM_EXPORT_DIR/report.txt"
    artifacts:
      - out/*
"""


async def package(ci: Ci, tmp_path: Path) -> tuple[Build, list[dict[str, Any]]]:
    outside = tmp_path / "outside" / "private.txt"
    outside.parent.mkdir()
    outside.write_text("not for the build\n")
    git = make_repo(tmp_path, "app", ARTIFACT_PIPELINE.format(outside=outside))
    repo = await ci.register(git, "app")
    build = await ci.succeeded((await ci.trigger(repo, workflow="package", branch="main"))["id"])
    response = await ci.operator.get(f"/api/builds/{build['id']}/artifacts")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return build, items


async def test_artifacts_download_with_checksum_and_range(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with running_ci(daemon_factory, tmp_path) as ci:
        build, items = await package(ci, tmp_path)
        by_name = {a["name"]: a for a in items}
        assert "escape.txt" not in by_name
        assert {"app.bin", "notes.txt"} <= set(by_name)
        assert re.search(r"artifact \S*escape\.txt refused", await ci.log(build["id"]))

        app = by_name["app.bin"]
        expected = hashlib.sha256(ARTIFACT_BYTES).hexdigest()
        assert (app["size"], app["sha256"]) == (len(ARTIFACT_BYTES), expected)
        assert app["url"] == f"{ci.daemon.url}/api/artifacts/{app['id']}"
        whole = await ci.http.get(app["url"], headers=ci.daemon.headers())
        assert whole.status_code == 200
        assert whole.content == ARTIFACT_BYTES
        assert whole.headers["X-Checksum-SHA256"] == expected
        assert "app.bin" in whole.headers["Content-Disposition"]

        # A download cut off at 100,000 bytes resumes from there.
        cut = 100_000
        head = await ci.http.get(
            app["url"], headers={**ci.daemon.headers(), "Range": f"bytes=0-{cut - 1}"}
        )
        assert (head.status_code, len(head.content)) == (206, cut)
        rest = await ci.http.get(
            app["url"], headers={**ci.daemon.headers(), "Range": f"bytes={cut}-"}
        )
        assert rest.status_code == 206
        assert (
            rest.headers["Content-Range"]
            == f"bytes {cut}-{len(ARTIFACT_BYTES) - 1}/{len(ARTIFACT_BYTES)}"
        )
        assert hashlib.sha256(head.content + rest.content).hexdigest() == expected

        notes = await ci.http.get(by_name["notes.txt"]["url"], headers=ci.daemon.headers())
        assert notes.content == b"release notes\n"
        assert notes.headers["X-Checksum-SHA256"] == by_name["notes.txt"]["sha256"]
        assert (await ci.http.get(app["url"])).status_code == 401


async def test_files_put_in_cm_export_dir_become_artifacts(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    # env.py and DESIGN §4: CM_EXPORT_DIR / OORE_ARTIFACTS_DIR — "files put here become artifacts".
    async with running_ci(daemon_factory, tmp_path) as ci:
        _, items = await package(ci, tmp_path)
        report = {a["name"]: a for a in items}.get("report.txt")
        assert report is not None, [a["name"] for a in items]
        download = await ci.http.get(report["url"], headers=ci.daemon.headers())
        assert download.content == b"exported\n"


# --- 9: secrets ---------------------------------------------------------------------------------

SECRETS_PIPELINE = """\
workflows:
  secretive:
    environment:
      groups:
        - signing
    scripts:
      - name: use secrets
        script: |
          echo "key is $API_KEY"
          echo "inline:${API_KEY}:end"
          echo "err:$API_KEY" >&2
          head=${API_KEY%????}
          printf 'split:%s' "$head"; sleep 0.2; printf '%s:done\\n' "${API_KEY#"$head"}"
          echo "pw=${PASSWORD}x"
      - name: dump
        script: env
"""


async def test_secrets_are_masked_and_daemon_secrets_never_reach_a_build(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    admin_token = "admin-" + secrets.token_hex(16)
    key = generate_key()
    hook_secret = "shared-" + secrets.token_hex(12)
    env = {
        "OORE_ADMIN_TOKEN": admin_token,
        "OORE_ENCRYPTION_KEY": key,
        "OORE_GITHUB_WEBHOOK_SECRET": hook_secret,
    }
    api_key, password = "tok-3f9a7c2e51", "hunter2-correct-horse"
    git = make_repo(tmp_path, "app", SECRETS_PIPELINE)
    async with running_ci(daemon_factory, tmp_path, **env) as ci:
        group = await ci.http.put(
            "/api/secret-groups/signing",
            json={"variables": {"API_KEY": api_key, "PASSWORD": password}},
            headers=ci.daemon.headers(),
        )
        assert group.status_code == 200, group.text
        assert group.json() == {
            "name": "signing",
            "variables": ["API_KEY", "PASSWORD"],
            "repositories": [],
        }
        shown = await ci.operator.get("/api/secret-groups/signing")
        assert api_key not in shown.text
        assert password not in shown.text

        repo = await ci.register(git, "app")
        build = await ci.succeeded(
            (await ci.trigger(repo, workflow="secretive", branch="main"))["id"]
        )
        log = await ci.log(build["id"])
        for line in (
            "key is ********",
            "inline:********:end",
            "err:********",
            "split:********:done",
            "pw=********x",
            "API_KEY=********",
            "PASSWORD=********",
            "CI=true",
        ):
            assert re.search(rf"^{re.escape(line)}$", log, re.M), line
        assert api_key not in log
        assert password not in log
        assert f"OORE_BUILD_ID={build['id']}" in log  # the build's own names are there
        for value in (admin_token, key, hook_secret):
            assert value not in log
        for name in (
            "OORE_ADMIN",
            "OORE_ENCRYPTION",
            "OORE_GITHUB_WEBHOOK_SECRET",
            "OORE_DATA_DIR",
        ):
            assert name not in log, name


MULTILINE_PIPELINE = """\
workflows:
  keys:
    environment:
      groups:
        - keys
    scripts:
      - name: print a key file
        script: |
          printf '%s\\n' "$SERVICE_ACCOUNT"
          echo "inline: $SERVICE_ACCOUNT :end"
"""


async def test_a_multi_line_secret_is_masked_line_by_line(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    # Key files and service-account JSON are the usual multi-line secrets; printed, each of their
    # lines is a log line of its own and must not show.
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nbOHtVKQx7Ujs6q1nRfPz0c2W9kE\nqL8rT2mN5vX1"
    value = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"
    git = make_repo(tmp_path, "app", MULTILINE_PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        group = await ci.http.put(
            "/api/secret-groups/keys",
            json={"variables": {"SERVICE_ACCOUNT": value}},
            headers=ci.daemon.headers(),
        )
        assert group.status_code == 200, group.text
        repo = await ci.register(git, "app")
        build = await ci.succeeded((await ci.trigger(repo, workflow="keys", branch="main"))["id"])
        log = await ci.log(build["id"])
        assert "inline: " in log
        for line in body.split("\n"):
            assert line not in log, log


# --- 10: kill -9 of the daemon mid-build --------------------------------------------------------

RESUME_PIPELINE = """\
workflows:
  long:
    triggering:
      events: [push]
    scripts:
      - name: long
        script: |
          if [ -f {marker} ]; then echo resumed-after-restart; exit 0; fi
          echo "pgid=$(ps -o pgid= -p $$ | tr -d " ")"
          sleep 600
"""


async def test_a_build_interrupted_by_kill_9_runs_again_as_itself_and_succeeds(
    daemon_factory: type[Daemon], tmp_path: Path, groups: list[int]
) -> None:
    marker = tmp_path / "go"
    git = make_repo(tmp_path, "app", RESUME_PIPELINE.format(marker=marker))
    daemon = await daemon_factory(tmp_path, **BASE_ENV).start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        ci = Ci(daemon, http)
        repo = await ci.register(git, "app")
        first = (await ci.push(repo, "main", git.head()))["long"]
        group = await build_group(ci, first["id"], groups)
        await wait_for_sleepers(group, 1)
    daemon.kill()
    marker.touch()

    await daemon.start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        ci = Ci(daemon, http)
        assert await live_processes(group) == []
        again = await ci.succeeded(first["id"])  # the same build, run again from the start
        assert (again["number"], again["attempt"], again["retry_of"]) == (1, 1, None)
        assert [(s["name"], s["status"]) for s in again["steps"]] == [("long", "succeeded")]
        log = await ci.log(first["id"])
        # Both runs in one log, the interruption marked between them.
        interrupted = log.index(f"[oore] {INTERRUPTED}; queued to run again from the start")
        assert log.index("pgid=") < interrupted < log.index("resumed-after-restart")
        assert [b["id"] for b in await ci.builds(repository=repo.id)] == [first["id"]]
    await daemon.stop()


PUBLISH_PIPELINE = """\
workflows:
  release:
    triggering:
      events: [push]
    scripts:
      - name: build
        script: echo built
    publishing:
      scripts:
        - name: upload to the store
          script: |
            echo uploaded >> {uploads}
            echo "pgid=$(ps -o pgid= -p $$ | tr -d " ")"
            sleep 600
"""


async def test_a_build_interrupted_while_publishing_is_errored_and_not_published_twice(
    daemon_factory: type[Daemon], tmp_path: Path, groups: list[int]
) -> None:
    uploads = tmp_path / "uploads"
    git = make_repo(tmp_path, "app", PUBLISH_PIPELINE.format(uploads=uploads))
    daemon = await daemon_factory(tmp_path, **BASE_ENV).start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        ci = Ci(daemon, http)
        repo = await ci.register(git, "app")
        build = (await ci.push(repo, "main", git.head()))["release"]
        group = await build_group(ci, build["id"], groups)
        await wait_for_sleepers(group, 1)
    daemon.kill()

    await daemon.start()
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        ci = Ci(daemon, http)
        assert await live_processes(group) == []
        errored = await ci.finished(build["id"])
        assert errored["status"] == "errored"
        assert errored["reason"].startswith(
            f"{INTERRUPTED} while publishing (step 2, upload to the store); not run again"
        )
        assert "publishing twice could release twice" in errored["reason"]
        assert errored["reason"] in await ci.log(build["id"])
        assert [b["id"] for b in await ci.builds(repository=repo.id)] == [build["id"]]
        assert uploads.read_text() == "uploaded\n"
    await daemon.stop()


# --- 11: manual builds and retries --------------------------------------------------------------

MANUAL_PIPELINE = """\
workflows:
  release:
    inputs:
      flavor:
        description: Which flavour to build
        type: string
        default: dev
    scripts:
      - name: show
        script: |
          echo "FLAVOR=${{ inputs.flavor }}"
          echo "EXTRA=$EXTRA_VAR"
          echo "CM_BRANCH=$CM_BRANCH"
          echo "CM_TAG=$CM_TAG"
          echo "CM_COMMIT=$CM_COMMIT"
          echo "README=$(cat README.md)"
"""


async def test_manual_builds_by_branch_tag_and_sha_with_inputs_then_a_retry(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", MANUAL_PIPELINE, **{"README.md": "one\n"})
    old = git.head()
    git.tag("v2.0")
    new = git.commit("two", {"README.md": "two\n"})
    async with running_ci(daemon_factory, tmp_path, OORE_MAX_CONCURRENT_BUILDS="3") as ci:
        repo = await ci.register(git, "app")
        by_branch = await ci.trigger(
            repo,
            workflow="release",
            branch="main",
            inputs={"flavor": "prod"},
            env={"EXTRA_VAR": "from the API"},
        )
        by_tag = await ci.trigger(repo, workflow="release", tag="v2.0")
        by_sha = await ci.trigger(repo, workflow="release", sha=old)
        expected = {
            by_branch["id"]: ("prod", "from the API", "main", "", new, "two"),
            by_tag["id"]: ("dev", "", "", "v2.0", old, "one"),
            by_sha["id"]: ("dev", "", "", "", old, "one"),
        }
        for build_id, values in expected.items():
            await ci.succeeded(build_id)
            seen = values_in(await ci.log(build_id))
            names = ("FLAVOR", "EXTRA", "CM_BRANCH", "CM_TAG", "CM_COMMIT", "README")
            assert tuple(seen[n] for n in names) == values
        detail = await ci.build(by_branch["id"])
        assert (detail["kind"], detail["inputs"], detail["env_names"]) == (
            "manual",
            {"flavor": "prod"},
            ["EXTRA_VAR"],
        )

        post = ci.operator.post
        path = f"/api/repositories/{repo.id}/builds"
        error_of(
            await post(
                path, {"workflow": "release", "branch": "main", "inputs": {"colour": "red"}}
            ),
            422,
            "validation_error",
        )
        error_of(
            await post(
                path, {"workflow": "release", "branch": "main", "env": {"OORE_ADMIN_TOKEN": "x"}}
            ),
            422,
            "validation_error",
        )
        error_of(
            await post(path, {"workflow": "release", "branch": "main", "tag": "v2.0"}),
            422,
            "validation_error",
        )
        error_of(await post(path, {"workflow": "nope", "branch": "main"}), 404, "not_found")

        response = await post(f"/api/builds/{by_branch['id']}/retry")
        assert response.status_code == 201, response.text
        retry = response.json()
        assert (retry["attempt"], retry["retry_of"]) == (2, by_branch["id"])
        assert retry["id"] != by_branch["id"]
        retried = await ci.succeeded(retry["id"])
        assert (retried["sha"], retried["branch"]) == (new, "main")
        seen = values_in(await ci.log(retry["id"]))
        assert (seen["FLAVOR"], seen["EXTRA"]) == ("prod", "from the API")
        assert (await ci.build(by_branch["id"]))["status"] == "succeeded"


# --- 12: listing and reading builds -------------------------------------------------------------

LIST_PIPELINE = """\
workflows:
  ci:
    triggering:
      events: [push]
    scripts:
      - name: nap
        script: sleep 0.2
      - name: done
        script: echo done
  lint:
    scripts:
      - name: lint
        script: exit 1
"""


async def test_builds_list_filters_and_build_detail(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", LIST_PIPELINE)
    main = git.head()
    git.branch("feature")
    feature = git.commit("feature")
    other_git = make_repo(tmp_path, "other", LIST_PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        other = await ci.register(other_git, "other")
        on_main = (await ci.push(repo, "main", main))["ci"]
        on_feature = (await ci.push(repo, "feature", feature))["ci"]
        lint = await ci.trigger(repo, workflow="lint", branch="main")
        elsewhere = (await ci.push(other, "main", other_git.head()))["ci"]
        for build in (on_main, on_feature, elsewhere):
            await ci.succeeded(build["id"])
        assert (await ci.finished(lint["id"]))["status"] == "failed"

        def ids(items: list[Build]) -> list[str]:
            return [b["id"] for b in items]

        mine = await ci.builds(repository=repo.id)
        # Newest first (the pushes made no lint build: lint does not match them).
        assert ids(mine) == sorted(ids(mine), reverse=True)
        assert {b["repository_id"] for b in mine} == {repo.id}
        assert {on_main["id"], on_feature["id"], lint["id"]} <= set(ids(mine))
        assert elsewhere["id"] not in ids(mine)
        assert ids(await ci.builds(repository=repo.id, branch="feature", workflow="ci")) == [
            on_feature["id"]
        ]
        assert ids(await ci.builds(repository=repo.id, status="failed")) == [lint["id"]]
        assert set(ids(await ci.builds(workflow="ci", status="succeeded"))) == {
            on_main["id"],
            on_feature["id"],
            elsewhere["id"],
        }
        error_of(await ci.operator.get("/api/builds", status="bogus"), 422, "validation_error")

        first = (await ci.operator.get("/api/builds", repository=repo.id, limit=2)).json()
        assert len(first["items"]) == 2
        assert first["next_cursor"]
        rest = (
            await ci.operator.get(
                "/api/builds", repository=repo.id, limit=500, cursor=first["next_cursor"]
            )
        ).json()
        assert ids(first["items"]) + ids(rest["items"]) == ids(mine)

        detail = await ci.build(on_main["id"])
        assert detail["trigger"]["kind"] == "push"
        assert (detail["trigger"]["sha"], detail["trigger"]["branch"]) == (main, "main")
        assert (detail["sha"], detail["branch"], detail["kind"]) == (main, "main", "push")
        assert (detail["attempt"], detail["retry_of"], detail["queue_position"]) == (1, None, None)
        assert detail["event_id"]
        assert detail["status"] == "succeeded"
        assert detail["created_at"] <= detail["started_at"] <= detail["finished_at"]
        assert detail["duration_seconds"] >= 0.2
        steps = detail["steps"]
        assert [(s["index"], s["name"], s["kind"], s["status"]) for s in steps] == [
            (0, "nap", "script", "succeeded"),
            (1, "done", "script", "succeeded"),
        ]
        assert steps[0]["duration_seconds"] >= 0.2
        assert steps[0]["started_at"] <= steps[0]["finished_at"] <= steps[1]["started_at"]
        listed = await ci.operator.get(f"/api/builds/{on_main['id']}/steps")
        assert listed.json()["items"] == steps
        lint_detail = await ci.build(lint["id"])
        assert lint_detail["steps"][0]["exit_code"] == 1
        assert lint_detail["event_id"] is None
        assert lint_detail["kind"] == "manual"
        missing = await ci.operator.get("/api/builds/01J0000000000000000000000Z")
        error_of(missing, 404, "not_found")


PUBLISH_AND_CACHE_PIPELINE = """\
workflows:
  app:
    working_directory: sub
    cache:
      cache_paths:
        - $CM_BUILD_DIR/.build-cache
    scripts:
      - name: where
        script: |
          echo "CWD=$(basename "$PWD")"
          saved="$CM_BUILD_DIR/.build-cache/count"
          echo "CACHED=$(cat "$saved" 2>/dev/null || echo none)"
          mkdir -p "$CM_BUILD_DIR/.build-cache"
          echo "$BUILD_NUMBER" > "$saved"
      - name: root
        working_directory: .
        script: echo "ROOT_CWD=$(basename "$PWD")"
      - name: maybe fail
        script: test "$BUILD_NUMBER" != 3
    publishing:
      scripts:
        - name: announce
          script: echo "PUBLISHED=$OORE_BUILD_STATUS"
"""


async def test_publishing_scripts_cache_and_working_directories(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "cached", PUBLISH_AND_CACHE_PIPELINE, **{"sub/x.txt": "x\n"})
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "cached")
        first = await ci.trigger(repo, workflow="app", branch="main")
        await ci.succeeded(first["id"])
        seen = values_in(await ci.log(first["id"]))
        assert (seen["CWD"], seen["ROOT_CWD"], seen["CACHED"]) == ("sub", first["id"], "none")
        assert seen["PUBLISHED"] == "succeeded"
        # The workspace, cache dir included, is gone; the saved cache brings the dir back.
        second = await ci.trigger(repo, workflow="app", branch="main")
        await ci.succeeded(second["id"])
        assert values_in(await ci.log(second["id"]))["CACHED"] == str(first["number"])
        third = await ci.trigger(repo, workflow="app", branch="main")
        failed = await ci.finished(third["id"])
        assert failed["status"] == "failed"
        # Publishing runs whatever the result, and sees it; its step is recorded apart.
        assert values_in(await ci.log(third["id"]))["PUBLISHED"] == "failed"
        kinds = [(s["name"], s["kind"], s["status"]) for s in failed["steps"]]
        assert kinds[-1] == ("announce", "publishing", "succeeded")
        assert kinds[2] == ("maybe fail", "script", "failed")


SLEEPER_PIPELINE = """\
workflows:
  long:
    scripts:
      - name: sleep
        script: |
          echo "pgid=$(ps -o pgid= -p $$ | tr -d " ")"
          sleep 600 & sleep 600
"""


async def test_sigterm_with_a_running_build_exits_zero_within_the_grace(
    daemon_factory: type[Daemon], tmp_path: Path, groups: list[int]
) -> None:
    git = make_repo(tmp_path, "app", SLEEPER_PIPELINE)
    daemon = await daemon_factory(tmp_path, **BASE_ENV).start()  # OORE_SHUTDOWN_GRACE=1
    async with httpx.AsyncClient(base_url=daemon.url, timeout=15) as http:
        ci = Ci(daemon, http)
        repo = await ci.register(git, "app")
        build = await ci.trigger(repo, workflow="long", branch="main")
        group = await build_group(ci, build["id"], groups)
        await wait_for_sleepers(group, 2)
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGTERM)
    started = trio.current_time()
    assert await daemon.wait_exit(timeout=15) == 0
    assert trio.current_time() - started < 1 + 5  # the grace, and a little to wind down
    assert await live_processes(group) == []
