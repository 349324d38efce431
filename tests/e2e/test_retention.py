"""Retention on a real daemon: an old build's log and artifacts vanish while the build stays in the
history, and the API and the CLI say its log expired; a recent build, and the newest of its
workflow however old, keep theirs; the old delivery goes; a mirror a deleted repository left is
swept; and /metrics counts what went."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from pathlib import Path

import trio

from oore.ids import new_id
from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import Build, Ci, make_repo, running_ci

PIPELINE = """\
workflows:
  build:
    triggering:
      events: [push]
    scripts:
      - name: make
        script: |
          echo "building the app"
          mkdir -p out && echo "binary" > out/app.bin
    artifacts:
      - out/*
"""
OLD = "2020-01-01T00:00:00.000Z"
ENV = {"OORE_RETENTION_KEEP_BUILDS": "1", "OORE_RETENTION_INTERVAL": "0.2"}


def _age(data_dir: Path, builds: list[str], event_id: str) -> None:
    # What 40 days of waiting would do, in one transaction (one sweep sees all of it); the
    # daemon keeps running meanwhile (SQLite in WAL mode).
    conn = sqlite3.connect(data_dir / "oore.db")
    try:
        marks = ", ".join("?" * len(builds))
        conn.execute(f"UPDATE builds SET finished_at = ? WHERE id IN ({marks})", [OLD, *builds])
        conn.execute("UPDATE webhook_events SET received_at = ? WHERE id = ?", [OLD, event_id])
        conn.commit()
    finally:
        conn.close()


async def _until_log_expired(ci: Ci, build_id: str) -> dict[str, str]:
    with trio.fail_after(20):
        while True:
            response = await ci.operator.get(f"/api/builds/{build_id}/log")
            if response.status_code != 200:
                assert response.status_code == 410, response.text
                error: dict[str, str] = response.json()["error"]
                return error
            await trio.sleep(0.05)


async def _oore(ci: Ci, home: Path, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "OORE_SERVER": ci.daemon.url,
        "OORE_TOKEN": ci.daemon.admin_token.strip(),
        "HOME": str(home),
    }
    done = await trio.run_process(
        [sys.executable, "-m", "oore.cli.client", *args],
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    return done.returncode, done.stdout.decode() + done.stderr.decode()


async def _built(ci: Ci, build: Build) -> Build:
    return await ci.succeeded(build["id"])


async def test_old_builds_files_expire_and_the_api_says_so(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with running_ci(daemon_factory, tmp_path, **ENV) as ci:
        data = ci.daemon.data_dir
        git = make_repo(tmp_path, "app", PIPELINE)
        repo = await ci.register(git, "app")
        old = await _built(ci, (await ci.push(repo, "main", git.head()))["build"])
        recent = await _built(ci, await ci.trigger(repo, workflow="build", branch="main"))
        newest = await _built(ci, await ci.trigger(repo, workflow="build", branch="main"))
        assert (await ci.operator.get(f"/api/builds/{old['id']}/artifacts")).json()["items"]
        orphan = data / "mirrors" / f"{new_id()}.git"  # a deletion stopped before its files
        (orphan / "objects").mkdir(parents=True)
        (orphan / "HEAD").write_text("ref: refs/heads/main\n")

        # `old` and `newest` ended long ago; `newest` is the newest of its workflow (keep 1).
        _age(data, [old["id"], newest["id"]], old["event_id"])
        error = await _until_log_expired(ci, old["id"])
        # A sweep expires one kind after the other (logs, then artifacts): wait for the last.
        with trio.fail_after(20):
            while (await ci.build(old["id"]))["artifacts_expired_at"] is None:  # noqa: ASYNC110
                await trio.sleep(0.05)

        assert error["code"] == "expired"
        assert f"the log of build {old['id']} expired on " in error["message"]
        assert "OORE_RETENTION_LOGS_DAYS" in error["message"]
        expired = await ci.build(old["id"])
        assert expired["status"] == "succeeded"  # the history stays
        assert expired["log_expired_at"] is not None
        assert expired["artifacts_expired_at"] is not None
        assert [s["status"] for s in expired["steps"]] == ["succeeded"]
        assert (await ci.operator.get(f"/api/builds/{old['id']}/artifacts")).json()["items"] == []
        assert not (data / "logs" / f"{old['id']}.log").exists()
        assert not (data / "artifacts" / old["id"]).exists()

        for kept in (recent, newest):
            assert "building the app" in await ci.log(kept["id"])
            assert (await ci.build(kept["id"]))["log_expired_at"] is None
            listed = await ci.operator.get(f"/api/builds/{kept['id']}/artifacts")
            assert [a["name"] for a in listed.json()["items"]] == ["app.bin"]

        # The delivery went; the build it made keeps its trigger.
        assert (await ci.operator.get(f"/api/events/{old['event_id']}")).status_code == 404
        assert expired["event_id"] is None
        assert expired["sha"] == old["sha"]

        # The orphan mirror is swept; the live repository's is not.
        with trio.fail_after(10):
            while orphan.exists():  # noqa: ASYNC110 - no event for a removal
                await trio.sleep(0.05)
        assert (data / "mirrors" / f"{repo.id}.git").is_dir()

        code, said = await _oore(ci, tmp_path, "build", "logs", old["id"])
        assert code != 0
        assert "gone: the log of build" in said
        assert "expired" in said
        code, said = await _oore(ci, tmp_path, "build", "logs", "-f", old["id"])
        assert code != 0
        assert "gone: the log of build" in said
        code, said = await _oore(ci, tmp_path, "build", "show", old["id"])
        assert code == 0, said
        assert "expired" in said

        metrics = (await ci.operator.get("/metrics")).text
        assert 'oore_janitor_removed_total{kind="logs"} 1.0' in metrics
        assert 'oore_janitor_removed_total{kind="mirrors"} 1.0' in metrics
        assert 'oore_janitor_removed_total{kind="events"} 1.0' in metrics
    swept = r"retention sweep: 1 logs, 1 artifacts, 1 events(, 1 mirrors)? removed, \d"
    assert re.search(swept, ci.daemon.log())
