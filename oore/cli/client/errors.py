"""Exit codes of `oore` and the one error type its commands raise.

A script gating on `oore` must be able to tell "the build failed" from "the server is down" from
"you typed it wrong", so every failure maps to its own code, and the message is one line on
stderr saying what happened and what to do.
"""

from __future__ import annotations

from enum import IntEnum
from typing import IO, Any

import asyncclick as click


class ExitCode(IntEnum):
    OK = 0
    BUILD_FAILED = 1
    BUILD_NOT_SUCCEEDED = 2  # errored, cancelled, timed out or skipped
    UNREACHABLE = 3
    AUTH = 4
    NOT_FOUND = 5
    INVALID = 6
    SERVER = 7
    CHECKSUM = 8
    INTERRUPTED = 130


EXIT_CODE_HELP = (
    (ExitCode.OK, "success (for a build: it succeeded)"),
    (ExitCode.BUILD_FAILED, "the build failed"),
    (ExitCode.BUILD_NOT_SUCCEEDED, "the build errored, was cancelled, timed out or was skipped"),
    (ExitCode.UNREACHABLE, "the server could not be reached"),
    (ExitCode.AUTH, "no token, the token was rejected, or it may not do this"),
    (ExitCode.NOT_FOUND, "no such repository, build, event, token, ..."),
    (ExitCode.INVALID, "invalid input: a bad option, or a field the server refused"),
    (ExitCode.SERVER, "the server failed or answered something unexpected"),
    (ExitCode.CHECKSUM, "a download did not match its sha256"),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"),
)

# What a finished build's status means for the exit code of `--wait` and `logs -f`.
BUILD_EXIT = {
    "succeeded": ExitCode.OK,
    "failed": ExitCode.BUILD_FAILED,
    "errored": ExitCode.BUILD_NOT_SUCCEEDED,
    "cancelled": ExitCode.BUILD_NOT_SUCCEEDED,
    "timed_out": ExitCode.BUILD_NOT_SUCCEEDED,
    "skipped": ExitCode.BUILD_NOT_SUCCEEDED,
}


class CliError(click.ClickException):
    """A failure the user can act on; shown as `oore: <message>` and exits with `code`."""

    def __init__(self, message: str, code: ExitCode, *, transient: bool = False) -> None:
        # One line, whatever the server put in its message.
        super().__init__(" ".join(message.split()))
        self.code = code
        # Worth trying again shortly: the server is restarting or the network dropped.
        self.transient = transient

    @property
    def exit_code(self) -> int:  # type: ignore[override]  # click's is per class, ours per error
        return int(self.code)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"oore: {self.format_message()}", err=True)


def invalid(message: str) -> CliError:
    return CliError(message, ExitCode.INVALID)
