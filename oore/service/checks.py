"""A check `oored doctor` makes: a status and one line."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.Enum):
    OK = "✓"
    WARN = "!"
    FAIL = "✗"
    SKIP = "-"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value} {self.name}: {self.detail}"
