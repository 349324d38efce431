"""`oored run --log-file`: the log follows the file when newsyslog or logrotate moves it away."""

from __future__ import annotations

from pathlib import Path

from tests.service.oored import environment, start_daemon, stop_daemon


def test_log_file_is_reopened_after_rotation(tmp_path: Path) -> None:
    log = tmp_path / "log" / "oored.log"
    log.parent.mkdir()
    env = environment(tmp_path, OORE_DATA_DIR=str(tmp_path / "data"))
    process, url = start_daemon(tmp_path, "--log-file", str(log), env=env)
    try:
        rotated = log.with_name("oored.log.0")
        log.rename(rotated)  # what newsyslog and logrotate do first
    finally:
        assert stop_daemon(process) == 0
    before, after = rotated.read_text(), log.read_text()
    assert f"listening on {url}" in before
    assert "admin token is in" in before, "output printed outside logging lands in the file too"
    assert "shutting down" in after, "records after the move go to a new file at the same path"
    assert "shutting down" not in before
