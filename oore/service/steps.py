"""The steps a service command is made of, as plain values, so that a plan can be printed
(`--dry-run`), carried out, or compared in tests without touching the system.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_ENV_ASSIGNMENT = re.compile(r"(\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*)(.*)")
_SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD", re.IGNORECASE)
REDACTED = "<redacted>"


@dataclass(frozen=True, slots=True)
class WriteFile:
    path: Path
    content: str = field(repr=False)
    mode: int
    # An env file: its secret values are never printed.
    secret: bool = False

    def shown(self) -> str:
        return redact_env(self.content) if self.secret else self.content


@dataclass(frozen=True, slots=True)
class Chmod:
    path: Path
    mode: int


@dataclass(frozen=True, slots=True)
class MakeDir:
    path: Path
    mode: int


@dataclass(frozen=True, slots=True)
class Remove:
    """Remove a file, or a directory with everything in it; nothing to remove is fine."""

    path: Path


@dataclass(frozen=True, slots=True)
class Run:
    argv: tuple[str, ...]
    # For commands that fail when there is nothing to do (booting out a service not loaded).
    may_fail: bool = False

    @property
    def line(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True, slots=True)
class Exec:
    """Hand the terminal over to a command (`tail -f`, `journalctl`) and exit with its status."""

    argv: tuple[str, ...]

    @property
    def line(self) -> str:
        return shlex.join(self.argv)


Step = WriteFile | Chmod | MakeDir | Remove | Run | Exec


def redact_env(text: str) -> str:
    """The env file text with the value of every secret-looking key replaced."""
    return "\n".join(_redact_line(line) for line in text.split("\n"))


def _redact_line(line: str) -> str:
    if line.lstrip().startswith("#"):
        return line
    match = _ENV_ASSIGNMENT.fullmatch(line)
    if match is None:
        # Not KEY=value: it could be a secret pasted on a line of its own.
        return line if not line.strip() else REDACTED
    if _SECRET_NAME.search(match.group(2)) and match.group(3):
        return match.group(1) + REDACTED
    return line
