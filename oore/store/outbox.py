"""Which deliveries a build change makes, written inside the change's own transaction.

`plan` runs in the same unit of work as `create_build`, `create_builds_for_event` or
`transition_build`: the change and its deliveries commit together, so a crash loses none and
sends none for a change that was never stored. It decides from rows alone (the build's `notify`,
the repository and its credential, the GitLab link, the Slack/SMTP settings rows and the signed
webhook targets), never from a provider. The rules are in /tmp/notify-design.md, "Which
deliveries": status targets report every event, Slack and email only the outcomes asked for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from oore.ids import new_ids
from oore.model import Build, BuildStatus, Provider, utcnow
from oore.store import rows

EMAIL_FAILURES = frozenset({"failed", "timed_out", "errored", "cancelled"})


@dataclass(frozen=True, slots=True)
class Wanted:
    """One delivery a change should make: a channel kind, its target and whom it is for."""

    kind: str
    target: str
    to: dict[str, Any]


def event_of(build: Build, *, created: bool) -> str | None:
    """The notification event a build change is, or None (`preparing` tells nobody)."""
    if build.status is BuildStatus.QUEUED:
        return "queued" if created else None
    if build.status is BuildStatus.RUNNING:
        return "started"
    return str(build.status) if build.status.finished else None


def plan(db: Database, build: Build, *, created: bool) -> int:
    """Insert the deliveries `build`'s change makes; how many were new (a replay adds none).

    It runs in every build change's transaction, so it is kept lean (bench/notifier.py): one
    query per kind of row it needs, the report serialised once, the rows inserted together.
    """
    event = event_of(build, created=created)
    if event is None:
        return 0
    repo = _one(db, "SELECT * FROM repositories WHERE id = ?", build.repository_id)
    wanted = list(_wanted(db, repo, build, event)) if repo is not None else []
    if not wanted or repo is None:
        return 0
    # The report once; each row's own `to` is spliced into its closing brace.
    report = json.dumps(_report(db, repo, build, event))[:-1]
    now = utcnow()
    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT OR IGNORE INTO deliveries (id, build_id, kind, target, chain, event, payload,"
        " idempotency_key, state, attempts, next_attempt_at, created_at, retry_since)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        [
            _row(row_id, build, event, want, report, now)
            for row_id, want in zip(new_ids(len(wanted)), wanted, strict=True)
        ],
    )
    return db.conn.total_changes - before


def _row(
    row_id: str, build: Build, event: str, want: Wanted, report: str, now: str
) -> tuple[Any, ...]:
    chain = f"{build.id}:{want.kind}:{want.target}"
    payload = f'{report}, "to": {json.dumps(want.to)}}}'
    return (row_id, build.id, want.kind, want.target, chain, event, payload,
            f"{chain}:{event}", now, now, now)  # fmt: skip


def _wanted(db: Database, repo: dict[str, Any], build: Build, event: str) -> Iterator[Wanted]:
    status = _status_kind(db, repo)
    if status is not None:
        yield status
    yield from _slack(db, build, event)
    yield from _email(db, build, event)
    yield from _webhooks(db, build, event)


def _status_kind(db: Database, repo: dict[str, Any]) -> Wanted | None:
    has_token = _one(
        db,
        "SELECT 1 FROM repository_credentials WHERE repository_id = ? AND kind = 'https_token'",
        repo["id"],
    )
    if repo["provider"] == Provider.GITHUB:
        if repo["github_installation_id"] is not None:
            return Wanted("github_check", "github", {})
        return Wanted("github_status", "github", {}) if has_token else None
    linked = _one(
        db,
        "SELECT 1 FROM gitlab_projects p JOIN gitlab_connection c WHERE p.repository_id = ?",
        repo["id"],
    )
    return Wanted("gitlab_status", "gitlab", {}) if linked or has_token else None


def _slack(db: Database, build: Build, event: str) -> Iterator[Wanted]:
    slack = build.notify.get("slack") or {}
    if not slack.get("channel") or not _setting(db, "slack"):
        return
    if event == "started":
        wanted = bool(slack.get("start"))
    elif event == "succeeded":
        wanted = bool(slack.get("success", True))
    else:
        wanted = event not in {"queued", "skipped"} and bool(slack.get("failure", True))
    if wanted:
        yield Wanted("slack", "slack", {"channel": slack["channel"]})


def _email(db: Database, build: Build, event: str) -> Iterator[Wanted]:
    email = build.notify.get("email") or {}
    recipients = list(email.get("recipients") or [])
    if not recipients or not _setting(db, "smtp"):
        return
    if (event == "succeeded" and email.get("success", True)) or (
        event in EMAIL_FAILURES and email.get("failure", True)
    ):
        yield Wanted("email", "smtp", {"recipients": recipients})


def _webhooks(db: Database, build: Build, event: str) -> Iterator[Wanted]:
    targets = rows.dicts(
        db.execute(
            "SELECT id, events FROM notification_targets"
            " WHERE repository_id IS NULL OR repository_id = ? ORDER BY id",
            [build.repository_id],
        )
    )
    for target in targets:
        events = json.loads(target["events"])
        if not events or event in events:
            yield Wanted("webhook", f"webhook:{target['id']}", {"target_id": target["id"]})


def _setting(db: Database, kind: str) -> bool:
    return _one(db, "SELECT 1 FROM notification_settings WHERE kind = ?", kind) is not None


def _one(db: Database, sql: str, *params: Any) -> dict[str, Any] | None:
    found = rows.dicts(db.execute(sql, list(params)))
    return found[0] if found else None


# --- the build report snapshot ----------------------------------------------------------------


def _report(db: Database, repo: dict[str, Any], build: Build, event: str) -> dict[str, Any]:
    # A queued build has no steps or artifacts yet.
    queued = build.status is BuildStatus.QUEUED
    return {
        "event": event,
        "build": _build(build),
        "repository": {
            "id": build.repository_id,
            "provider": repo.get("provider"),
            "owner": repo.get("owner"),
            "name": repo.get("name"),
            "full_name": f"{repo.get('owner')}/{repo.get('name')}",
            "github_repo_id": repo.get("github_repo_id"),
            "gitlab_project_id": repo.get("gitlab_project_id"),
        },
        "trigger": build.trigger.to_json(),
        "steps": [] if queued else [_step(s) for s in _rows(db, "steps", build.id, "idx")],
        "artifacts": (
            [] if queued else [_artifact(a) for a in _rows(db, "artifacts", build.id, "name")]
        ),
    }


def _build(build: Build) -> dict[str, Any]:
    return {
        "id": build.id,
        "number": build.number,
        "workflow": build.workflow,
        "status": str(build.status),
        "attempt": build.attempt,
        "created_at": build.created_at,
        "started_at": build.started_at,
        "finished_at": build.finished_at,
        "duration_seconds": seconds_between(build.started_at, build.finished_at),
        "error": build.error,
        "path": f"/builds/{build.id}",
    }


def _rows(db: Database, table: str, build_id: str, order: str) -> list[dict[str, Any]]:
    return rows.dicts(
        db.execute(f"SELECT * FROM {table} WHERE build_id = ? ORDER BY {order}", [build_id])
    )


def _step(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": row["idx"],
        "name": row["name"],
        "kind": row.get("kind", "script"),
        "status": row["status"],
        "duration_seconds": seconds_between(row["started_at"], row["finished_at"]),
        "exit_code": row["exit_code"],
    }


def _artifact(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "size": row["size"],
        "sha256": row["sha256"],
        "path": f"/api/artifacts/{row['id']}",
    }


def seconds_between(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    begun = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    ended = dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
    return max(0.0, (ended - begun).total_seconds())
