"""How domain objects look in the API: one function per type, used by every endpoint."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from oore.git.names import shown_clone_url
from oore.model import ApiToken, Artifact, Build, Repository, Step, WebhookEvent


def repository(repo: Repository) -> dict[str, Any]:
    return {
        "id": repo.id,
        "provider": str(repo.provider),
        "owner": repo.owner,
        "name": repo.name,
        "full_name": repo.full_name,
        "clone_url": shown_clone_url(repo.clone_url),
        "default_branch": repo.default_branch,
        "active": repo.active,
        "github_repo_id": repo.github_repo_id,
        "github_installation_id": repo.github_installation_id,
        "gitlab_project_id": repo.gitlab_project_id,
        "badge_public": repo.badge_public,
        "has_webhook_secret": repo.has_webhook_secret,
        "allow_fork_secrets": repo.allow_fork_secrets,
        "created_at": repo.created_at,
        "updated_at": repo.updated_at,
    }


def token(tok: ApiToken) -> dict[str, Any]:
    return {
        "id": tok.id,
        "name": tok.name,
        "scope": str(tok.scope),
        "created_at": tok.created_at,
        "last_used_at": tok.last_used_at,
        "revoked_at": tok.revoked_at,
    }


def event_summary(ev: WebhookEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "provider": str(ev.provider),
        "event_type": ev.event_type,
        "delivery_id": ev.delivery_id,
        "repository_id": ev.repository_id,
        "state": str(ev.state),
        "reason": ev.reason,
        "received_at": ev.received_at,
        "processed_at": ev.processed_at,
    }


def event_detail(ev: WebhookEvent, builds: list[Build]) -> dict[str, Any]:
    return {
        **event_summary(ev),
        "headers": ev.headers,
        "payload": _payload(ev.body),
        "size": len(ev.body),
        "trigger": ev.trigger.to_json() if ev.trigger is not None else None,
        "workflows": [w.to_json() for w in ev.workflows],
        "builds": [build_summary(b) for b in builds],
    }


def build_summary(b: Build) -> dict[str, Any]:
    return {
        "id": b.id,
        "repository_id": b.repository_id,
        "number": b.number,
        "project_build_number": b.project_build_number,
        "workflow": b.workflow,
        "status": str(b.status),
        "branch": b.trigger.branch,
        "tag": b.trigger.tag,
        "sha": b.trigger.sha,
        "kind": str(b.trigger.kind),
        "pr_number": b.trigger.pr_number,
        "attempt": b.attempt,
        "retry_of": b.retry_of,
        "queue_reason": b.queue_reason,
        "reason": b.error,
        "cancelled_by": _cancelled_by(b),
        "created_at": b.created_at,
        "started_at": b.started_at,
        "finished_at": b.finished_at,
        "duration_seconds": _seconds(b.started_at, b.finished_at),
    }


def build_detail(b: Build, steps: list[Step], queue_position: int | None) -> dict[str, Any]:
    return {
        **build_summary(b),
        "trigger": b.trigger.to_json(),
        "event_id": b.event_id,
        "inputs": b.inputs,
        "env_names": sorted(b.extra_env),
        "queue_position": queue_position,
        "steps": [step(s) for s in steps],
        # When retention removed its log / its artifacts (None: still kept).
        "log_expired_at": b.log_expired_at,
        "artifacts_expired_at": b.artifacts_expired_at,
    }


def step(s: Step) -> dict[str, Any]:
    return {
        "index": s.index,
        "number": s.index + 1,  # as the log's step headers number it ("==> [1] name")
        "name": s.name,
        "kind": s.kind,
        "status": str(s.status),
        "exit_code": s.exit_code,
        "reason": s.error,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "duration_seconds": _seconds(s.started_at, s.finished_at),
    }


def artifact(a: Artifact, base_url: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "build_id": a.build_id,
        "name": a.name,
        "size": a.size,
        "sha256": a.sha256,
        "content_type": a.content_type,
        "created_at": a.created_at,
        "url": f"{base_url}/api/artifacts/{a.id}",
    }


def _cancelled_by(b: Build) -> dict[str, Any] | None:
    if b.cancelled_by is None:
        return None
    return {"id": b.cancelled_by, "number": b.cancelled_by_number}


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = dt.datetime.fromisoformat
    delta = parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
    return round(delta.total_seconds(), 3)


def _payload(body: bytes) -> Any:
    # Stored verbatim for replay; shown as JSON when it is JSON, else as base64 so nothing is lost.
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"base64": base64.b64encode(body).decode()}
