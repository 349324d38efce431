"""Rows for store tests, and `Witness`: what a subscriber to the store's changes could read back
at the very instant a change is published."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from oore.ids import first_id_at, new_id
from oore.model import (
    Build,
    Provider,
    Repository,
    Trigger,
    TriggerKind,
    WebhookEvent,
    utcnow,
)
from oore.store.base import RepositorySecrets
from oore.store.changes import Change
from oore.store.sqlite import SqliteStore

NO_SECRETS = RepositorySecrets(None, None)
SHA = "a" * 40


def make_repo(name: str = "app", github_id: int | None = 42) -> Repository:
    now = utcnow()
    return Repository(
        id=new_id(),
        provider=Provider.GITHUB,
        owner="acme",
        name=name,
        clone_url=f"file:///srv/{name}.git",
        github_repo_id=github_id,
        created_at=now,
        updated_at=now,
    )


def make_event(delivery: str, provider: Provider = Provider.GITHUB) -> WebhookEvent:
    return WebhookEvent(
        id=new_id(),
        provider=provider,
        event_type="push",
        delivery_id=delivery,
        received_at=utcnow(),
        headers={"x-github-event": "push"},
        body=b'{"ref": "refs/heads/main"}',
    )


def make_trigger(branch: str | None = "main", **fields: Any) -> Trigger:
    return Trigger(Provider.GITHUB, TriggerKind.PUSH, "acme", "app", SHA, branch=branch, **fields)


def make_build(
    repo: Repository,
    workflow: str = "default",
    event_id: str | None = None,
    trigger: Trigger | None = None,
) -> Build:
    return Build.queued(repo.id, workflow, trigger or make_trigger(), event_id)


class Witness:
    """Each change the store publishes, with the row it is about as a connection of its own reads
    it at that instant: a change published before its write commits would find the old row."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.seen: list[tuple[Change, Any]] = []

    def __call__(self, change: Change) -> bool:
        # Called inside `publish` (a subscription's filter), so nothing can commit in between.
        conn = sqlite3.connect(self.path)
        try:
            self.seen.append((change, _row_of(conn, change)))
        finally:
            conn.close()
        return True

    @property
    def kinds(self) -> list[str]:
        return [str(change.kind) for change, _ in self.seen]


@contextmanager
def witness(store: SqliteStore) -> Iterator[Witness]:
    seen = Witness(str(store.engine.path))
    with store.changes.subscribe(buffer=1000, accept=seen):
        yield seen


def _row_of(conn: sqlite3.Connection, change: Change) -> Any:
    if change.build is not None:
        return _one(conn, "SELECT status FROM builds WHERE id = ?", change.build.id)
    if change.step is not None:
        return _one(conn, "SELECT status FROM steps WHERE id = ?", change.step.id)
    if change.queue is not None:
        return {
            build_id: _one(conn, "SELECT queue_reason FROM builds WHERE id = ?", build_id)
            for build_id in change.queue
        }
    return _one(conn, "SELECT default_branch FROM repositories WHERE id = ?", change.repository_id)


def _one(conn: sqlite3.Connection, sql: str, key: str | None) -> Any:
    row = conn.execute(sql, [key]).fetchone()
    return row[0] if row else None


def made_deliveries_at(db: Any, when: str, where: str, *args: object) -> None:
    """Give the deliveries matching `where` ids made at ISO time `when`, in their order: an id
    says when a delivery was made, so one backdated by its times alone would not look old."""
    ids = [
        row[0] for row in db.execute(f"SELECT id FROM deliveries WHERE {where} ORDER BY id", args)
    ]
    prefix = first_id_at(when)[:10]
    for number, old in enumerate(ids):
        db.execute("UPDATE deliveries SET id = ? WHERE id = ?", [f"{prefix}{number:016d}", old])
