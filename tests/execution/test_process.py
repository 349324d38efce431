from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import trio

from oore.execution.identity import BuildUser, named_user
from oore.execution.process import Outcome, command_for, kill_group, reaped, run
from oore.model import StepStatus


async def _run(
    tmp_path: Path,
    script: str,
    *,
    deadline: float = 10,
    cancel_after: float | None = None,
    user: BuildUser | None = None,
    nice: int = 0,
) -> tuple[Outcome, list[tuple[str, bytes]], list[int]]:
    chunks: list[tuple[str, bytes]] = []
    groups: list[int] = []

    async def output(stream: str, data: bytes) -> None:
        chunks.append((stream, data))

    async def on_start(group: int) -> None:
        groups.append(group)

    cancel = trio.Event()
    async with trio.open_nursery() as nursery:
        if cancel_after is not None:

            async def fire() -> None:
                await trio.sleep(cancel_after)
                cancel.set()

            nursery.start_soon(fire)
        outcome = await run(
            command_for(script, tmp_path / "step.sh"),
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"], "GREETING": "hello"},
            output=output,
            deadline=trio.current_time() + deadline,
            cancel=cancel,
            grace=1,
            on_start=on_start,
            user=user,
            nice=nice,
        )
        nursery.cancel_scope.cancel()
    return outcome, chunks, groups


def _alive(group: int) -> bool:
    """Any process of the group that is not a zombie (waiting only to be reaped by init)."""
    listing = subprocess.run(
        ["ps", "-eo", "pgid=,stat="], capture_output=True, check=True, text=True
    ).stdout
    return any(
        fields[0] == str(group) and not fields[1].startswith("Z")
        for fields in (line.split() for line in listing.splitlines())
        if len(fields) == 2
    )


async def test_output_and_exit_code(tmp_path: Path) -> None:
    outcome, chunks, _ = await _run(tmp_path, 'echo "$GREETING"; echo oops >&2; exit 3')
    assert (outcome.status, outcome.exit_code) == (StepStatus.FAILED, 3)
    assert ("stdout", b"hello\n") in chunks
    assert ("stderr", b"oops\n") in chunks


async def test_the_script_and_its_children_run_at_a_lower_priority(tmp_path: Path) -> None:
    # Field 19 of /proc/PID/stat is the niceness (comm, field 2, is "bash" or "sh": no spaces).
    script = "cut -d' ' -f19 /proc/$$/stat; sh -c 'cut -d\" \" -f19 /proc/$$/stat'"
    outcome, chunks, _ = await _run(tmp_path, script, nice=7)
    assert outcome.status is StepStatus.SUCCEEDED
    own = os.nice(0)
    printed = b"".join(data for stream, data in chunks if stream == "stdout").split()
    assert printed == [str(min(own + 7, 19)).encode()] * 2


async def test_fails_at_first_failing_command(tmp_path: Path) -> None:
    outcome, chunks, _ = await _run(tmp_path, "false\necho after")
    assert outcome.status is StepStatus.FAILED
    assert all(b"after" not in data for _, data in chunks)


async def test_shebang_picks_interpreter(tmp_path: Path) -> None:
    outcome, chunks, _ = await _run(tmp_path, "#!/usr/bin/env python3\nprint(6 * 7)")
    assert outcome.status is StepStatus.SUCCEEDED
    assert b"".join(d for s, d in chunks if s == "stdout") == b"42\n"


async def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, _, groups = await _run(tmp_path, "sleep 600 & sleep 600", deadline=0.5)
    assert outcome.status is StepStatus.TIMED_OUT
    assert time.monotonic() - started < 5
    assert not _alive(groups[0])


async def test_cancel_kills_background_children(tmp_path: Path) -> None:
    outcome, _, groups = await _run(tmp_path, "sleep 600 & sleep 600", cancel_after=0.3)
    assert outcome.status is StepStatus.CANCELLED
    assert not _alive(groups[0])


