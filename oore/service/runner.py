"""Carrying out a plan: `SystemRunner` changes the machine, `DryRunner` prints what it would do.

Both report each step on the output they are given, so a real run leaves the same trail as the
dry run that previewed it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn, Protocol

from oore.errors import OoreError
from oore.service.steps import Chmod, Exec, MakeDir, Remove, Run, Step, WriteFile

Echo = Callable[[str], None]


class ServiceError(OoreError):
    """A service command could not do its work; the message says what to do instead."""

    code = "service_error"


class NeedsRoot(ServiceError):
    code = "needs_root"


class Runner(Protocol):
    def apply(self, step: Step) -> None: ...


def carry_out(runner: Runner, steps: Iterable[Step]) -> None:
    for step in steps:
        runner.apply(step)


class DryRunner:
    """Prints every file with its full content (secrets redacted) and every command line."""

    def __init__(self, echo: Echo) -> None:
        self._echo = echo

    def apply(self, step: Step) -> None:
        match step:
            case WriteFile():
                self._echo(f"would write {step.path} (mode {step.mode:04o}):")
                for line in step.shown().rstrip("\n").split("\n"):
                    self._echo(f"    {line}".rstrip())
            case Chmod():
                self._echo(f"would change the mode of {step.path} to {step.mode:04o}")
            case MakeDir():
                self._echo(f"would create {step.path} (mode {step.mode:04o})")
            case Remove():
                self._echo(f"would remove {step.path}")
            case Run() | Exec():
                self._echo(f"would run: {step.line}")


class SystemRunner:
    def __init__(self, echo: Echo) -> None:
        self._echo = echo

    def apply(self, step: Step) -> None:
        match step:
            case WriteFile():
                write_private(step.path, step.content, step.mode)
                self._echo(f"wrote {step.path}")
            case Chmod():
                step.path.chmod(step.mode)
                self._echo(f"changed the mode of {step.path} to {step.mode:04o}")
            case MakeDir():
                self._make_dir(step)
            case Remove():
                self._remove(step.path)
            case Run():
                self._run(step)
            case Exec():
                _exec(step.argv)

    def _make_dir(self, step: MakeDir) -> None:
        try:
            step.path.mkdir(mode=step.mode, parents=True)
        except FileExistsError:
            return  # An operator may have chosen other modes; leave them.
        step.path.chmod(step.mode)  # mkdir's mode is filtered through the umask
        self._echo(f"created {step.path}")

    def _remove(self, path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
        else:
            return
        self._echo(f"removed {path}")

    def _run(self, step: Run) -> None:
        self._echo(f"running: {step.line}")
        try:
            # A step that may fail is expected to when there is nothing to do; its complaint
            # would only alarm.
            output = subprocess.DEVNULL if step.may_fail else None
            done = subprocess.run(step.argv, check=False, stdout=output, stderr=output)
        except FileNotFoundError:
            raise ServiceError(f"{step.argv[0]} not found on PATH") from None
        if done.returncode != 0 and not step.may_fail:
            raise ServiceError(f"`{step.line}` failed with exit status {done.returncode}")


def _exec(argv: tuple[str, ...]) -> NoReturn:
    try:
        os.execvp(argv[0], argv)
    except FileNotFoundError:
        raise ServiceError(f"{argv[0]} not found on PATH") from None


def write_private(path: Path, content: str, mode: int) -> None:
    """Write `content` with exactly `mode`, atomically: readers see the old file or the new one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), mode)  # os.open's mode is filtered through the umask
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
