"""Running the real `oored` executable for tests: a clean environment (no OORE_* from the
machine), several invocations at once (each start costs a few hundred milliseconds), and a
parser for `--dry-run` output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

OORED = Path(sys.executable).parent / "oored"
TIMEOUT = 30
STEP_PREFIXES = ("would write ", "would create ", "would remove ", "would run: ", "would change ")


@dataclass(frozen=True, slots=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def environment(home: Path, **env: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **env,
    }


def oored(*args: str, env: Mapping[str, str], prefix: Sequence[str] = ()) -> Result:
    return oored_many([args], env=env, prefix=prefix)[0]


def oored_many(
    invocations: Sequence[Sequence[str]],
    *,
    env: Mapping[str, str],
    prefix: Sequence[str] = (),
) -> list[Result]:
    """Run `prefix oored ARGS` for each ARGS at the same time; `prefix` such as `unshare`."""
    return oored_calls([([*prefix, str(OORED), *args], env) for args in invocations])


def oored_calls(calls: Sequence[tuple[Sequence[str], Mapping[str, str]]]) -> list[Result]:
    """Run each (argv, environment) at the same time; the results in the same order."""
    processes = [
        subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv, env in calls
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        results.append(Result(process.returncode, stdout, stderr))
    return results


@dataclass(slots=True)
class DryRun:
    """`--dry-run` output: the action lines in order, and each file's content by path."""

    actions: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def steps(self) -> list[str]:
        """The lines naming a change or a command, without the notes around them."""
        return [line for line in self.actions if line.startswith(STEP_PREFIXES)]

    @property
    def commands(self) -> list[str]:
        return [line.removeprefix("would run: ") for line in self.actions if "would run: " in line]


def parse_dry_run(output: str) -> DryRun:
    parsed = DryRun()
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("    ") or (current is not None and not line):
            assert current is not None, f"content outside a file: {line!r}"
            current.append(line.removeprefix("    "))
            continue
        if current is not None:
            path = parsed.actions[-1].removeprefix("would write ").split(" (mode ")[0]
            parsed.files[path] = "\n".join(current) + "\n"
            current = None
        parsed.actions.append(line)
        if line.startswith("would write "):
            current = []
    if current is not None:
        path = parsed.actions[-1].removeprefix("would write ").split(" (mode ")[0]
        parsed.files[path] = "\n".join(current) + "\n"
    return parsed


def start_daemon(
    home: Path, *args: str, env: Mapping[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """`oored run` on 127.0.0.1 port 0; returns the process and its URL once it serves."""
    ready = home / "ready.json"
    ready.unlink(missing_ok=True)
    process = subprocess.Popen(
        [str(OORED), "run", "--bind", "127.0.0.1:0", "--ready-file", str(ready), *args],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + TIMEOUT
    while not (ready.exists() and ready.read_text()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"oored run did not start (exit status {process.poll()})")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())["url"]


def stop_daemon(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
