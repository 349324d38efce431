"""Doctor checks that need no daemon: tools by platform, data dir, port, and the output format."""

from __future__ import annotations

import socket
from pathlib import Path

from oore.service.doctor import Check, Status, data_dir_check, port_check, tool_checks


def test_on_macos_a_missing_build_tool_fails() -> None:
    found = {"xcodebuild": "/usr/bin/xcodebuild", "pod": "/opt/homebrew/bin/pod"}
    checks = tool_checks("darwin", which=found.get)
    assert [check.line() for check in checks] == [
        "✓ xcodebuild: /usr/bin/xcodebuild",
        "✗ flutter: not found on PATH; iOS and Flutter builds need it",
        "✓ pod: /opt/homebrew/bin/pod",
    ]


def test_on_linux_build_tools_are_reported_not_failed() -> None:
    checks = tool_checks("linux", which=lambda _: None)
    assert all(check.status is Status.SKIP for check in checks)


def test_data_dir_that_is_a_file_fails(tmp_path: Path) -> None:
    file = tmp_path / "data"
    file.write_text("")
    assert data_dir_check(file).status is Status.FAIL
    assert data_dir_check(tmp_path).status is Status.OK
    assert data_dir_check(tmp_path / "a" / "b").status is Status.OK


def test_port_zero_and_a_free_port_pass() -> None:
    # A port held by another program: tests/cli/test_oored_doctor.py.
    assert port_check("127.0.0.1", 0).status is Status.OK
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert port_check("127.0.0.1", port).status is Status.OK


def test_check_line() -> None:
    assert Check("git", Status.OK, "git version 2.44.0").line() == "✓ git: git version 2.44.0"
