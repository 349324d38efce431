"""How domain objects look in the API: one function per type, used by every endpoint."""

from __future__ import annotations

import base64
import json
from typing import Any

from oore.model import ApiToken, Build, Repository, WebhookEvent


def repository(repo: Repository) -> dict[str, Any]:
    return {
        "id": repo.id,
        "provider": str(repo.provider),
        "owner": repo.owner,
        "name": repo.name,
        "full_name": repo.full_name,
        "clone_url": repo.clone_url,
        "default_branch": repo.default_branch,
        "active": repo.active,
        "github_repo_id": repo.github_repo_id,
        "github_installation_id": repo.github_installation_id,
        "gitlab_project_id": repo.gitlab_project_id,
        "badge_public": repo.badge_public,
        "has_webhook_secret": repo.has_webhook_secret,
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
        "trigger": ev.trigger,
        "builds": [build_summary(b) for b in builds],
    }


def build_summary(b: Build) -> dict[str, Any]:
    return {
        "id": b.id,
        "repository_id": b.repository_id,
        "number": b.number,
        "workflow": b.workflow,
        "status": str(b.status),
        "created_at": b.created_at,
    }


def _payload(body: bytes) -> Any:
    # Stored verbatim for replay; shown as JSON when it is JSON, else as base64 so nothing is lost.
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"base64": base64.b64encode(body).decode()}
