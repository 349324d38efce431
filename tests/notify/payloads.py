"""Deliveries shaped as the outbox makes them (oore.store.outbox: the build report snapshot)."""

from __future__ import annotations

from typing import Any

from oore.model import Repository
from oore.notify.base import Delivery

SHA = "3f2a9c1e" + "0" * 32
BASE_URL = "http://oore.test:8080"
BUILD_ID = "01JBUILD0000000000000000AA"
STEPS = [
    {"index": 0, "name": "Get packages", "kind": "script", "status": "succeeded",
     "duration_seconds": 4.25, "exit_code": 0},
    {"index": 1, "name": "Build | APK", "kind": "script", "status": "failed",
     "duration_seconds": 125.0, "exit_code": 1},
]  # fmt: skip
FINISHED = {"succeeded", "failed", "cancelled", "timed_out", "skipped", "errored"}


def report(repo: Repository, event: str, **build: Any) -> dict[str, Any]:
    finished = event in FINISHED
    return {
        "event": event,
        "build": {
            "id": BUILD_ID,
            "number": 12,
            "workflow": "android",
            "status": "running" if event == "started" else event,
            "attempt": 1,
            "created_at": "2026-12-04T10:00:00.000Z",
            "started_at": None if event == "queued" else "2026-12-04T10:00:01.000Z",
            "finished_at": "2026-12-04T10:02:11.000Z" if finished else None,
            "duration_seconds": 130.0 if finished else None,
            "error": None,
            "path": f"/builds/{BUILD_ID}",
        }
        | build,
        "repository": {
            "id": repo.id,
            "provider": str(repo.provider),
            "owner": repo.owner,
            "name": repo.name,
            "full_name": f"{repo.owner}/{repo.name}",
            "github_repo_id": repo.github_repo_id,
            "gitlab_project_id": repo.gitlab_project_id,
        },
        "trigger": {
            "provider": str(repo.provider),
            "kind": "push",
            "repo_owner": repo.owner,
            "repo_name": repo.name,
            "sha": SHA,
            "branch": "main",
            "author": "alice",
            "message": "Fix <the> crash\n\nlong text",
        },
        "steps": STEPS if event != "queued" else [],
        "artifacts": (
            [
                {
                    "id": "01ART",
                    "name": "app.apk",
                    "size": 10,
                    "sha256": "0" * 64,
                    "path": "/api/artifacts/01ART",
                }
            ]
            if finished
            else []
        ),
        "to": {},
    }


def delivery(
    repo: Repository,
    kind: str,
    event: str,
    *,
    target: str = "github",
    chain_ref: str | None = None,
    to: dict[str, Any] | None = None,
) -> Delivery:
    payload = report(repo, event) | {"to": to or {}}
    return Delivery(
        id=f"01DEL{event.upper()}",
        kind=kind,
        target=target,
        build_id=BUILD_ID,
        event=event,
        payload=payload,
        idempotency_key=f"{BUILD_ID}:{kind}:{target}:{event}",
        chain_ref=chain_ref,
    )