async def test_background_process_does_not_outlive_a_finished_step(tmp_path: Path) -> None:
    outcome, _, groups = await _run(tmp_path, "sleep 600 &\necho started")
    assert outcome.status is StepStatus.SUCCEEDED
    assert not _alive(groups[0])


async def test_missing_interpreter_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    outcome, _, _ = await _run(tmp_path, "#!/nonexistent/interpreter\nhi")
    assert outcome.status is StepStatus.FAILED
    assert outcome.error is not None


@pytest.mark.parametrize("script", ["exit 0", "true"])
async def test_success(tmp_path: Path, script: str) -> None:
    outcome, _, _ = await _run(tmp_path, script)
    assert (outcome.status, outcome.exit_code) == (StepStatus.SUCCEEDED, 0)


def _marked_alive(marker: str) -> list[str]:
    """Processes (not zombies) whose command line holds `marker`: they escaped every group."""
    listing = subprocess.run(
        ["ps", "-eo", "stat=,args="], capture_output=True, check=True, text=True
    ).stdout
    return [line for line in listing.splitlines() if marker in line and not line.startswith("Z")]


ESCAPES = {
    "setsid": "setsid sleep {n} &\necho started",
    "double fork": "( (sleep {n} &) & )\necho started",
    "setsid and nohup": "nohup setsid sh -c 'sleep {n}' >/dev/null 2>&1 &\necho started",
}


@pytest.mark.parametrize("how", ESCAPES)
async def test_processes_that_leave_the_group_do_not_outlive_the_step(
    tmp_path: Path, how: str
) -> None:
    seconds = str(600 + len(how))  # a marker no other test's sleep has
    outcome, _, _ = await _run(tmp_path, ESCAPES[how].format(n=seconds))
    assert outcome.status is StepStatus.SUCCEEDED
    assert _marked_alive(f"sleep {seconds}") == []


@pytest.mark.parametrize("when", ["cancel", "timeout"])
async def test_escaped_processes_are_killed_on_cancel_and_timeout(
    tmp_path: Path, when: str
) -> None:
    script = "setsid sleep 6111 &\nsleep 600"
    if when == "cancel":
        outcome, _, _ = await _run(tmp_path, script, cancel_after=0.5)
    else:
        outcome, _, _ = await _run(tmp_path, script, deadline=0.5)
    assert outcome.status in (StepStatus.CANCELLED, StepStatus.TIMED_OUT)
    assert _marked_alive("sleep 6111") == []


async def test_script_killed_by_a_signal_is_reported_so(tmp_path: Path) -> None:
    outcome, _, _ = await _run(tmp_path, "kill -9 $$")
    assert (outcome.status, outcome.error) == (StepStatus.FAILED, "killed by signal 9")


async def test_runs_as_the_build_user_who_cannot_stop_its_reaper(
    shared_tmp: Path, build_user_name: str
) -> None:
    user = named_user(build_user_name, shared_tmp / "home")
    # The reaper is our child and stays root: the script (as the build user) may not kill it.
    script = 'id -u\nkill -9 "$PPID" || echo "reaper survived"\nsetsid sleep 6222 &\n'
    outcome, chunks, _ = await _run(shared_tmp, script, user=user)
    stdout = b"".join(d for s, d in chunks if s == "stdout").decode()
    assert outcome.status is StepStatus.SUCCEEDED, chunks
    assert stdout.splitlines()[0] == str(user.uid)
    assert "reaper survived" in stdout
    assert _marked_alive("sleep 6222") == []


def test_recovery_kills_only_a_group_led_by_a_reaper(tmp_path: Path) -> None:
    # A recorded group whose number now belongs to something else (after a reboot, say).
    stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert kill_group(stranger.pid) is False
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
    reaper = subprocess.Popen(reaped(["sleep", "30"], None), start_new_session=True)
    time.sleep(0.2)  # let it start its script
    assert kill_group(reaper.pid) is True
    assert reaper.wait(timeout=5) == -9
