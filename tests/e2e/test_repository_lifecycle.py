"""Deleting a repository and cancelling a build that is still preparing, on a real daemon.

Deleting a repository while its build runs must cancel that build, wait for it, and remove
everything the repository has on disk, while another repository's running build carries on
untouched to success (it used to crash the repository supervisor, whose restart marked that
other build "interrupted by a daemon restart"). A build stuck in `preparing` (waiting behind a
fetch that never ends) must be cancellable, and deleting its repository must not wait for the
fetch either: a local TCP server that accepts git:// connections and never answers is the hung
remote.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import trio

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import (
    FINISHED,
    INTERRUPTED,
    Ci,
    live_processes,
    make_repo,
    push_payload,
    running_ci,
)
from tests.e2e.webhook_client import accepted_id

DELETED_PIPELINE = """\
workflows:
  work:
    cache:
      cache_paths: [deps]
    artifacts: [out/*.txt]
    scripts:
      - name: make things to keep
        script: |
          mkdir -p deps out
          echo dep > deps/one.txt
          echo artifact > out/result.txt
          echo "$CM_BUILD_DIR" > "$CM_EXPORT_DIR/where.txt"
      - name: wait
        script: |
          echo "pgid=$(ps -o pgid= $$ | tr -d ' ')"
          if [ -n "$HOLD" ]; then sleep 600; fi
          if [ -n "$FAIL" ]; then exit 3; fi
"""

OTHER_PIPELINE = """\
workflows:
  work:
    scripts:
      - name: wait for the gate
        script: |
          echo waiting
          while [ ! -e "$GATE" ]; do sleep 0.05; done
          echo through the gate
"""

SIMPLE_PIPELINE = """\
workflows:
  work:
    triggering:
      events: [push]
    scripts:
      - echo hello
"""


async def delete(ci: Ci, repository_id: str) -> int:
    response = await ci.http.delete(
        f"/api/repositories/{repository_id}", headers=ci.daemon.headers()
    )
    return response.status_code


async def wait_status(ci: Ci, build_id: str, status: str, within: float = 30) -> dict[str, object]:
    return await ci.wait(build_id, lambda b: b["status"] == status, within)


def files_of(data: Path, repository_id: str, build_ids: list[str]) -> list[Path]:
    found = [data / "cache" / repository_id, data / "mirrors" / f"{repository_id}.git"]
    for build_id in build_ids:
        found += [
            data / "workspaces" / build_id,
            data / "builds" / build_id,
            data / "artifacts" / build_id,
            data / "logs" / f"{build_id}.log",
            data / "logs" / f"{build_id}.idx",
        ]
    return found


async def test_deleting_a_repository_mid_build_leaves_other_builds_and_files_alone(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    doomed_git = make_repo(tmp_path, "doomed", DELETED_PIPELINE)
    other_git = make_repo(tmp_path, "other", OTHER_PIPELINE)
    gate = tmp_path / "gate"
    async with running_ci(daemon_factory, tmp_path, OORE_MAX_CONCURRENT_BUILDS="3") as ci:
        data = ci.daemon.data_dir
        doomed = await ci.register(doomed_git, "doomed")
        other = await ci.register(other_git, "other")
        # A finished build (its cache, artifacts and log kept) and a failed one (workspace kept).
        done = await ci.trigger(doomed, workflow="work", branch="main")
        await ci.succeeded(done["id"])
        failed = await ci.trigger(doomed, workflow="work", branch="main", env={"FAIL": "1"})
        assert (await ci.finished(failed["id"]))["status"] == "failed"
        other_build = await ci.trigger(
            other, workflow="work", branch="main", env={"GATE": str(gate)}
        )
        held = await ci.trigger(doomed, workflow="work", branch="main", env={"HOLD": "1"})
        await ci.log_match(other_build["id"], r"^waiting$")
        group = int((await ci.log_match(held["id"], r"pgid=(\d+)$"))[1])
        try:
            doomed_ids = [done["id"], failed["id"], held["id"]]
            present = [p for p in files_of(data, doomed.id, doomed_ids) if p.exists()]
            assert data / "cache" / doomed.id in present
            assert data / "artifacts" / done["id"] in present
            assert data / "workspaces" / failed["id"] in present
            assert data / "workspaces" / held["id"] in present
            assert data / "builds" / held["id"] in present

            with trio.fail_after(30):
                assert await delete(ci, doomed.id) == 204

            # The held build was cancelled and waited for: its script is gone.
            assert await live_processes(group) == []
            for build_id in doomed_ids:
                response = await ci.operator.get(f"/api/builds/{build_id}")
                assert response.status_code == 404, response.text
            assert (await ci.operator.get(f"/api/repositories/{doomed.id}")).status_code == 404
            left = [p for p in files_of(data, doomed.id, doomed_ids) if p.exists()]
            assert left == []

            # The other repository's build went on running, and now finishes as it should.
            still = await ci.build(other_build["id"])
            assert still["status"] == "running", still
            gate.touch()
            finished = await ci.succeeded(other_build["id"])
            assert finished["reason"] != INTERRUPTED
            assert "through the gate" in await ci.log(other_build["id"])
            assert (data / "mirrors" / f"{other.id}.git").is_dir()
            assert (data / "logs" / f"{other_build['id']}.log").is_file()
            # Nothing was retried as if the daemon had restarted.
            builds = await ci.builds(repository=other.id)
            assert [b["id"] for b in builds] == [other_build["id"]]
        finally:
            gate.touch()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    log = ci.daemon.log()
    assert "Traceback" not in log, log
    assert INTERRUPTED not in log, log


class SilentGitServer:
    """A git:// remote that accepts connections and never answers (a hung fetch)."""

    def __init__(self) -> None:
        self.held: list[trio.SocketStream] = []
        self.url = ""

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.url = f"git://127.0.0.1:{listeners[0].socket.getsockname()[1]}/hung.git"
        task_status.started()
        await trio.serve_listeners(self._hold, listeners)

    async def _hold(self, stream: trio.SocketStream) -> None:
        self.held.append(stream)
        await trio.sleep_forever()


async def test_a_build_waiting_behind_a_hung_fetch_can_be_cancelled_and_its_repository_deleted(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", SIMPLE_PIPELINE)
    server = SilentGitServer()
    async with trio.open_nursery() as nursery, running_ci(daemon_factory, tmp_path) as ci:
        await nursery.start(server.serve)
        repo = await ci.register(git, "app")
        first = await ci.trigger(repo, workflow="work", branch="main")
        await ci.succeeded(first["id"])
        # The remote now hangs: a push of a new commit holds the repository's git lock while
        # its fetch waits for an answer that never comes.
        patched = await ci.http.patch(
            f"/api/repositories/{repo.id}",
            json={"clone_url": server.url},
            headers=ci.daemon.headers(),
        )
        assert patched.status_code == 200, patched.text
        new_sha = git.commit("second", {"README.md": "two\n"})
        body = json.dumps(push_payload(repo, "refs/heads/main", new_sha)).encode()
        event_id = accepted_id(await ci.provider.github("push", body, "e2e-builds-webhook-secret"))
        with trio.fail_after(20):
            while not server.held:  # noqa: ASYNC110 - the server sees git connect; nothing to wait on
                await trio.sleep(0.02)

        retry = await ci.operator.post(f"/api/builds/{first['id']}/retry")
        assert retry.status_code == 201, retry.text
        stuck = retry.json()
        await wait_status(ci, stuck["id"], "preparing")
        answer = await ci.cancel(stuck["id"])
        assert answer.status_code == 202, answer.text
        cancelled = await ci.wait(stuck["id"], lambda b: b["status"] in FINISHED, within=10)
        assert cancelled["status"] == "cancelled", cancelled

        # The fetch still hangs; deleting the repository interrupts it instead of waiting.
        with trio.fail_after(15):
            assert await delete(ci, repo.id) == 204
        event = await ci.operator.settled(event_id)
        assert event["state"] == "failed", event
        assert "deleted" in (event["reason"] or ""), event
        assert not (ci.daemon.data_dir / "mirrors" / f"{repo.id}.git").exists()
        nursery.cancel_scope.cancel()
    assert "Traceback" not in ci.daemon.log(), ci.daemon.log()


async def test_a_build_whose_workspace_clone_hangs_can_be_cancelled(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", SIMPLE_PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        first = await ci.trigger(repo, workflow="work", branch="main")
        await ci.succeeded(first["id"])
        # A read that never returns (as from a stuck disk): git opens the mirror's alternates
        # file when it looks up an object, and a FIFO with no writer blocks that open.
        os.mkfifo(ci.daemon.data_dir / "mirrors" / f"{repo.id}.git" / "objects/info/alternates")
        retry = await ci.operator.post(f"/api/builds/{first['id']}/retry")
        assert retry.status_code == 201, retry.text
        stuck = retry.json()
        await wait_status(ci, stuck["id"], "preparing")
        await trio.sleep(0.5)  # well into the clone, which never ends
        assert (await ci.build(stuck["id"]))["status"] == "preparing"
        answer = await ci.cancel(stuck["id"])
        assert answer.status_code == 202, answer.text
        cancelled = await ci.wait(stuck["id"], lambda b: b["status"] in FINISHED, within=10)
        assert cancelled["status"] == "cancelled", cancelled
        assert not (ci.daemon.data_dir / "workspaces" / stuck["id"]).exists()
