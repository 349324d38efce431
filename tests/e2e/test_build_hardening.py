"""What a hostile build script can make the daemon collect, through a real `oored run`."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import make_repo, running_ci, values_in

HOSTILE_ARTIFACTS_PIPELINE = """\
workflows:
  package:
    max_build_duration: 1
    scripts:
      - name: package
        script: |
          mkdir -p out
          echo "the app" > out/app.txt
          # Another name for the daemon's admin token, inside the workspace.
          if ln "$CM_BUILD_DIR/../../admin-token" out/x.txt; then echo LINKED=yes; fi
          # Two links to `.`: a `**` that follows them never ends.
          ln -s . "$CM_EXPORT_DIR/a"
          ln -s . "$CM_EXPORT_DIR/b"
          echo exported > "$CM_EXPORT_DIR/report.txt"
    artifacts:
      - out/*
"""


async def test_hard_links_and_symlink_loops_cannot_take_over_artifact_collection(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", HOSTILE_ARTIFACTS_PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        started = trio.current_time()
        build = await ci.finished((await ci.trigger(repo, workflow="package", branch="main"))["id"])
        assert trio.current_time() - started < 30
        log = await ci.log(build["id"])
        assert build["status"] == "succeeded", f"{build}\n{log}"
        listed = await ci.operator.get(f"/api/builds/{build['id']}/artifacts")
        assert listed.status_code == 200, listed.text
        names = sorted(a["name"] for a in listed.json()["items"])
        assert names == ["app.txt", "report.txt"]
        assert values_in(log).get("LINKED") == "yes"  # the build could make the link
        refused = r"artifact \S*/out/x\.txt refused: hard-linked to a file the build does not own"
        assert re.search(refused, log), log


HUGE_ARTIFACT_PIPELINE = """\
workflows:
  package:
    scripts:
      - name: package
        script: truncate -s 8G "$CM_EXPORT_DIR/huge.bin"
"""


async def test_cancel_stops_artifact_collection(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", HUGE_ARTIFACT_PIPELINE)
    async with running_ci(daemon_factory, tmp_path) as ci:
        repo = await ci.register(git, "app")
        build = await ci.trigger(repo, workflow="package", branch="main")
        # The script is done: the daemon now copies (and hashes) 8 GB, for seconds.
        await ci.log_match(build["id"], r"<== \[\d+\] package: succeeded")
        cancelled = trio.current_time()
        assert (await ci.cancel(build["id"])).status_code == 202
        done = await ci.finished(build["id"])
        assert trio.current_time() - cancelled < 3
        log = await ci.log(build["id"])
        assert "artifact collection stopped (cancelled)" in log, log
        listed = await ci.operator.get(f"/api/builds/{build['id']}/artifacts")
        assert listed.json()["items"] == [], done
        assert list((ci.daemon.data_dir / "artifacts").glob("*/huge.bin")) == []


CACHE_PIPELINE = """\
workflows:
  app:
    cache:
      cache_paths:
        - .build-cache
        - $HOME/.pub-cache
        - $CM_BUILD_DIR/../../logs
        - /etc/ssh
    scripts:
      - name: use the cache
        script: |
          echo "CACHED=$(cat .build-cache/n 2>/dev/null || echo none)"
          mkdir -p .build-cache "$HOME/.pub-cache"
          echo "$BUILD_NUMBER" > .build-cache/n
          echo "$BUILD_NUMBER" > "$HOME/.pub-cache/n"
"""


async def test_the_cache_works_as_the_build_user_inside_its_places_only(
    daemon_factory: type[Daemon], shared_tmp: Path, build_user_name: str
) -> None:
    git = make_repo(shared_tmp, "app", CACHE_PIPELINE)
    async with running_ci(daemon_factory, shared_tmp, OORE_BUILD_USER=build_user_name) as ci:
        repo = await ci.register(git, "app")
        first = await ci.succeeded((await ci.trigger(repo, workflow="app", branch="main"))["id"])
        log = await ci.log(first["id"])
        assert values_in(log)["CACHED"] == "none"
        for raw in (".build-cache", "$HOME/.pub-cache"):
            assert re.search(rf"cache {re.escape(raw)}: saved \(\d+ bytes\)", log), log
        logs = ci.daemon.data_dir / "logs"
        # The refusal says which path, why, and where cache paths may point; before and after.
        refused = (
            r"cache \$CM_BUILD_DIR/\.\./\.\./logs: refused, "
            rf"{re.escape(str(logs))} is not inside the workspace or the build's HOME; "
            r"cache paths must point inside \$CM_BUILD_DIR \(\S+\) or \$HOME \(\S+\)"
        )
        assert len(re.findall(refused, log)) == 2, log
        assert len(re.findall(r"cache /etc/ssh: refused, /etc/ssh is not inside", log)) == 2
        second = await ci.succeeded((await ci.trigger(repo, workflow="app", branch="main"))["id"])
        log = await ci.log(second["id"])
        assert values_in(log)["CACHED"] == str(first["number"])
        assert "cache .build-cache: restored" in log
        archives = list((ci.daemon.data_dir / "cache").glob("*/*/*.tar"))
        assert len(archives) == 2  # nothing of the logs or /etc/ssh
