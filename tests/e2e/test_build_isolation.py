"""Builds run as the build user and cannot reach the daemon's secrets (a real `oored run` as root).

Each build script here is written as an attacker would: it tries to read the admin token, the
encryption key, the database, the daemon's environment, other builds' logs and workspaces, and to
leave a process behind. It prints what it managed; the test reads that from the build log.
"""

from __future__ import annotations

import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import make_repo, running_ci, values_in

pytestmark = pytest.mark.e2e

PROBE = """\
workflows:
  probe:
    scripts:
      - name: try to take over the daemon
        script: |
          set +e
          D="$CM_BUILD_DIR/../.."
          try() { if eval "$2" >/dev/null 2>&1; then echo "$1=READ"; else echo "$1=denied"; fi; }
          try TOKEN 'cat "$D/admin-token"'
          try KEY 'cat "$D/encryption-key"'
          try DB 'cat "$D/oore.db"'
          try LOGS 'ls "$D/logs"'
          try ARTIFACTS 'ls "$D/artifacts"'
          try MIRRORS 'ls "$D/mirrors"'
          try ENVIRON 'cat /proc/DAEMON_PID/environ'
          try WORKSPACES 'ls "$D/workspaces"'
          try OTHER 'ls "$D/workspaces/OTHER_BUILD"'
          try HARDLINK 'ln "$D/admin-token" "$CM_EXPORT_DIR/token.txt"'
          echo "UID=$(id -u)"
          echo "HOME=$HOME"
          try HOME_WRITE 'touch "$HOME/cache-me"'
          try EXPORT_WRITE 'touch "$CM_EXPORT_DIR/out.txt"'
          echo "ADMIN_IN_ENV=$(env | grep -c '^OORE_ADMIN_TOKEN\\|^OORE_ENCRYPTION_KEY')"
          setsid sleep 6444 &
          echo done probing
"""

FAILING = """\
workflows:
  probe:
    scripts:
      - echo secret-build-output > private.txt; exit 1
"""


def _alive(marker: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True)
    return [line for line in listing.stdout.splitlines() if marker in line and line[0] != "Z"]


async def test_a_build_reads_none_of_the_daemons_secrets(
    daemon_factory: type[Daemon], shared_tmp: Path, build_user_name: str
) -> None:
    async with running_ci(daemon_factory, shared_tmp, OORE_BUILD_USER=build_user_name) as ci:
        assert ci.daemon.process is not None
        # A failed build's workspace is kept for inspection: the next build must not read it.
        failing = await ci.register(make_repo(shared_tmp, "failing", FAILING), "failing")
        kept = await ci.finished((await ci.trigger(failing, branch="main", workflow="probe"))["id"])
        assert kept["status"] == "failed", (kept["reason"], kept.get("error"))
        pipeline = PROBE.replace("DAEMON_PID", str(ci.daemon.process.pid))
        pipeline = pipeline.replace("OTHER_BUILD", kept["id"])
        repo = await ci.register(make_repo(shared_tmp, "probe", pipeline), "probe")
        build = await ci.succeeded((await ci.trigger(repo, branch="main", workflow="probe"))["id"])
        log = await ci.log(build["id"])
        seen = values_in(log)
        denied = ("TOKEN", "KEY", "DB", "LOGS", "ARTIFACTS", "MIRRORS", "ENVIRON", "WORKSPACES")
        assert {name: seen[name] for name in denied} == dict.fromkeys(denied, "denied"), log
        assert (seen["OTHER"], seen["HARDLINK"]) == ("denied", "denied"), log
        assert seen["UID"] == str(_uid(build_user_name))
        assert seen["HOME"] == str(ci.daemon.data_dir / "build-home")
        assert (seen["HOME_WRITE"], seen["EXPORT_WRITE"]) == ("READ", "READ"), log
        assert seen["ADMIN_IN_ENV"] == "0"
        assert _alive("sleep 6444") == []


async def test_the_daemons_files_are_private(
    daemon_factory: type[Daemon], shared_tmp: Path, build_user_name: str
) -> None:
    async with running_ci(daemon_factory, shared_tmp, OORE_BUILD_USER=build_user_name) as ci:
        data = ci.daemon.data_dir
        modes = {
            name: stat.S_IMODE((data / name).stat().st_mode)
            for name in ("", "admin-token", "encryption-key", "oore.db", "logs", "artifacts")
        }
        assert modes == {
            "": 0o711,
            "admin-token": 0o600,
            "encryption-key": 0o600,
            "oore.db": 0o600,
            "logs": 0o700,
            "artifacts": 0o700,
        }
        assert (data / "build-home").stat().st_uid == _uid(build_user_name)


async def test_a_data_dir_the_build_user_cannot_reach_is_refused_in_one_line(
    daemon_factory: type[Daemon], tmp_path: Path, build_user_name: str
) -> None:
    # pytest's tmp_path lies under a 0700 directory: the build user could not enter workspaces.
    daemon = daemon_factory(tmp_path, OORE_BUILD_USER=build_user_name)
    daemon.spawn()
    assert await daemon.wait_exit(20) == 78
    lines = daemon.log().strip().splitlines()
    assert f"{build_user_name} cannot reach the data dir" in lines[-1]
    assert not any("Traceback" in line for line in lines)


async def test_an_unknown_build_user_is_refused(
    daemon_factory: type[Daemon], shared_tmp: Path
) -> None:
    daemon = daemon_factory(shared_tmp, OORE_BUILD_USER="no-such-oore-user")
    daemon.spawn()
    assert await daemon.wait_exit(20) == 78
    assert "no user 'no-such-oore-user'" in daemon.log()


def _uid(name: str) -> int:
    return pwd.getpwnam(name).pw_uid
