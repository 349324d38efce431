"""The runners: SystemRunner really writes, creates, removes and runs (in tmp_path); DryRunner
prints every step, secrets redacted, and touches nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from oore.service.runner import DryRunner, ServiceError, SystemRunner, carry_out
from oore.service.steps import Chmod, Exec, MakeDir, Remove, Run, WriteFile


@pytest.fixture
def echoed() -> list[str]:
    return []


def test_write_file_has_exactly_the_mode_whatever_the_umask(
    tmp_path: Path, echoed: list[str]
) -> None:
    path = tmp_path / "etc" / "oore.env"
    old = os.umask(0o077)
    try:
        SystemRunner(echoed.append).apply(WriteFile(path, "A=1\n", 0o644))
    finally:
        os.umask(old)
    assert path.read_text() == "A=1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert echoed == [f"wrote {path}"]


def test_write_file_replaces_atomically_and_leaves_no_temporary(
    tmp_path: Path, echoed: list[str]
) -> None:
    path = tmp_path / "oore.env"
    path.write_text("old\n")
    path.chmod(0o644)
    SystemRunner(echoed.append).apply(WriteFile(path, "new\n", 0o600, secret=True))
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["oore.env"]


def test_make_dir_sets_the_mode_once(tmp_path: Path, echoed: list[str]) -> None:
    runner = SystemRunner(echoed.append)
    path = tmp_path / "var" / "lib" / "oore"
    runner.apply(MakeDir(path, 0o750))
    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    path.chmod(0o700)  # an operator's choice survives a re-install
    runner.apply(MakeDir(path, 0o750))
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert echoed == [f"created {path}"]


def test_remove_handles_trees_files_and_nothing(tmp_path: Path, echoed: list[str]) -> None:
    tree = tmp_path / "data"
    (tree / "mirrors").mkdir(parents=True)
    (tree / "oore.db").write_text("x")
    file = tmp_path / "oore.env"
    file.write_text("x")
    carry_out(
        SystemRunner(echoed.append),
        [Remove(tree), Remove(file), Remove(tmp_path / "never-there")],
    )
    assert not tree.exists()
    assert not file.exists()
    assert echoed == [f"removed {tree}", f"removed {file}"]


def test_chmod(tmp_path: Path, echoed: list[str]) -> None:
    path = tmp_path / "oore.env"
    path.write_text("x")
    path.chmod(0o644)
    SystemRunner(echoed.append).apply(Chmod(path, 0o600))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failing_command_stops_the_plan(echoed: list[str]) -> None:
    runner = SystemRunner(echoed.append)
    runner.apply(Run(("true",)))
    with pytest.raises(ServiceError, match=r"^`false` failed with exit status 1$"):
        runner.apply(Run(("false",)))
    assert echoed == ["running: true", "running: false"]


def test_a_command_that_may_fail_does_not(echoed: list[str]) -> None:
    SystemRunner(echoed.append).apply(Run(("false",), may_fail=True))


def test_a_missing_program_is_named(echoed: list[str]) -> None:
    with pytest.raises(ServiceError, match="no-such-program-oore not found on PATH"):
        SystemRunner(echoed.append).apply(Run(("no-such-program-oore",)))


def test_dry_runner_prints_everything_and_changes_nothing(
    tmp_path: Path, echoed: list[str]
) -> None:
    target = tmp_path / "oore.env"
    steps = [
        WriteFile(
            target,
            "# comment\nOORE_BIND=x\n\nOORE_ADMIN_TOKEN=hunter2hunter2hunter2\n",
            0o600,
            secret=True,
        ),
        MakeDir(tmp_path / "data", 0o750),
        Chmod(target, 0o600),
        Remove(tmp_path / "gone"),
        Run(("launchctl", "bootstrap", "system", "/Library/My Daemons/x.plist")),
        Exec(("tail", "-n", "5", "/var/log/oore/oored.log")),
    ]
    carry_out(DryRunner(echoed.append), steps)
    assert echoed == [
        f"would write {target} (mode 0600):",
        "    # comment",
        "    OORE_BIND=x",
        "",
        "    OORE_ADMIN_TOKEN=<redacted>",
        f"would create {tmp_path / 'data'} (mode 0750)",
        f"would change the mode of {target} to 0600",
        f"would remove {tmp_path / 'gone'}",
        "would run: launchctl bootstrap system '/Library/My Daemons/x.plist'",
        "would run: tail -n 5 /var/log/oore/oored.log",
    ]
    assert os.listdir(tmp_path) == []
