"""Running the real `oore` executable in a subprocess, as a user's shell would.

Each run gets a clean environment: only PATH, a HOME and config dir of the test's own, and what
the test passes (so the machine's OORE_* variables, NO_COLOR or a real config cannot change a
result).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

COMMAND = [sys.executable, "-m", "oore.cli.client"]
RUN_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[str]:
        return self.out.splitlines()


@dataclass(frozen=True, slots=True)
class Oore:
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.home / "config" / "oore" / "config.toml"

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / "config"),
        }
        return {**base, **self.env, **(extra or {})}

    def with_env(self, **env: str) -> Oore:
        return Oore(self.home, {**self.env, **env})

    def without(self, *names: str) -> Oore:
        return Oore(self.home, {k: v for k, v in self.env.items() if k not in names})

    async def __call__(
        self, *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> Result:
        with trio.fail_after(RUN_TIMEOUT):
            done = await trio.run_process(
                [*COMMAND, *args],
                env=self.environ(env),
                stdin=stdin.encode(),
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
        return Result(done.returncode, done.stdout.decode(), done.stderr.decode())

    def run_sync(self, *args: str) -> Result:
        done = subprocess.run(
            [*COMMAND, *args],
            env=self.environ(),
            capture_output=True,
            text=True,
            check=False,
            timeout=RUN_TIMEOUT,
        )
        return Result(done.returncode, done.stdout, done.stderr)


STARTED = re.compile(r"started build #(\d+) \((\w+)\)")


def started_id(result: Result) -> str:
    found = STARTED.search(result.out)
    assert found, (result.out, result.err)
    return found.group(2)


def one_line_error(result: Result) -> str:
    """The error message: exactly one `oore: ...` line on stderr, and no traceback."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("oore: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


class Running:
    """`oore` running in the background, its stdout watched as it comes."""

    def __init__(self, oore: Oore, *args: str) -> None:
        self.oore = oore
        self.args = args
        self.out = b""
        self.err = b""
        self.code: int | None = None
        self._changed = trio.Event()
        self._done = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        process = await trio.lowlevel.open_process(
            [*COMMAND, *self.args],
            env=self.oore.environ(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read, process.stdout, "out")
                nursery.start_soon(self._read, process.stderr, "err")
            self.code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
            self._done.set()

    async def _read(self, stream: trio.abc.ReceiveStream | None, name: str) -> None:
        assert stream is not None
        async for data in stream:
            setattr(self, name, getattr(self, name) + data)
            self._changed.set()
            self._changed = trio.Event()

    async def seen(self, text: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        with trio.fail_after(timeout):
            while text.encode() not in self.out:
                await self._changed.wait()

    async def result(self, timeout: float = 60.0) -> Result:  # noqa: ASYNC109
        with trio.fail_after(timeout):
            await self._done.wait()
        assert self.code is not None
        return Result(self.code, self.out.decode(), self.err.decode())


async def together(*runs: Awaitable[Result]) -> list[Result]:
    """Independent `oore` runs at once (start-up is most of what each costs)."""
    results: list[Result | None] = [None] * len(runs)

    async def one(index: int, run: Awaitable[Result]) -> None:
        results[index] = await run

    async with trio.open_nursery() as nursery:
        for index, run in enumerate(runs):
            nursery.start_soon(one, index, run)
    return [r for r in results if r is not None]
