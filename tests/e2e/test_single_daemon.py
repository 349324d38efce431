"""One daemon per data dir, and start-up failures that are one line, on real `oored run`s.

A second daemon on a data dir in use must stop before it touches anything (it used to "recover"
the first one's running builds, then die with a traceback on the busy port); a busy port or an
unusable data dir ends the start with one line naming the problem.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.e2e.daemon import Daemon
from tests.e2e.test_builds import make_repo, running_ci

SLOW_PIPELINE = """\
workflows:
  slow:
    scripts:
      - name: slow step
        script: |
          echo started
          sleep 3
          echo finished
"""


def failure_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("oored: ")]


async def test_a_second_daemon_exits_78_naming_the_first_and_leaves_its_builds_alone(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    git = make_repo(tmp_path, "app", SLOW_PIPELINE)
    for home in ("first", "second"):
        (tmp_path / home).mkdir()
    async with running_ci(daemon_factory, tmp_path / "first") as ci:
        repo = await ci.register(git, "app")
        build = await ci.trigger(repo, workflow="slow", branch="main")
        await ci.log_match(build["id"], r"^started$")

        second = daemon_factory(tmp_path / "second", OORE_DATA_DIR=str(ci.daemon.data_dir))
        second.spawn()
        assert await second.wait_exit(timeout=20) == 78
        assert ci.daemon.process is not None
        holder = ci.daemon.process.pid
        assert second.log().strip().splitlines() == [
            f"oored: another oored (pid {holder}) is using {ci.daemon.data_dir}; stop it first"
        ]

        # The first daemon's build was neither killed nor requeued: it finishes as it would have.
        done = await ci.succeeded(build["id"])
        assert done["attempt"] == 1
        assert "finished" in await ci.log(build["id"])
        assert ci.daemon.process.poll() is None


async def test_the_lock_goes_with_a_killed_daemon(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    first = await daemon_factory(tmp_path).start()
    first.kill()  # SIGKILL: no clean-up ran, the lock file stays behind
    assert (first.data_dir / "oored.lock").exists()
    second = await daemon_factory(tmp_path).start()
    assert await second.stop() == 0


async def test_a_port_in_use_is_one_line(daemon_factory: type[Daemon], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        blocked = daemon_factory(tmp_path, OORE_BIND=f"127.0.0.1:{port}")
        blocked.spawn()
        assert await blocked.wait_exit(timeout=20) == 1
    log = blocked.log()
    assert "Traceback" not in log
    assert failure_lines(log)[-1].startswith(
        f"oored: cannot listen on 127.0.0.1:{port}: Address already in use;"
    )


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make `path` a directory nobody may add files to (root included: `chattr +i`)."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        path.chmod(0o500)
        yield
        path.chmod(0o700)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i is not available here: root can write to any directory")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


async def test_an_unwritable_data_dir_is_one_line(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    refused = daemon_factory(tmp_path)
    with unwritable(refused.data_dir):
        refused.spawn()
        assert await refused.wait_exit(timeout=20) == 78
    log = refused.log()
    assert log.strip().splitlines() == failure_lines(log)
    [line] = failure_lines(log)
    assert line.startswith(f"oored: cannot use the data dir {refused.data_dir}: ")
    assert "Operation not permitted" in line or "Permission denied" in line


async def test_a_data_dir_that_is_a_file_is_one_line(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    refused = daemon_factory(tmp_path)
    refused.data_dir.write_text("not a directory\n")
    refused.spawn()
    assert await refused.wait_exit(timeout=20) == 78
    [line] = refused.log().strip().splitlines()
    assert line.startswith(f"oored: cannot use the data dir {refused.data_dir}: ")


async def test_a_file_in_the_way_inside_the_data_dir_is_one_line(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    refused = daemon_factory(tmp_path)
    refused.data_dir.mkdir()
    (refused.data_dir / "logs").write_text("a file where the logs directory goes\n")
    refused.spawn()
    assert await refused.wait_exit(timeout=20) not in (0, None)
    log = refused.log()
    assert "Traceback" not in log
    assert str(refused.data_dir / "logs") in failure_lines(log)[-1]


async def test_migrate_refuses_a_data_dir_a_daemon_is_using(
    daemon_factory: type[Daemon], tmp_path: Path
) -> None:
    async with running_ci(daemon_factory, tmp_path) as ci:
        assert ci.daemon.process is not None
        done = await trio.run_process(
            [*ci.daemon.command_prefix(), "migrate"],
            env=ci.daemon.env,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        assert done.returncode == 78
        assert done.stderr.decode().strip().splitlines() == [
            f"oored: another oored (pid {ci.daemon.process.pid}) is using "
            f"{ci.daemon.data_dir}; stop it first"
        ]
