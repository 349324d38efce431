"""Reading a delivery's build report (the payload the outbox stored) for the channels to render.

The payload's shape is the outbox's (oore.store.outbox): `build`, `repository`, `trigger`,
`steps`, `artifacts`, `to`. `Report` gives the channels the few things they all show (names,
the ref built, the short commit, durations, absolute links on OORE_BASE_URL), tolerant of a
field that is missing or null: a report is rendered long after it was written, perhaps by a
newer daemon, and a missing detail must not stop its delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What each event is called in a sentence ("acme/app #12 main: succeeded").
WORDS = {
    "queued": "queued",
    "started": "started",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "timed_out": "timed out",
    "skipped": "skipped",
    "errored": "errored",
}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def duration_text(seconds: Any) -> str:
    """`1h 02m 03s`, `2m 05s`, `4.2s`; `-` when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


@dataclass(frozen=True, slots=True)
class Report:
    payload: Mapping[str, Any]
    base_url: str

    @property
    def build(self) -> Mapping[str, Any]:
        return _map(self.payload.get("build"))

    @property
    def repository(self) -> Mapping[str, Any]:
        return _map(self.payload.get("repository"))

    @property
    def trigger(self) -> Mapping[str, Any]:
        return _map(self.payload.get("trigger"))

    @property
    def steps(self) -> list[Mapping[str, Any]]:
        return _list(self.payload.get("steps"))

    @property
    def artifacts(self) -> list[Mapping[str, Any]]:
        return _list(self.payload.get("artifacts"))

    @property
    def to(self) -> Mapping[str, Any]:
        return _map(self.payload.get("to"))

    @property
    def event(self) -> str:
        return str(self.payload.get("event") or self.build.get("status") or "")

    @property
    def word(self) -> str:
        return WORDS.get(self.event, self.event.replace("_", " "))

    @property
    def full_name(self) -> str:
        repo = self.repository
        return str(repo.get("full_name") or f"{repo.get('owner')}/{repo.get('name')}")

    @property
    def workflow(self) -> str:
        return str(self.build.get("workflow") or "build")

    @property
    def number(self) -> str:
        number = self.build.get("number")
        return f"#{number}" if number is not None else ""

    @property
    def sha(self) -> str:
        return str(self.trigger.get("sha") or "")

    @property
    def short_sha(self) -> str:
        return self.sha[:8]

    @property
    def ref(self) -> str:
        """What was built: the branch, the tag, or the pull request."""
        trigger = self.trigger
        if trigger.get("pr_number") is not None:
            source = trigger.get("pr_source_branch")
            return f"PR #{trigger['pr_number']}" + (f" ({source})" if source else "")
        if trigger.get("tag"):
            return f"tag {trigger['tag']}"
        return str(trigger.get("branch") or "")

    @property
    def author(self) -> str:
        return str(self.trigger.get("author") or "")

    @property
    def message_line(self) -> str:
        """The commit message's first line."""
        lines = str(self.trigger.get("message") or "").strip().splitlines()
        return lines[0] if lines else ""

    @property
    def duration(self) -> str:
        return duration_text(self.build.get("duration_seconds"))

    @property
    def error(self) -> str:
        return str(self.build.get("error") or "")

    @property
    def build_url(self) -> str:
        """The build's page: `{OORE_BASE_URL}/builds/{id}`."""
        return self.link(str(self.build.get("path") or f"/builds/{self.build.get('id')}"))

    def link(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def artifact_links(self) -> list[tuple[str, str]]:
        """(name, absolute URL) of each artifact."""
        return [
            (str(a.get("name") or a.get("id")), self.link(str(a.get("path") or "")))
            for a in self.artifacts
            if a.get("path")
        ]

    @property
    def title(self) -> str:
        """`acme/app #12 main: succeeded`: the subject of a mail, the head of a message."""
        where = " ".join(part for part in (self.full_name, self.number, self.ref) if part)
        return f"{where}: {self.word}"
