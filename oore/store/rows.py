"""Conversion between SQLite rows (dicts) and domain dataclasses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from oore.model import (
    ApiToken,
    Artifact,
    Build,
    BuildStatus,
    DeliveryRecord,
    DeliveryState,
    EventState,
    Provider,
    Repository,
    Step,
    StepStatus,
    TokenScope,
    Trigger,
    WebhookEvent,
    WebSession,
    WorkflowMatch,
)

T = TypeVar("T")


def dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def newest_first(
    db: Any,
    table: str,
    equals: dict[str, Any],
    cursor: str | None,
    limit: int,
    convert: Callable[[dict[str, Any]], T],
) -> tuple[list[T], str | None]:
    """One page of `table` newest first (ULIDs sort by time), filtered on equal columns.

    `equals` keys are column names or SQL expressions; a None value means no filter. The cursor
    is the id of the last item of the previous page.
    """
    clauses = [f"{column} = ?" for column, value in equals.items() if value is not None]
    params = [str(value) for value in equals.values() if value is not None]
    if cursor:
        clauses.append("id < ?")
        params.append(cursor)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT * FROM {table}{where} ORDER BY id DESC LIMIT ?"
    found = [convert(r) for r in dicts(db.execute(sql, [*params, limit + 1]))]
    items = found[:limit]
    last = getattr(items[-1], "id", None) if len(found) > limit and items else None
    return items, last


REPOSITORY_COLUMNS = (
    "id, provider, owner, name, clone_url, default_branch, active, github_repo_id,"
    " github_installation_id, gitlab_project_id, badge_public, allow_fork_secrets,"
    " created_at, updated_at,"
    " (webhook_secret_sealed IS NOT NULL OR webhook_token_hmac IS NOT NULL) AS has_webhook_secret"
)


def repository(row: dict[str, Any]) -> Repository:
    return Repository(
        id=row["id"],
        provider=Provider(row["provider"]),
        owner=row["owner"],
        name=row["name"],
        clone_url=row["clone_url"],
        default_branch=row["default_branch"],
        active=bool(row["active"]),
        github_repo_id=row["github_repo_id"],
        github_installation_id=row["github_installation_id"],
        gitlab_project_id=row["gitlab_project_id"],
        badge_public=bool(row["badge_public"]),
        has_webhook_secret=bool(row["has_webhook_secret"]),
        allow_fork_secrets=bool(row["allow_fork_secrets"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def repository_row(repo: Repository) -> dict[str, Any]:
    return {
        "id": repo.id,
        "provider": str(repo.provider),
        "owner": repo.owner,
        "name": repo.name,
        "clone_url": repo.clone_url,
        "default_branch": repo.default_branch,
        "active": int(repo.active),
        "github_repo_id": repo.github_repo_id,
        "github_installation_id": repo.github_installation_id,
        "gitlab_project_id": repo.gitlab_project_id,
        "badge_public": int(repo.badge_public),
        "allow_fork_secrets": int(repo.allow_fork_secrets),
        "created_at": repo.created_at,
        "updated_at": repo.updated_at,
    }


def event(row: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(
        id=row["id"],
        provider=Provider(row["provider"]),
        event_type=row["event_type"],
        delivery_id=row["delivery_id"],
        received_at=row["received_at"],
        state=EventState(row["state"]),
        repository_id=row["repository_id"],
        headers=json.loads(row["headers"]),
        body=bytes(row["body"]),
        reason=row["reason"],
        processed_at=row["processed_at"],
        trigger=_trigger(row["trigger"]) if row["trigger"] else None,
        workflows=_workflows(row.get("workflows")),
    )


def event_row(ev: WebhookEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "provider": str(ev.provider),
        "event_type": ev.event_type,
        "delivery_id": ev.delivery_id,
        "repository_id": ev.repository_id,
        "headers": json.dumps(ev.headers),
        "body": ev.body,
        "state": str(ev.state),
        "reason": ev.reason,
        "trigger": json.dumps(ev.trigger.to_json()) if ev.trigger is not None else None,
        "received_at": ev.received_at,
        "processed_at": ev.processed_at,
        "workflows": workflows_json(ev.workflows),
    }


def workflows_json(found: tuple[WorkflowMatch, ...]) -> str | None:
    return json.dumps([w.to_json() for w in found]) if found else None


def _workflows(text: str | None) -> tuple[WorkflowMatch, ...]:
    return tuple(WorkflowMatch(**w) for w in json.loads(text)) if text else ()


def _trigger(text: str) -> Trigger:
    return Trigger.from_json(json.loads(text))


def token(row: dict[str, Any]) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        scope=TokenScope(row["scope"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def web_session(row: dict[str, Any]) -> WebSession:
    return WebSession(
        id_hash=row["id_hash"],
        token_id=row["token_id"],
        token_hash=row["token_hash"],
        token_name=row["token_name"] or "admin",
        scope=TokenScope(row["scope"]),
        csrf_secret=row["csrf_secret"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_seen_at=row["last_seen_at"],
    )


def build(row: dict[str, Any]) -> Build:
    return Build(
        id=row["id"],
        repository_id=row["repository_id"],
        number=row["number"],
        workflow=row["workflow"],
        status=BuildStatus(row["status"]),
        trigger=_trigger(row["trigger"]),
        created_at=row["created_at"],
        attempt=row["attempt"],
        retry_of=row["retry_of"],
        event_id=row["event_id"],
        queue_reason=row["queue_reason"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        project_build_number=row["project_build_number"],
        inputs=json.loads(row["inputs"]),
        extra_env=json.loads(row["extra_env"]),
        process_group=row["process_group"],
        workspace=row["workspace"],
        recovered=bool(row["recovered"]),
        cancelled_by=row.get("cancelled_by"),
        cancelled_by_number=row.get("cancelled_by_number"),
        log_expired_at=row.get("log_expired_at"),
        artifacts_expired_at=row.get("artifacts_expired_at"),
        notify=json.loads(row.get("notify") or "{}"),
    )


def build_row(b: Build) -> dict[str, Any]:
    return {
        "id": b.id,
        "repository_id": b.repository_id,
        "number": b.number,
        "workflow": b.workflow,
        "status": str(b.status),
        "trigger": json.dumps(b.trigger.to_json()),
        "event_id": b.event_id,
        "attempt": b.attempt,
        "retry_of": b.retry_of,
        "queue_reason": b.queue_reason,
        "error": b.error,
        "created_at": b.created_at,
        "started_at": b.started_at,
        "finished_at": b.finished_at,
        "project_build_number": b.project_build_number,
        "inputs": json.dumps(b.inputs),
        "extra_env": json.dumps(b.extra_env),
        "process_group": b.process_group,
        "workspace": b.workspace,
        "recovered": int(b.recovered),
        "cancelled_by": b.cancelled_by,
        "cancelled_by_number": b.cancelled_by_number,
        "notify": json.dumps(b.notify),
    }


def step(row: dict[str, Any]) -> Step:
    return Step(
        id=row["id"],
        build_id=row["build_id"],
        index=row["idx"],
        name=row["name"],
        status=StepStatus(row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        exit_code=row["exit_code"],
        kind=row["kind"],
        error=row["error"],
    )


def step_row(s: Step) -> dict[str, Any]:
    return {
        "id": s.id,
        "build_id": s.build_id,
        "idx": s.index,
        "name": s.name,
        "status": str(s.status),
        "exit_code": s.exit_code,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "kind": s.kind,
        "error": s.error,
    }


def artifact(row: dict[str, Any]) -> Artifact:
    return Artifact(**{k: row[k] for k in Artifact.__slots__})


def delivery(row: dict[str, Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row["id"],
        build_id=row["build_id"],
        kind=row["kind"],
        target=row["target"],
        event=row["event"],
        payload=json.loads(row["payload"]),
        idempotency_key=row["idempotency_key"],
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        last_error=row["last_error"],
        ref=row["ref"],
        delivered_at=row["delivered_at"],
        retry_since=row["retry_since"],
        chain_ref=row.get("chain_ref"),
    )
